//! The queues' MANIFEST: every queue with its id, attributes and tags (see
//! `FORMAT.md`). Replaced atomically through the file-system seam.

use crate::attributes::QueueAttributes;
use crate::error::Result;
use crate::types::QueueName;
use serde::{Deserialize, Serialize};
use shardlog_segment::io::{load_json_manifest, store_json_manifest, FileSystem, JsonManifest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const VERSION: u32 = 1;
/// The manifest's file name inside the queues directory.
pub const MANIFEST_NAME: &str = "MANIFEST";

/// One queue as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecord {
    /// Never reused: names the queue's directory and its receipt handles.
    pub id: u64,
    /// The name.
    pub name: QueueName,
    /// Creation time (ms).
    pub created_ms: u64,
    /// Time of the last change of attributes (ms); 0 in manifests written before
    /// it was recorded, read as the creation time.
    #[serde(default)]
    pub modified_ms: u64,
    /// Attributes.
    pub attributes: QueueAttributes,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl QueueRecord {
    /// The queue's directory under the queues directory.
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(format!("{}-{}", self.id, self.name))
    }
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// Id of the next queue created.
    pub next_id: u64,
    /// Every queue.
    pub queues: Vec<QueueRecord>,
    /// Message move tasks, oldest first (the newest few per source queue).
    #[serde(default)]
    pub move_tasks: Vec<crate::move_task::MoveTask>,
    /// Id of the next move task (0 in manifests written before tasks: read as 1).
    #[serde(default)]
    pub next_task_id: u64,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            version: VERSION,
            next_id: 1,
            queues: Vec::new(),
            move_tasks: Vec::new(),
            next_task_id: 1,
        }
    }
}

impl JsonManifest for Manifest {
    const VERSION: u32 = VERSION;
    const ENTRIES: &'static str = "queue";
    fn version(&self) -> u32 {
        self.version
    }
}

/// Reads the manifest in `root`. A missing manifest beside queue directories is
/// an error (they would otherwise be forgotten); in an empty or new directory it
/// is an empty manifest.
pub fn load(fs: &dyn FileSystem, root: &Path) -> Result<Manifest> {
    Ok(load_json_manifest(fs, root, MANIFEST_NAME)?)
}

/// Replaces the manifest in `root` atomically.
pub fn store(fs: &dyn FileSystem, root: &Path, manifest: &Manifest) -> Result<()> {
    Ok(store_json_manifest(fs, root, MANIFEST_NAME, manifest)?)
}

#[cfg(test)]
mod golden {
    use super::*;
    use crate::attributes::DeduplicationScope;

    /// A version 1 MANIFEST as written by this version stays readable.
    #[test]
    fn version_1_manifest_reads() {
        let manifest: Manifest = serde_json::from_str(GOLDEN).unwrap();
        assert_eq!(manifest.next_id, 3);
        let fifo = &manifest.queues[1];
        assert_eq!((fifo.id, fifo.name.as_str()), (2, "orders.fifo"));
        assert_eq!(
            fifo.attributes.deduplication_scope,
            DeduplicationScope::MessageGroup
        );
        let redrive = manifest.queues[0].attributes.redrive.as_ref().unwrap();
        assert_eq!(
            (
                redrive.dead_letter_queue.as_str(),
                redrive.max_receive_count
            ),
            ("dlq", 5)
        );
        assert_eq!(manifest.queues[0].tags["team"], "core");
        // Written before modified_ms and policy existed: both read as absent.
        assert_eq!(manifest.queues[0].modified_ms, 0);
        assert_eq!(manifest.queues[0].attributes.policy, None);
        let again: Manifest =
            serde_json::from_slice(&serde_json::to_vec(&manifest).unwrap()).unwrap();
        assert_eq!(again, manifest);
    }

    const GOLDEN: &str = r#"{
      "version": 1,
      "next_id": 3,
      "queues": [
        { "id": 1, "name": "work", "created_ms": 1700000000000,
          "attributes": { "visibility_timeout_s": 30, "message_retention_s": 345600, "delay_s": 0,
            "maximum_message_bytes": 1048576, "receive_wait_s": 0,
            "redrive": { "dead_letter_queue": "dlq", "max_receive_count": 5 },
            "content_based_deduplication": false, "deduplication_scope": "Queue",
            "fifo_throughput_limit": "PerQueue" },
          "tags": { "team": "core" } },
        { "id": 2, "name": "orders.fifo", "created_ms": 1700000000001,
          "attributes": { "visibility_timeout_s": 60, "message_retention_s": 60, "delay_s": 5,
            "maximum_message_bytes": 1024, "receive_wait_s": 20, "redrive": null,
            "content_based_deduplication": true, "deduplication_scope": "MessageGroup",
            "fifo_throughput_limit": "PerMessageGroupId" },
          "tags": {} }
      ]
    }"#;
}

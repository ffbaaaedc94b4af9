//! The topics' MANIFEST: every topic with its id, attributes, tags and
//! subscriptions (see `FORMAT.md`). Replaced atomically through the file-system seam.

use crate::error::Result;
use crate::types::{Endpoint, SubscriptionId, TopicName};
use serde::{Deserialize, Serialize};
use shardlog_segment::io::{load_json_manifest, store_json_manifest, FileSystem, JsonManifest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const VERSION: u32 = 1;
/// The manifest's file name inside the topics directory.
pub const MANIFEST_NAME: &str = "MANIFEST";

/// A topic's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TopicAttributes {
    /// FIFO: a message's deduplication id defaults to the SHA-256 of its body.
    pub content_based_deduplication: bool,
    /// The HTTP(S) delivery policy (validated JSON), if set.
    #[serde(default)]
    pub delivery_policy: Option<String>,
    /// Everything else, kept as set for the server, which gives it meaning.
    pub kept: BTreeMap<String, String>,
}

/// A subscription's filter policy as set (validated JSON) and its scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterSpec {
    /// The policy.
    pub policy: String,
    /// Whether its keys name the body's keys (else the message attributes).
    pub body_scope: bool,
}

/// One subscription as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// Its id.
    pub id: SubscriptionId,
    /// Where it delivers.
    pub endpoint: Endpoint,
    /// Its attributes, kept as set for the server, which gives them meaning.
    pub attributes: BTreeMap<String, String>,
    /// Its filter policy, if any.
    #[serde(default)]
    pub filter: Option<FilterSpec>,
    /// Its HTTP(S) delivery policy (validated JSON), if any.
    #[serde(default)]
    pub delivery_policy: Option<String>,
    /// While unconfirmed: the token that confirms it.
    pub pending_token: Option<String>,
    /// Creation time (ms).
    pub created_ms: u64,
}

impl SubscriptionRecord {
    /// Whether it is confirmed (and so delivered to).
    pub fn is_confirmed(&self) -> bool {
        self.pending_token.is_none()
    }
}

/// One topic as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// Never reused: names the topic's directory.
    pub id: u64,
    /// The name.
    pub name: TopicName,
    /// Creation time (ms).
    pub created_ms: u64,
    /// Attributes.
    pub attributes: TopicAttributes,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Subscriptions, confirmed or pending.
    pub subscriptions: Vec<SubscriptionRecord>,
}

impl TopicRecord {
    /// The topic's directory under the topics directory.
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(format!("{}-{}", self.id, self.name))
    }
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// Id of the next topic created.
    pub next_id: u64,
    /// Every topic.
    pub topics: Vec<TopicRecord>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            version: VERSION,
            next_id: 1,
            topics: Vec::new(),
        }
    }
}

impl JsonManifest for Manifest {
    const VERSION: u32 = VERSION;
    const ENTRIES: &'static str = "topic";
    fn version(&self) -> u32 {
        self.version
    }
}

/// Reads the manifest in `root`. A missing manifest beside topic directories is
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
    use crate::types::Protocol;

    /// A version 1 MANIFEST as written by this version stays readable.
    #[test]
    fn version_1_manifest_reads() {
        let manifest: Manifest = serde_json::from_str(GOLDEN).unwrap();
        assert_eq!(manifest.next_id, 3);
        let fifo = &manifest.topics[1];
        assert_eq!((fifo.id, fifo.name.as_str()), (2, "orders.fifo"));
        assert!(fifo.attributes.content_based_deduplication);
        let sub = &manifest.topics[0].subscriptions[0];
        assert_eq!(sub.endpoint.protocol, Protocol::Http);
        assert!(!sub.is_confirmed());
        assert_eq!(sub.attributes["RawMessageDelivery"], "true");
        let again: Manifest =
            serde_json::from_slice(&serde_json::to_vec(&manifest).unwrap()).unwrap();
        assert_eq!(again, manifest);
    }

    const GOLDEN: &str = r#"{
      "version": 1,
      "next_id": 3,
      "topics": [
        { "id": 1, "name": "news", "created_ms": 1700000000000,
          "attributes": { "content_based_deduplication": false, "kept": { "DisplayName": "N" } },
          "tags": { "team": "core" },
          "subscriptions": [
            { "id": "0b0c4ae5-2d1e-4f6c-9d52-3f3c1d8a9e11",
              "endpoint": { "protocol": "Http", "address": "http://127.0.0.1:9/n" },
              "attributes": { "RawMessageDelivery": "true" },
              "pending_token": "abc", "created_ms": 1700000000001 } ] },
        { "id": 2, "name": "orders.fifo", "created_ms": 1700000000002,
          "attributes": { "content_based_deduplication": true, "kept": {} },
          "tags": {}, "subscriptions": [] }
      ]
    }"#;
}

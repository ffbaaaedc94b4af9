//! The delivered position of a delivery stream, `checkpoint.json`, replaced
//! atomically: per source partition (the staging log, or a Kinesis shard) the
//! last position that is durable at the destination, and the range of the flush
//! in progress, if any.
//!
//! A flush first records its range as `pending`, then writes its objects, then
//! moves `delivered` to the range's end. After a crash a pending range is
//! delivered again, to the same keys (the flush's name is kept with its range),
//! before anything else.

use crate::error::{Error, Result};
use crate::files::write_atomic;
use crate::objects::FlushName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Partition → last position (inclusive).
pub type Positions = BTreeMap<String, u128>;

/// What is delivered and what is being delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Last delivered position of each partition; absent: nothing yet.
    pub delivered: Positions,
    /// The last position of each partition of the flush in progress.
    pub pending: Option<Positions>,
    /// What names the objects of the flush in progress (set with `pending`;
    /// absent in checkpoints written before it was kept).
    pub pending_name: Option<FlushName>,
}

/// The file form: positions as decimal strings (Kinesis sequence numbers do not
/// fit JSON numbers).
#[derive(Serialize, Deserialize)]
struct Stored {
    delivered: BTreeMap<String, String>,
    pending: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_name: Option<FlushName>,
}

fn to_text(positions: &Positions) -> BTreeMap<String, String> {
    positions
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

fn from_text(path: &Path, text: BTreeMap<String, String>) -> Result<Positions> {
    text.into_iter()
        .map(|(k, v)| match v.parse::<u128>() {
            Ok(v) => Ok((k, v)),
            Err(_) => Err(Error::Corrupt {
                path: path.to_path_buf(),
                cause: format!("position '{v}' of '{k}' is not a number"),
            }),
        })
        .collect()
}

/// A checkpoint file.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// The checkpoint at `path`.
    pub fn new(path: PathBuf) -> CheckpointFile {
        CheckpointFile { path }
    }

    /// Reads it; a missing file is an empty checkpoint.
    pub fn load(&self) -> Result<Checkpoint> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Checkpoint::default())
            }
            Err(error) => return Err(crate::error::io_err("read", &self.path)(error)),
        };
        let stored: Stored = serde_json::from_slice(&bytes).map_err(|error| Error::Corrupt {
            path: self.path.clone(),
            cause: error.to_string(),
        })?;
        Ok(Checkpoint {
            delivered: from_text(&self.path, stored.delivered)?,
            pending: stored
                .pending
                .map(|p| from_text(&self.path, p))
                .transpose()?,
            pending_name: stored.pending_name,
        })
    }

    /// Replaces it durably.
    pub fn save(&self, checkpoint: &Checkpoint) -> Result<()> {
        let stored = Stored {
            delivered: to_text(&checkpoint.delivered),
            pending: checkpoint.pending.as_ref().map(to_text),
            pending_name: checkpoint.pending_name.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&stored).expect("maps of strings serialize");
        write_atomic(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    //! Checkpoint files.
    use super::*;

    /// A saved checkpoint loads back equal, with positions beyond u64.
    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::new(dir.path().join("checkpoint.json"));
        assert_eq!(file.load().unwrap(), Checkpoint::default());
        let checkpoint = Checkpoint {
            delivered: [("shardId-000000000000".to_string(), u128::MAX - 1)].into(),
            pending: Some([("staging".to_string(), 9)].into()),
            pending_name: Some(FlushName {
                id: "4d9b0b4e-5bb1-5c55-1c1e-0fbd41a4ccd2".into(),
                time_ms: 1_709_251_198_500,
            }),
        };
        file.save(&checkpoint).unwrap();
        assert_eq!(file.load().unwrap(), checkpoint);
        // A checkpoint of a version that kept no flush name still loads.
        std::fs::write(
            dir.path().join("checkpoint.json"),
            br#"{"delivered": {"staging": "3"}, "pending": {"staging": "9"}}"#,
        )
        .unwrap();
        let old = file.load().unwrap();
        assert_eq!(old.pending, checkpoint.pending);
        assert_eq!(old.pending_name, None);
        std::fs::write(dir.path().join("checkpoint.json"), b"{").unwrap();
        assert!(matches!(file.load(), Err(Error::Corrupt { .. })));
    }
}

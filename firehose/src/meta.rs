//! Durable delivery-stream metadata, `<data-dir>/firehose/<name>/meta.json`:
//! configuration, version, destination id, times, tags and the inferred schema.

use crate::config::DeliveryStreamConfig;
use crate::convert::Column;
use crate::error::{Error, Result};
use crate::files::write_atomic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The one destination's id (Firehose numbers destinations; there is one).
pub const DESTINATION_ID: &str = "destinationId-000000000001";

/// What survives a restart about a delivery stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// The configuration.
    pub config: DeliveryStreamConfig,
    /// Starts at 1; every UpdateDestination adds 1.
    pub version_id: u64,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Last update time, ms since the epoch.
    pub updated_ms: u64,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The schema inferred from the first converted buffer, when conversion has
    /// no declared columns (kept so that every later object has the same schema).
    pub inferred_columns: Option<Vec<Column>>,
}

impl StreamMeta {
    /// Reads `meta.json` from `dir`.
    pub fn load(dir: &Path) -> Result<StreamMeta> {
        let path = dir.join("meta.json");
        let bytes = std::fs::read(&path).map_err(crate::error::io_err("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|error| Error::Corrupt {
            path,
            cause: error.to_string(),
        })
    }

    /// Replaces `meta.json` in `dir` durably.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).expect("metadata serializes");
        write_atomic(&dir.join("meta.json"), &bytes)
    }
}

//! Durable metadata: streams, shards, hash ranges, lineage, retention, tags.
//!
//! One JSON document, `<data-dir>/MANIFEST`, replaced atomically on every change
//! (temporary file, fsync, rename, fsync of the directory) through the storage's
//! file-system seam. A CRC-32 of the document's bytes is stored beside them in the
//! file's first line so that a damaged manifest is an error, never half-read.

use serde::{Deserialize, Serialize};
use shardlog_segment::io::{read_file, write_file_atomic, FileSystem};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Current manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// The whole manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Streams by name.
    pub streams: BTreeMap<String, StreamMeta>,
    /// The newest `created_ms` any stream ever had, deleted ones included: a new
    /// stream gets a later one, so that iterators and files of a deleted stream of
    /// the same name can never be taken for the new stream's.
    #[serde(default)]
    pub last_created_ms: u64,
    /// Creation times of streams deleted within the last second or so, by name: a
    /// stream recreated under the name starts in a later second.
    #[serde(default)]
    pub deleted_created_ms: BTreeMap<String, u64>,
}

/// Capacity mode of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamMode {
    /// A fixed shard count, changed by resharding.
    Provisioned,
    /// Created with a default shard count (Kinesis scales these itself; here the
    /// count is fixed until resharded).
    OnDemand,
}

/// A stream's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// Stream name.
    pub name: String,
    /// Creation time, ms since the epoch; distinguishes a stream from an earlier,
    /// deleted one of the same name.
    pub created_ms: u64,
    /// Capacity mode.
    pub mode: StreamMode,
    /// Retention period in hours (24..=8760).
    pub retention_hours: u32,
    /// Largest record payload, in KiB (1024..=10240).
    pub record_kib_max: u32,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Index the next new shard gets.
    pub next_shard_index: u32,
    /// Every shard, open or closed, by index.
    pub shards: BTreeMap<u32, ShardMeta>,
    /// Registered (enhanced fan-out) consumers, by name.
    #[serde(default)]
    pub consumers: BTreeMap<String, ConsumerMeta>,
    /// Key compaction: sealed segments keep only the newest record per partition key.
    #[serde(default)]
    pub key_compaction: bool,
    /// Most bytes each shard retains; older sealed segments go beyond it.
    #[serde(default)]
    pub retention_bytes_max: Option<u64>,
    /// Shard-level metrics enabled with EnableEnhancedMonitoring.
    #[serde(default)]
    pub shard_level_metrics: std::collections::BTreeSet<String>,
}

/// A registered stream consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMeta {
    /// Consumer name.
    pub name: String,
    /// Registration time, ms since the epoch.
    pub created_ms: u64,
}

/// A shard's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// Index: the number in `shardId-000000000007`.
    pub index: u32,
    /// Creation time in seconds (part of every sequence number of the shard).
    pub created_secs: u64,
    /// First hash key, decimal.
    pub hash_start: String,
    /// Last hash key (inclusive), decimal.
    pub hash_end: String,
    /// Parent shard, after a split or a merge.
    pub parent: Option<u32>,
    /// The other parent, after a merge.
    pub adjacent_parent: Option<u32>,
    /// Set when the shard was closed by resharding: the position after its last
    /// record. Writes go to its children from then on.
    pub closed_end_position: Option<crate::position::Position>,
    /// When it was closed, ms since the epoch.
    pub closed_ms: Option<u64>,
}

/// Reads the data directory's MANIFEST. A missing one is a new, empty data
/// directory only while `streams/` holds nothing; beside stream data it is an
/// error (loading it as empty would lose track of every stream).
pub fn load_data_dir(fs: &dyn FileSystem, data_dir: &Path) -> io::Result<Manifest> {
    let path = data_dir.join("MANIFEST");
    match read_file(fs, &path) {
        Err(error)
            if error.kind() == io::ErrorKind::NotFound
                && crate::layout::streams_hold_data(fs, data_dir) =>
        {
            Err(crate::layout::manifest_missing(data_dir, &error))
        }
        _ => load(fs, &path),
    }
}

/// Reads the manifest at `path`, or an empty one when there is no such file. Any
/// other failure to read it (permissions, I/O) is an error, never an empty manifest.
pub fn load(fs: &dyn FileSystem, path: &Path) -> io::Result<Manifest> {
    let bytes = match read_file(fs, path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok(Manifest {
                version: MANIFEST_VERSION,
                streams: BTreeMap::new(),
                last_created_ms: 0,
                deleted_created_ms: BTreeMap::new(),
            })
        }
        Err(error) => return Err(error),
    };
    let invalid = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("manifest {}: {why}", path.display()),
        )
    };
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| invalid("no checksum line".into()))?;
    let stored = std::str::from_utf8(&bytes[..newline])
        .ok()
        .and_then(|line| line.strip_prefix("crc32 "))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| invalid("bad checksum line".into()))?;
    let body = &bytes[newline + 1..];
    let actual = crc32(body);
    if stored != actual {
        return Err(invalid(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x})"
        )));
    }
    let manifest: Manifest =
        serde_json::from_slice(body).map_err(|error| invalid(error.to_string()))?;
    if manifest.version != MANIFEST_VERSION {
        return Err(invalid(format!(
            "version {} is not supported (this build reads {MANIFEST_VERSION})",
            manifest.version
        )));
    }
    Ok(manifest)
}

/// Writes the manifest atomically.
pub fn store(fs: &dyn FileSystem, path: &Path, manifest: &Manifest) -> io::Result<()> {
    let body = serde_json::to_vec_pretty(manifest)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    let mut bytes = format!("crc32 {:08x}\n", crc32(&body)).into_bytes();
    bytes.extend_from_slice(&body);
    write_file_atomic(fs, path, &bytes)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(bytes);
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    //! The manifest survives a round trip and refuses damaged bytes.
    use super::*;
    use shardlog_segment::io::{write_all_at, MemFs, OpenOptions};

    fn sample() -> Manifest {
        let mut streams = BTreeMap::new();
        let mut shards = BTreeMap::new();
        shards.insert(
            0,
            ShardMeta {
                index: 0,
                created_secs: 1_700_000_000,
                hash_start: "0".into(),
                hash_end: u128::MAX.to_string(),
                parent: None,
                adjacent_parent: None,
                closed_end_position: None,
                closed_ms: None,
            },
        );
        streams.insert(
            "orders".to_string(),
            StreamMeta {
                name: "orders".into(),
                created_ms: 1_700_000_000_123,
                mode: StreamMode::Provisioned,
                retention_hours: 24,
                record_kib_max: 1024,
                tags: BTreeMap::from([("team".to_string(), "ingest".to_string())]),
                next_shard_index: 1,
                shards,
                consumers: BTreeMap::new(),
                key_compaction: false,
                retention_bytes_max: None,
                shard_level_metrics: Default::default(),
            },
        );
        Manifest {
            version: MANIFEST_VERSION,
            streams,
            last_created_ms: 1_700_000_000_123,
            deleted_created_ms: BTreeMap::new(),
        }
    }

    /// What is stored loads back equal; a missing file is an empty manifest.
    #[test]
    fn round_trip_and_missing_file() {
        let fs = MemFs::new();
        let path = Path::new("/MANIFEST");
        assert!(load(fs.as_ref(), path).unwrap().streams.is_empty());
        store(fs.as_ref(), path, &sample()).unwrap();
        assert_eq!(load(fs.as_ref(), path).unwrap(), sample());
    }

    /// A flipped byte anywhere in the document is an error that names the file.
    #[test]
    fn damage_is_detected() {
        let fs = MemFs::new();
        let path = Path::new("/MANIFEST");
        store(fs.as_ref(), path, &sample()).unwrap();
        let bytes = read_file(fs.as_ref(), path).unwrap();
        for at in [20, bytes.len() / 2, bytes.len() - 2] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            let file = fs.open(path, OpenOptions::WRITE).unwrap();
            write_all_at(file.as_ref(), &damaged, 0).unwrap();
            let error = load(fs.as_ref(), path).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            assert!(error.to_string().contains("/MANIFEST"), "{error}");
        }
    }
}

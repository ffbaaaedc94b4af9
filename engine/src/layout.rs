//! What the data directory holds beside the MANIFEST: per-shard metadata files,
//! files the MANIFEST does not account for (orphans), and the rebuild of a lost
//! MANIFEST from the directory tree.
//!
//! ```text
//! <data-dir>/streams/<stream>/<created_ms>/<shard-id>/SHARD   the shard's ShardMeta (JSON, CRC line)
//! ```
//! A shard's `SHARD` file is written (atomically) when the shard is created and
//! again when resharding closes it, so that a MANIFEST that went missing can be
//! rebuilt with every shard's hash range and lineage. Nothing here deletes data:
//! orphans are reported at open and moved aside only by `repair`.

use crate::engine::RETENTION_HOURS_MIN;
use crate::manifest::{Manifest, ShardMeta, StreamMeta, StreamMode, MANIFEST_VERSION};
use crate::routing::even_ranges;
use shardlog_segment::io::{create_dir_all_durably, read_file, write_file_atomic, FileSystem};
use shardlog_segment::RecoveryReport;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Name of the per-shard metadata file.
pub const SHARD_FILE_NAME: &str = "SHARD";

fn invalid(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

/// Writes a shard's metadata file into its log directory.
fn store_shard_meta(fs: &dyn FileSystem, shard_dir: &Path, meta: &ShardMeta) -> io::Result<()> {
    // Durably: the shard's records are acknowledged into this directory.
    create_dir_all_durably(fs, shard_dir)?;
    let body = serde_json::to_vec(meta).map_err(|error| invalid(shard_dir, error))?;
    let mut bytes = format!("crc32 {:08x}\n", crc32fast::hash(&body)).into_bytes();
    bytes.extend_from_slice(&body);
    write_file_atomic(fs, &shard_dir.join(SHARD_FILE_NAME), &bytes)
}

/// Makes a shard's metadata file say `meta`, writing it only when it differs (so
/// that opening an engine does not rewrite every shard's file).
pub(crate) fn sync_shard_meta(
    fs: &dyn FileSystem,
    shard_dir: &Path,
    meta: &ShardMeta,
) -> io::Result<()> {
    match load_shard_meta(fs, shard_dir) {
        Ok(stored) if &stored == meta => Ok(()),
        _ => store_shard_meta(fs, shard_dir, meta),
    }
}

fn load_shard_meta(fs: &dyn FileSystem, shard_dir: &Path) -> io::Result<ShardMeta> {
    let path = shard_dir.join(SHARD_FILE_NAME);
    let bytes = read_file(fs, &path)?;
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| invalid(&path, "no checksum line"))?;
    let stored = std::str::from_utf8(&bytes[..newline])
        .ok()
        .and_then(|line| line.strip_prefix("crc32 "))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| invalid(&path, "bad checksum line"))?;
    let body = &bytes[newline + 1..];
    if crc32fast::hash(body) != stored {
        return Err(invalid(&path, "checksum mismatch"));
    }
    serde_json::from_slice(body).map_err(|error| invalid(&path, error))
}

/// Whether `<data-dir>/streams` holds anything: then a missing MANIFEST is lost
/// metadata, not a new data directory.
pub(crate) fn streams_hold_data(fs: &dyn FileSystem, data_dir: &Path) -> bool {
    fs.list_dir(&data_dir.join("streams"))
        .is_ok_and(|names| !names.is_empty())
}

/// The error for a data directory whose MANIFEST is gone while stream data is there.
pub(crate) fn manifest_missing(data_dir: &Path, cause: &io::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{} cannot be read ({cause}) but {} holds stream data; refusing to open, which would lose track of it. Restore the MANIFEST, or run `shardlog repair --data-dir {}` to rebuild it from the directory tree",
            data_dir.join("MANIFEST").display(),
            data_dir.join("streams").display(),
            data_dir.display()
        ),
    )
}

/// Directories under `streams/` that the manifest does not name: deleted streams
/// (a crash between DeleteStream's manifest write and its file removal) and
/// earlier incarnations of recreated ones.
pub fn orphans(fs: &dyn FileSystem, data_dir: &Path, manifest: &Manifest) -> Vec<PathBuf> {
    let streams_dir = data_dir.join("streams");
    let Ok(names) = fs.list_dir(&streams_dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for name in names {
        let stream_dir = streams_dir.join(&name);
        let current = manifest
            .streams
            .get(&name)
            .map(|meta| meta.created_ms.to_string());
        for epoch in fs.list_dir(&stream_dir).unwrap_or_default() {
            if current.as_deref() != Some(epoch.as_str()) && has_files(fs, &stream_dir.join(&epoch))
            {
                found.push(stream_dir.join(epoch));
            }
        }
    }
    found
}

fn has_files(fs: &dyn FileSystem, dir: &Path) -> bool {
    fs.list_dir(dir).is_ok_and(|names| {
        names.iter().any(|name| {
            let path = dir.join(name);
            fs.list_dir(&path).map_or(true, |_| has_files(fs, &path))
        })
    })
}

/// What rebuilding the MANIFEST found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Streams rebuilt, with their shard counts.
    pub streams: Vec<(String, usize)>,
    /// Stream directories that could not be rebuilt, and why (left in place).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Rebuilds a MANIFEST from the directory tree: for each stream, its newest
/// incarnation and every shard's `SHARD` file (for shards written before those
/// existed: the even hash ranges of a stream never resharded). Settings the tree
/// does not hold (retention, tags, consumers) take their defaults. Returns the
/// manifest; the caller stores it.
pub fn rebuild_manifest(
    fs: &dyn FileSystem,
    data_dir: &Path,
) -> io::Result<(Manifest, RebuildReport)> {
    let streams_dir = data_dir.join("streams");
    let mut manifest = Manifest {
        version: MANIFEST_VERSION,
        streams: BTreeMap::new(),
        last_created_ms: 0,
        deleted_created_ms: BTreeMap::new(),
    };
    let mut report = RebuildReport::default();
    for name in fs.list_dir(&streams_dir).unwrap_or_default() {
        let stream_dir = streams_dir.join(&name);
        let newest = fs
            .list_dir(&stream_dir)?
            .into_iter()
            .filter_map(|epoch| epoch.parse::<u64>().ok())
            .filter(|epoch| has_files(fs, &stream_dir.join(epoch.to_string())))
            .max();
        let Some(created_ms) = newest else {
            continue;
        };
        let epoch_dir = stream_dir.join(created_ms.to_string());
        match rebuild_stream(fs, &epoch_dir, &name, created_ms) {
            Ok(meta) => {
                report.streams.push((name.clone(), meta.shards.len()));
                manifest.last_created_ms = manifest.last_created_ms.max(created_ms);
                manifest.streams.insert(name, meta);
            }
            Err(error) => report.skipped.push((epoch_dir, error.to_string())),
        }
    }
    Ok((manifest, report))
}

fn rebuild_stream(
    fs: &dyn FileSystem,
    epoch_dir: &Path,
    name: &str,
    created_ms: u64,
) -> io::Result<StreamMeta> {
    let mut shards = BTreeMap::new();
    let mut without_meta = Vec::new();
    for entry in fs.list_dir(epoch_dir)? {
        let Some(index) = entry
            .strip_prefix("shardId-")
            .and_then(|digits| digits.parse::<u32>().ok())
        else {
            continue;
        };
        match load_shard_meta(fs, &epoch_dir.join(&entry)) {
            Ok(meta) => {
                shards.insert(index, meta);
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => without_meta.push(index),
            Err(error) => return Err(error),
        }
    }
    if !without_meta.is_empty() {
        // Written before SHARD files existed: rebuildable only as a stream that was
        // never resharded (shards 0..n with even ranges).
        let count = without_meta.len() as u32;
        let contiguous = shards.is_empty() && without_meta.iter().copied().eq(0..count);
        if !contiguous {
            return Err(invalid(
                epoch_dir,
                "shards without a SHARD file in a resharded stream: their hash ranges are unknown",
            ));
        }
        let ranges = even_ranges(count).map_err(|error| invalid(epoch_dir, error))?;
        for (index, range) in (0..count).zip(ranges) {
            shards.insert(
                index,
                crate::engine::new_shard_meta(index, created_ms / 1000, range, None, None),
            );
        }
    }
    if shards.is_empty() {
        return Err(invalid(epoch_dir, "no shard directories"));
    }
    let next_shard_index = shards.keys().max().map_or(0, |max| max + 1);
    Ok(StreamMeta {
        name: name.to_string(),
        created_ms,
        mode: StreamMode::Provisioned,
        retention_hours: RETENTION_HOURS_MIN,
        record_kib_max: 1024,
        tags: BTreeMap::new(),
        next_shard_index,
        shards,
        consumers: BTreeMap::new(),
        key_compaction: false,
        retention_bytes_max: None,
        shard_level_metrics: Default::default(),
    })
}

/// A shard that opening could not bring up fully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardProblem {
    /// The stream.
    pub stream: String,
    /// The shard's index.
    pub shard_index: u32,
    /// What went wrong.
    pub cause: String,
}

impl ShardProblem {
    pub(crate) fn new(stream: &str, shard_index: u32, cause: String) -> Self {
        ShardProblem {
            stream: stream.to_string(),
            shard_index,
            cause,
        }
    }
}

/// A shard whose recovery cut, rebuilt or removed something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRecovery {
    /// The stream.
    pub stream: String,
    /// The shard's index.
    pub shard_index: u32,
    /// What recovery did.
    pub report: RecoveryReport,
}

/// What opening a data directory found. Nothing in it was deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Stream directories the MANIFEST does not name (`repair` moves them aside).
    pub orphans: Vec<PathBuf>,
    /// Shards whose recovery cut a torn tail, rebuilt indexes or removed files.
    pub recoveries: Vec<ShardRecovery>,
    /// Shards that could not be opened; their reads fail with the cause.
    pub quarantined: Vec<ShardProblem>,
    /// Shards opened read-only because recovery could not write (a full disk).
    pub read_only: Vec<ShardProblem>,
}

impl OpenReport {
    /// Keeps what recovery did to a shard and logs every cut: nothing is cut silently.
    pub(crate) fn note_recovery(&mut self, stream: &str, shard_index: u32, report: RecoveryReport) {
        for cut in &report.truncations {
            tracing::warn!(
                stream,
                shard = %crate::names::ShardId(shard_index),
                segment = %cut.segment.display(),
                offset = cut.offset,
                bytes = cut.bytes,
                batches = cut.batches,
                "recovery cut a torn or damaged tail of the shard's log"
            );
        }
        let did_something = report.truncated_bytes > 0
            || report.dropped_batches > 0
            || !report.rebuilt_indexes.is_empty()
            || !report.removed_files.is_empty();
        if did_something {
            self.recoveries.push(ShardRecovery {
                stream: stream.to_string(),
                shard_index,
                report,
            });
        }
    }
}

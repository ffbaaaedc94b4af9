//! The truncation record: a small text file, `<log-dir>/TRUNCATIONS`, where
//! recovery notes every cut it makes, so that what an open dropped stays visible
//! after the process that logged it is gone (`shardlog verify` shows it).
//!
//! One line per cut, newest last, at most [`TRUNCATIONS_KEPT`] lines (older ones
//! are dropped when a new one is written), fields separated by one space:
//!
//! ```text
//! <unix-ms> <segment file name> <offset> <bytes> <batches>
//! ```
//! Rewritten atomically (temporary file, fsync, rename, directory fsync) before
//! the cut it records. See `FORMAT.md`.

use crate::error::{io_err, Result};
use crate::io::{read_file, write_file_atomic, FileSystem};
use crate::recovery::Truncation;
use std::io;
use std::path::Path;

/// The record's file name inside a log directory.
pub const TRUNCATIONS_FILE_NAME: &str = "TRUNCATIONS";
/// Cuts kept in the record, newest last.
pub const TRUNCATIONS_KEPT: usize = 64;

/// A cut as the record holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTruncation {
    /// When recovery made it, ms since the epoch.
    pub at_ms: u64,
    /// The segment file's name (in the log directory).
    pub segment: String,
    /// Offset of the first byte cut (0: the whole file was removed).
    pub offset: u64,
    /// Bytes cut.
    pub bytes: u64,
    /// Batches (complete or not) in the bytes cut.
    pub batches: u64,
}

impl RecordedTruncation {
    fn line(&self) -> String {
        format!(
            "{} {} {} {} {}\n",
            self.at_ms, self.segment, self.offset, self.bytes, self.batches
        )
    }

    fn parse(line: &str) -> Option<RecordedTruncation> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [at_ms, segment, offset, bytes, batches] = fields[..] else {
            return None;
        };
        if segment.is_empty() {
            return None;
        }
        Some(RecordedTruncation {
            at_ms: at_ms.parse().ok()?,
            segment: segment.to_string(),
            offset: offset.parse().ok()?,
            bytes: bytes.parse().ok()?,
            batches: batches.parse().ok()?,
        })
    }
}

/// The cuts recorded in `dir`, oldest first; none if there is no record. A line
/// that does not parse is an `InvalidData` error naming it.
pub fn load(fs: &dyn FileSystem, dir: &Path) -> io::Result<Vec<RecordedTruncation>> {
    let path = dir.join(TRUNCATIONS_FILE_NAME);
    let bytes = match read_file(fs, &path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            RecordedTruncation::parse(line).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: line {} is not a truncation: {line:?}",
                        path.display(),
                        i + 1
                    ),
                )
            })
        })
        .collect()
}

/// Adds `cut` to the record in `dir`. A record that does not load is replaced
/// (it only reports; recovery must not fail over it).
pub(crate) fn record(fs: &dyn FileSystem, dir: &Path, cut: &Truncation, at_ms: u64) -> Result<()> {
    let mut kept = load(fs, dir).unwrap_or_default();
    kept.push(RecordedTruncation {
        at_ms,
        segment: cut
            .segment
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        offset: cut.offset,
        bytes: cut.bytes,
        batches: cut.batches,
    });
    let from = kept.len().saturating_sub(TRUNCATIONS_KEPT);
    let text: String = kept[from..].iter().map(RecordedTruncation::line).collect();
    let path = dir.join(TRUNCATIONS_FILE_NAME);
    write_file_atomic(fs, &path, text.as_bytes()).map_err(io_err("write", &path))
}

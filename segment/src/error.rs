//! The error type of the segment layer.

use std::io;
use std::path::PathBuf;

/// What is wrong with bytes that failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The stored checksum does not match the bytes.
    ChecksumMismatch {
        /// Checksum stored in the file.
        expected: u32,
        /// Checksum computed over the bytes.
        actual: u32,
    },
    /// The magic bytes are wrong.
    BadMagic,
    /// The bytes end before the structure does.
    Truncated {
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// A field holds a value the format does not allow.
    InvalidField {
        /// Which field, and why.
        reason: String,
    },
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Corruption::ChecksumMismatch { expected, actual } => write!(
                f,
                "checksum mismatch (stored {expected:#010x}, computed {actual:#010x})"
            ),
            Corruption::BadMagic => write!(f, "bad magic"),
            Corruption::Truncated { needed, available } => {
                write!(
                    f,
                    "truncated ({needed} bytes needed, {available} available)"
                )
            }
            Corruption::InvalidField { reason } => write!(f, "invalid field: {reason}"),
        }
    }
}

/// Errors of the segment layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation (open, write, sync, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Stored bytes failed verification where data must be intact.
    #[error("corrupt data in {path} at offset {offset}: {corruption}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the damaged structure in the file.
        offset: u64,
        /// What is wrong.
        corruption: Corruption,
    },
    /// A record's payload is larger than the configured limit.
    #[error("record data is {size} bytes, the limit is {max}")]
    RecordTooLarge {
        /// Payload size in bytes.
        size: usize,
        /// Configured `record_bytes_max`.
        max: usize,
    },
    /// A partition key is empty, too long or too large.
    #[error("invalid partition key: {reason}")]
    InvalidPartitionKey {
        /// Why.
        reason: String,
    },
    /// A batch is empty or exceeds the batch limits.
    #[error("invalid batch: {reason}")]
    InvalidBatch {
        /// Why.
        reason: String,
    },
    /// The configuration is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A write or sync of this log failed earlier; the log refuses appends until reopened.
    #[error("log {path} failed earlier and refuses writes until reopened: {cause}")]
    LogFailed {
        /// The log's directory.
        path: PathBuf,
        /// The failure that stopped it.
        cause: String,
    },
    /// The log could not be opened (damage recovery will not cut): reads fail.
    #[error("log {path} is quarantined: it could not be opened ({cause}); run `shardlog repair` on the data directory")]
    Quarantined {
        /// The log's directory.
        path: PathBuf,
        /// Why it could not be opened.
        cause: String,
    },
    /// The log or storage was closed.
    #[error("log {path} is closed")]
    Closed {
        /// The log's directory.
        path: PathBuf,
    },
    /// A position before the oldest retained record.
    #[error("position {requested} is before the oldest retained position {first}")]
    PositionTrimmed {
        /// Requested position.
        requested: u64,
        /// Oldest retained position.
        first: u64,
    },
    /// A position after the end of the log.
    #[error("position {requested} is beyond the end of the log ({end})")]
    PositionBeyondEnd {
        /// Requested position.
        requested: u64,
        /// Next position to be written.
        end: u64,
    },
    /// The requested write backend cannot run here.
    #[error("write backend unavailable: {0}")]
    BackendUnavailable(String),
    /// The log directory is already open.
    #[error("log {path} is already open")]
    AlreadyOpen {
        /// The log's directory.
        path: PathBuf,
    },
}

impl Error {
    /// Whether this is damage met opening or reading a log (a file that cannot
    /// be read, or bytes that fail verification), not a misuse or a closed log:
    /// an owner that opens many logs quarantines the one that fails with it and
    /// opens the rest.
    pub fn is_damage(&self) -> bool {
        matches!(self, Error::Corrupt { .. } | Error::Io { .. })
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}

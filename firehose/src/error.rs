//! Errors of delivery streams. Firehose's wire error codes live in the server
//! crate; these variants carry what it needs to pick one.

use std::path::PathBuf;

/// A delivery-stream error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No delivery stream of this name.
    #[error("delivery stream {name} not found")]
    DeliveryStreamNotFound {
        /// The name given.
        name: String,
    },
    /// A delivery stream of this name exists already.
    #[error("delivery stream {name} exists")]
    DeliveryStreamExists {
        /// The name given.
        name: String,
    },
    /// The named delivery stream (or source stream) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The delivery stream exists already, or is busy.
    #[error("{0}")]
    InUse(String),
    /// A request or configuration value is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// A limit (delivery streams, tags) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// The delivery stream cannot take more records now (back-pressure): its
    /// undelivered backlog is full. Retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The staging log failed.
    #[error("staging log: {0}")]
    Segment(#[from] shardlog_segment::Error),
    /// The source Kinesis stream could not be found or read.
    #[error("source stream: {0}")]
    Engine(#[from] shardlog_engine::ReadError),
    /// A destination (object store) refused or failed a write.
    #[error("destination: {0}")]
    Destination(String),
    /// Stored metadata or a checkpoint could not be read back.
    #[error("corrupt {path}: {cause}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        cause: String,
    },
}

impl From<shardlog_engine::StreamLookupError> for Error {
    fn from(lookup: shardlog_engine::StreamLookupError) -> Self {
        Error::Engine(lookup.into())
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error::Io`] for `op` on `path`.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}

//! Errors of the engine, one variant per kind of failure a Kinesis client can tell
//! apart. The server maps each to its Kinesis error code; messages follow the
//! service's wording where it is known.

/// Engine errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stream, shard or consumer does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The resource is busy or already exists.
    #[error("{0}")]
    ResourceInUse(String),
    /// A request field breaks its constraint (length, pattern, range):
    /// Kinesis's ValidationException.
    #[error("{0}")]
    Validation(String),
    /// A request argument is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// A limit (shard count, tags, ...) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// The shard iterator has expired.
    #[error("{0}")]
    ExpiredIterator(String),
    /// A shard's throughput quota is exceeded.
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    /// The storage layer failed.
    #[error("storage: {0}")]
    Storage(#[from] shardlog_segment::Error),
    /// The metadata could not be read or written.
    #[error("manifest: {0}")]
    Manifest(std::io::Error),
}

/// Result type of the engine.
pub type Result<T> = std::result::Result<T, Error>;

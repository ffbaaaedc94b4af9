//! Firehose-style delivery streams over shardlog.
//!
//! ```text
//! source (Direct PUT staging log | engine Kinesis stream, all shards by lineage)
//!   → buffer (flush at size or interval hint, whichever first, and at shutdown)
//!   → JSON → Parquet conversion (declared or inferred schema; failures to the error prefix)
//!   → compression (GZIP, ZIP, Snappy, HADOOP_SNAPPY, ZSTD)
//!   → destination (local directory, or an S3-compatible store per bucket)
//!   → checkpoint (only once the objects are durable)
//! ```
//!
//! Nothing here knows HTTP; the server crate maps [`Error`] to Firehose's errors.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod compress;
pub mod config;
pub mod convert;
pub mod delivery;
pub mod dest;
pub mod error;
mod files;
pub mod kinesis;
pub mod meta;
pub mod naming;
pub mod objects;
pub mod s3;
pub mod service;
pub mod source;

pub use compress::Compression;
pub use config::{
    Backup, Buffering, Conversion, DeliveryStreamConfig, DestinationConfig, SourceConfig,
    StartPosition,
};
pub use convert::{Column, ColumnType, ParquetCompression};
pub use dest::{Destination, Destinations, LocalDir};
pub use error::{Error, Result};
pub use meta::StreamMeta;
pub use service::{Firehose, FirehoseConfig, StreamStatus};

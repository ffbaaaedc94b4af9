//! Segmented, checksummed shard logs: record batches, segment files, write
//! backends, group commit and crash recovery.
//!
//! The byte layout is specified in `FORMAT.md` beside this crate.

mod aligned;
pub mod backend;
pub mod batch;
pub mod error;
pub mod format;
pub mod io;

pub use backend::{BackendKind, WriteBackend};
pub use batch::{BatchView, Record, RecordView};
pub use error::{Corruption, Error, Result};

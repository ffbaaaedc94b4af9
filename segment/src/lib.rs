//! Segmented, checksummed shard logs: record batches, segment files, write
//! backends, group commit and crash recovery.
//!
//! The byte layout is specified in `FORMAT.md` beside this crate.
//!
//! ```text
//! Storage (file system + backend + committer thread)
//!   └── Log (one shard: a directory of segments)
//!         ├── sealed segments: mapped, immutable, complete .idx/.tix
//!         └── active segment: appended by the committer, read up to the last ack
//! ```

mod ack_waiters;
mod active;
mod aligned;
pub mod backend;
pub mod batch;
mod chunks;
pub mod clock;
mod committer;
mod compact;
pub mod config;
pub mod error;
pub mod floor;
pub mod format;
pub mod io;
mod journal;
mod journal_fs;
mod log;
mod read;
mod recovery;
mod sealed;
mod storage;
pub mod truncations;
mod verified;

pub use backend::{BackendKind, WriteBackend};
pub use batch::{BatchView, Record, RecordView};
pub use compact::{CompactionReport, COMPACTION_KEYS_MAX};
pub use config::{Durability, LogConfig, StorageConfig};
pub use error::{Corruption, Error, Result};
pub use journal::{JournalOptions, ReplayReport, JOURNAL_FILE_NAME};
pub use log::{Acknowledgement, Appended, Log, PendingAppend};
pub use read::{ReadLimits, ReadResult, SharedRecord};
pub use recovery::{RecoveryReport, Truncation};
pub use sealed::SegmentInfo;
pub use storage::Storage;

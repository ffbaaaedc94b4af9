//! Configuration of storage (shared by all logs) and of each log.

use crate::backend::BackendKind;
use crate::error::{Error, Result};

/// When an append is acknowledged, and so what an acknowledgement promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledge after the batch is written and `fdatasync`ed: an acknowledged
    /// record survives a crash or power loss. The default.
    Sync,
    /// Acknowledge after the batch is written (page cache or device); sync at most
    /// every `interval_ms`. A power loss can lose up to that interval of
    /// acknowledged records; a process crash loses nothing.
    Interval {
        /// Longest time between syncs, in ms. Range 1..=60000.
        interval_ms: u64,
    },
    /// Acknowledge after the batch is written; sync only when a segment is sealed or
    /// the log closed. A power loss can lose everything since; a process crash
    /// loses nothing.
    None,
}

impl Durability {
    /// Name used in configuration and reports.
    pub fn name(&self) -> String {
        match self {
            Durability::Sync => "sync".into(),
            Durability::Interval { interval_ms } => format!("interval:{interval_ms}ms"),
            Durability::None => "none".into(),
        }
    }

    /// Parses `sync`, `none` or `interval:<ms>`.
    pub fn parse(text: &str) -> Option<Durability> {
        match text {
            "sync" => Some(Durability::Sync),
            "none" => Some(Durability::None),
            _ => {
                let ms = text.strip_prefix("interval:")?.trim_end_matches("ms");
                Some(Durability::Interval {
                    interval_ms: ms.parse().ok()?,
                })
            }
        }
    }
}

/// Settings shared by every log of a [`crate::Storage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageConfig {
    /// How segment files are written. Default: [`BackendKind::Auto`]: io_uring, which
    /// measured faster for durable appends at 1 and 16 shards (docs/benchmarks.md,
    /// issue 16), where the kernel accepts it, else buffered.
    pub backend: BackendKind,
    /// When appends are acknowledged. Default: [`Durability::Sync`].
    pub durability: Durability,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: BackendKind::Auto,
            durability: Durability::Sync,
        }
    }
}

impl StorageConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if let Durability::Interval { interval_ms } = self.durability {
            if !(1..=60_000).contains(&interval_ms) {
                return Err(Error::InvalidConfig(format!(
                    "durability interval {interval_ms} ms is outside 1..=60000"
                )));
            }
        }
        Ok(())
    }
}

/// One MiB.
pub const MIB: usize = 1 << 20;

/// Settings of one log (one shard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Roll to a new segment when the next batch would take the segment past this
    /// size. Default 1 GiB; range 64 KiB..=64 GiB. A batch larger than this gets a
    /// segment of its own.
    pub segment_bytes_max: u64,
    /// Roll to a new segment once the active one is this old (checked at append).
    /// Default 1 hour; `None` never rolls by age. Range 1 ms..=30 days.
    pub segment_age_ms_max: Option<u64>,
    /// Largest record payload. Default 1 MiB; range 1 byte..=10 MiB.
    pub record_bytes_max: usize,
    /// Largest encoded batch. Default 64 MiB; range 64 KiB..=256 MiB, and at least
    /// one record of `record_bytes_max` plus headers.
    pub batch_bytes_max: usize,
    /// Index one batch per this many bytes of log. Default 4096; 0 indexes every batch.
    pub index_interval_bytes: u64,
    /// Bytes that may wait for the writer before appenders block (back-pressure).
    /// Default 64 MiB; range 1 MiB..=1 GiB. One batch is always admitted.
    pub staging_bytes_max: usize,
    /// How far ahead of its writes the active segment's file is reserved
    /// (`fallocate`), so that a durable write neither allocates blocks nor commits a
    /// new file size each time: the reservation grows with the segment (as much
    /// again as it holds, at least [`PREALLOCATE_STEP_MIN`]) up to this, and the
    /// unused rest is cut when the segment is sealed or recovered. 0 turns it off;
    /// otherwise 256 KiB..=1 GiB. Default 0: on ext4 over a virtio disk (issue 16,
    /// a loaded machine) 64 MiB showed no gain with either backend, and one-shard
    /// `io_uring` appends looked slower (O_DIRECT writes into reserved, unwritten
    /// extents still commit their conversion); `shardlog bench --preallocate-kib`
    /// compares the two on other devices. A commit round of 64 files or more reserves
    /// `O_DIRECT` files 256 KiB ahead whatever this says (docs/architecture.md,
    /// "Many files in one round"). With 0, a buffered log's small rounds keep its
    /// file written ahead in zeros instead (docs/architecture.md, "Small rounds
    /// filled ahead").
    pub preallocate_bytes_max: u64,
    /// Under the `sync` policy, makes a batch readable once it is written, before
    /// its sync; its appender is still acknowledged only once it is durable. For a
    /// log whose readers may see records that a crash takes back (whose positions
    /// are then used again), and that keep what they persist of their progress at
    /// or before [`Log::durable_end`](crate::Log::durable_end): a topic's delivery,
    /// which then starts on a record while its sync runs. Default false.
    pub readable_before_sync: bool,
    /// Writes the log's files through the page cache even when the storage's
    /// backend writes `O_DIRECT` (`io_uring`): for a log of small, latency-bound
    /// rounds (a queue's or a topic's), whose `O_DIRECT` write would wait for the
    /// device before the round's sync, and go through an `io_uring` kernel worker,
    /// while a page-cache write is a copy and its sync writes it out. Measured
    /// (docs/benchmarks.md, session 35): SNS publish-to-queue at 10 queues p50 5.2
    /// to 5.7 ms with `O_DIRECT` queue and topic logs, 2.7 to 3.0 ms with them
    /// through the page cache. Bulk appends keep `O_DIRECT`. The same durability either way:
    /// acknowledged once synced. Default false.
    pub page_cache: bool,
}

/// The smallest reservation ahead of the active segment's writes.
pub const PREALLOCATE_STEP_MIN: u64 = 256 << 10;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes_max: 1 << 30,
            segment_age_ms_max: Some(60 * 60 * 1000),
            record_bytes_max: MIB,
            batch_bytes_max: 64 * MIB,
            index_interval_bytes: 4096,
            staging_bytes_max: 64 * MIB,
            preallocate_bytes_max: 0,
            readable_before_sync: false,
            page_cache: false,
        }
    }
}

impl LogConfig {
    /// Checks every range.
    pub fn validate(&self) -> Result<()> {
        let fail = |message: String| Err(Error::InvalidConfig(message));
        if !(64 << 10..=64 << 30).contains(&self.segment_bytes_max) {
            return fail(format!(
                "segment_bytes_max {} is outside 64 KiB..=64 GiB",
                self.segment_bytes_max
            ));
        }
        if let Some(age) = self.segment_age_ms_max {
            if !(1..=30 * 24 * 3600 * 1000).contains(&age) {
                return fail(format!("segment_age_ms_max {age} is outside 1..=30 days"));
            }
        }
        if !(1..=10 * MIB).contains(&self.record_bytes_max) {
            return fail(format!(
                "record_bytes_max {} is outside 1..=10 MiB",
                self.record_bytes_max
            ));
        }
        if !(64 << 10..=256 * MIB).contains(&self.batch_bytes_max) {
            return fail(format!(
                "batch_bytes_max {} is outside 64 KiB..=256 MiB",
                self.batch_bytes_max
            ));
        }
        if self.batch_bytes_max < self.record_bytes_max + 2048 {
            return fail(format!(
                "batch_bytes_max {} cannot hold one record of record_bytes_max {}",
                self.batch_bytes_max, self.record_bytes_max
            ));
        }
        let preallocate = self.preallocate_bytes_max;
        if preallocate != 0 && !(PREALLOCATE_STEP_MIN..=1 << 30).contains(&preallocate) {
            return fail(format!(
                "preallocate_bytes_max {preallocate} is neither 0 nor within 256 KiB..=1 GiB"
            ));
        }
        if !(MIB..=1024 * MIB).contains(&self.staging_bytes_max) {
            return fail(format!(
                "staging_bytes_max {} is outside 1 MiB..=1 GiB",
                self.staging_bytes_max
            ));
        }
        Ok(())
    }

    /// Bytes of log after which the active segment's `.idx` file is synced again:
    /// a sixteenth of `segment_bytes_max`, at most 16 MiB (4 KiB for the smallest
    /// segments, 16 MiB from 256 MiB segments up, so 16 MiB by default).
    ///
    /// Recovery trusts the log up to the last index entry that survived a power
    /// loss, so this bounds how much of the active segment it must scan again
    /// (see `FORMAT.md`); one index sync per this many bytes costs nothing
    /// measurable next to the syncs of the log itself.
    pub fn index_sync_bytes(&self) -> u64 {
        (self.segment_bytes_max / 16).min(16 << 20)
    }

    pub(crate) fn limits(&self) -> crate::batch::BatchLimits {
        crate::batch::BatchLimits {
            record_bytes_max: self.record_bytes_max,
            batch_bytes_max: self.batch_bytes_max,
        }
    }
}

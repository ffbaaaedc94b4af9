//! The engine: streams of shards over shardlog's storage, with durable metadata.
//!
//! Locks, always taken in this order: the stream map, one stream's state, the
//! manifest. Appends hold their stream's state for reading while they wait for the
//! acknowledgement, so resharding (which takes it for writing) sees every append
//! either wholly before or wholly after it.

use crate::error::{
    AddTagsError, Constraint, CreateStreamError, DeleteStreamError, Failed, Field, InvalidField,
    MaxRecordSizeError, MonitoringError, RetentionError, ShardLimitExceeded, StreamLookupError,
    TagError, UpdateStreamError,
};
use crate::layout::{OpenReport, ShardProblem};
use crate::manifest::{self, Manifest, ShardMeta, StreamMeta, StreamMode};
use crate::names::{check_stream_name, invalid_name, ShardId, TAGS_MAX};
use crate::position::Position;
use crate::quota::ShardQuota;
use crate::routing::{even_ranges, HashRange, SHARD_COUNT_MAX};
use crate::token::IteratorKey;
use shardlog_segment::clock::{Clock, SystemClock};
use shardlog_segment::io::FileSystem;
use shardlog_segment::{CompactionReport, Log, LogConfig, Storage, StorageConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::thread::JoinHandle;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the MANIFEST, the iterator key and the shard logs live.
    pub data_dir: PathBuf,
    /// Storage backend and durability.
    pub storage: StorageConfig,
    /// Settings of every shard's log (`record_bytes_max` is raised to 10 MiB: the
    /// per-stream limit is the engine's).
    pub log: LogConfig,
    /// Shards of a stream created in on-demand mode. Default 4.
    pub on_demand_shard_count: u32,
    /// Most open shards across all streams (DescribeLimits' ShardLimit). Default 500.
    pub open_shards_max: u32,
    /// How often a background thread deletes segments past their stream's retention.
    /// Default 60 s; 0 turns the thread off (call `enforce_retention` yourself).
    pub retention_check_interval_ms: u64,
    /// Enforce Kinesis's per-shard quotas (writes 1 MiB/s and 1,000 records/s,
    /// reads 2 MiB/s and 5 calls/s) with ProvisionedThroughputExceeded. Default off.
    pub shard_quotas: bool,
    /// How long a shard iterator stays valid, ms. Default 300,000 (Kinesis's 5
    /// minutes); shorter only for tests of expiry.
    pub iterator_ttl_ms: u64,
    /// How long a SubscribeToShard subscription lasts before it ends cleanly, ms.
    /// Default 300,000 (Kinesis's 5 minutes); shorter only for tests.
    pub subscription_lifetime_ms: u64,
    /// Key compaction of every stream created from now on (a shardlog extension,
    /// see [`Engine::set_key_compaction`]). Default off.
    pub stream_key_compaction: bool,
    /// Per-shard size cap of every stream created from now on (a shardlog
    /// extension, see [`Engine::set_retention_bytes_max`]). Default none.
    pub stream_retention_bytes_max: Option<u64>,
    /// The clock the shard quotas' buckets refill by. Default the system clock;
    /// tests hold time still with a `ManualClock`.
    pub clock: Arc<dyn Clock>,
}

impl EngineConfig {
    /// Defaults with data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            storage: StorageConfig::default(),
            log: LogConfig::default(),
            on_demand_shard_count: 4,
            open_shards_max: 500,
            retention_check_interval_ms: 60_000,
            shard_quotas: false,
            iterator_ttl_ms: crate::token::ITERATOR_TTL_MS,
            subscription_lifetime_ms: 300_000,
            stream_key_compaction: false,
            stream_retention_bytes_max: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Retention bounds, hours.
pub const RETENTION_HOURS_MIN: u32 = 24;
/// Longest retention, hours (365 days).
pub const RETENTION_HOURS_MAX: u32 = 8760;
/// Most shards one CreateStream or UpdateShardCount may ask for.
pub const SHARDS_PER_STREAM_MAX: u32 = 10_000;
// Routing can divide the key space among any shard count a stream may have.
const _: () = assert!(SHARDS_PER_STREAM_MAX <= SHARD_COUNT_MAX);
const RECORD_KIB_DEFAULT: u32 = 1024;

/// A shard's runtime state.
#[derive(Debug, Clone)]
pub(crate) struct ShardState {
    pub meta: ShardMeta,
    pub range: HashRange,
    pub log: Log,
    pub quota: Arc<Mutex<ShardQuota>>,
}

impl ShardState {
    /// The first position still readable (retention may have removed older ones).
    pub fn first_position(&self) -> Position {
        Position::new(self.log.first_position())
    }

    /// The position after the newest record the log holds.
    pub fn log_end(&self) -> Position {
        Position::new(self.log.end_position())
    }

    /// Where the shard's records end: its recorded end once resharding closed it
    /// (whatever a racing write left after it), else the log's end.
    pub fn end_position(&self) -> Position {
        self.meta
            .closed_end_position
            .unwrap_or_else(|| self.log_end())
    }
}

/// A stream's runtime state.
#[derive(Debug)]
pub(crate) struct StreamState {
    pub meta: StreamMeta,
    pub shards: BTreeMap<u32, ShardState>,
}

impl StreamState {
    /// Open shards sorted by their first hash key.
    pub(crate) fn open_shards(&self) -> Vec<&ShardState> {
        let mut open: Vec<&ShardState> = self
            .shards
            .values()
            .filter(|shard| shard.meta.closed_end_position.is_none())
            .collect();
        open.sort_by_key(|shard| shard.range.start);
        open
    }
}

pub(crate) struct Inner {
    pub config: EngineConfig,
    pub fs: Arc<dyn FileSystem>,
    pub storage: Storage,
    pub key: IteratorKey,
    pub streams: RwLock<BTreeMap<String, Arc<RwLock<StreamState>>>>,
    /// The manifest as last written; the lock serializes writers.
    pub manifest: Mutex<Manifest>,
    /// Set to stop the retention thread.
    pub stopping: AtomicBool,
    /// Set when a put saw a shard's log fail: the next put reopens failed logs.
    /// Keeps the check off the put path while nothing has failed.
    pub shard_failed: AtomicBool,
    /// Set when a MANIFEST write failed and restoring the previous one failed too.
    pub metadata_failed: AtomicBool,
    pub retention_thread: Mutex<Option<JoinHandle<()>>>,
    /// Active SubscribeToShard subscriptions.
    pub subscriptions: crate::subscriptions::Subscriptions,
    /// What opening found, and what later reopens of failed shards recovered.
    pub open_report: Mutex<OpenReport>,
}

/// Kinesis Data Streams over shardlog storage. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.inner.config.data_dir)
            .finish()
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poison| poison.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poison| poison.into_inner())
}

impl Engine {
    /// Opens the engine in `config.data_dir`: reads the manifest and opens (and
    /// recovers) every shard's log.
    pub fn open(fs: Arc<dyn FileSystem>, mut config: EngineConfig) -> Result<Engine, Failed> {
        config.log.record_bytes_max = 10 << 20;
        shardlog_segment::io::create_dir_all_durably(fs.as_ref(), &config.data_dir)
            .map_err(Failed::Manifest)?;
        let key = IteratorKey::load_or_create(fs.as_ref(), &config.data_dir.join("ITERATOR_KEY"))
            .map_err(Failed::Manifest)?;
        let manifest =
            manifest::load_data_dir(fs.as_ref(), &config.data_dir).map_err(Failed::Manifest)?;
        // Reported, never deleted here: only `repair` moves them aside.
        let mut report = OpenReport {
            orphans: crate::layout::orphans(fs.as_ref(), &config.data_dir, &manifest),
            ..OpenReport::default()
        };
        let storage = Storage::open_in(Arc::clone(&fs), config.storage, &config.data_dir)?;
        let mut streams = BTreeMap::new();
        for meta in manifest.streams.values() {
            let state = open_stream(&storage, &config, meta.clone(), &mut report, true)?;
            streams.insert(meta.name.clone(), Arc::new(RwLock::new(state)));
        }
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                fs,
                storage,
                key,
                streams: RwLock::new(streams),
                manifest: Mutex::new(manifest),
                stopping: AtomicBool::new(false),
                shard_failed: AtomicBool::new(false),
                metadata_failed: AtomicBool::new(false),
                retention_thread: Mutex::new(None),
                subscriptions: Default::default(),
                open_report: Mutex::new(report),
            }),
        };
        engine.start_retention_thread()?;
        Ok(engine)
    }

    fn start_retention_thread(&self) -> Result<(), Failed> {
        let interval_ms = self.inner.config.retention_check_interval_ms;
        if interval_ms == 0 {
            return Ok(());
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let thread = std::thread::Builder::new()
            .name("shardlog-retention".into())
            .spawn(move || loop {
                std::thread::park_timeout(Duration::from_millis(interval_ms));
                let Some(inner) = weak.upgrade() else { return };
                if inner.stopping.load(Ordering::SeqCst) {
                    return;
                }
                // A failure here (a disk error removing a file) is retried next time.
                let engine = Engine { inner };
                let _ = engine.enforce_retention(now_ms());
                let _ = engine.compact_streams();
            })
            .map_err(Failed::Manifest)?;
        *self
            .inner
            .retention_thread
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(thread);
        Ok(())
    }

    /// What opening the data directory found (orphaned files, truncations,
    /// quarantined and read-only shards), and what reopening failed shards recovered
    /// since.
    pub fn open_report(&self) -> OpenReport {
        self.report_lock().clone()
    }

    pub(crate) fn report_lock(&self) -> std::sync::MutexGuard<'_, OpenReport> {
        self.inner
            .open_report
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The storage the engine's logs share, for other logs of the same data
    /// directory (queues) to join the same group commit. Close them before
    /// [`Engine::shutdown`], which shuts the storage down.
    pub fn storage(&self) -> &shardlog_segment::Storage {
        &self.inner.storage
    }

    /// Stops the retention thread, then syncs and closes every shard log. The
    /// engine refuses writes afterwards.
    pub fn shutdown(&self) -> Result<(), Failed> {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.end_subscriptions();
        let thread = self
            .inner
            .retention_thread
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some(thread) = thread {
            thread.thread().unpark();
            let _ = thread.join();
        }
        Ok(self.inner.storage.shutdown()?)
    }

    pub(crate) fn stream(&self, name: &str) -> Result<Arc<RwLock<StreamState>>, StreamLookupError> {
        check_stream_name(name)?;
        read(&self.inner.streams)
            .get(name)
            .cloned()
            .ok_or_else(|| StreamLookupError::NotFound {
                stream: name.to_string(),
            })
    }

    pub(crate) fn read_stream(stream: &RwLock<StreamState>) -> RwLockReadGuard<'_, StreamState> {
        read(stream)
    }

    pub(crate) fn write_stream(stream: &RwLock<StreamState>) -> RwLockWriteGuard<'_, StreamState> {
        write(stream)
    }

    /// Writes the manifest with `change` applied to stream `name` (`None` removes
    /// it). Memory follows only once the disk has it.
    pub(crate) fn persist(&self, name: &str, change: Option<StreamMeta>) -> Result<(), Failed> {
        let mut current = self
            .inner
            .manifest
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut next = current.clone();
        // Namesakes matter only within their creation second (see create_stream).
        let now = now_ms();
        next.deleted_created_ms
            .retain(|_, created_ms| *created_ms / 1000 + 1 >= now / 1000);
        match change {
            Some(meta) => {
                next.last_created_ms = next.last_created_ms.max(meta.created_ms);
                next.streams.insert(name.to_string(), meta);
            }
            None => {
                if let Some(removed) = next.streams.remove(name) {
                    next.deleted_created_ms
                        .insert(name.to_string(), removed.created_ms);
                }
            }
        };
        self.check_metadata()?;
        let path = self.inner.config.data_dir.join("MANIFEST");
        if let Err(error) = manifest::store(self.inner.fs.as_ref(), &path, &next) {
            // The new MANIFEST may or may not be on disk (the rename can land and the
            // directory sync fail). Put the old one back so that disk and memory
            // agree; if that fails too, nothing that depends on the metadata is
            // acknowledged until a restart reads what the disk holds.
            let fs = self.inner.fs.as_ref();
            let unchanged = manifest::load(fs, &path).is_ok_and(|on_disk| on_disk == *current);
            if !unchanged && manifest::store(fs, &path, &current).is_err() {
                self.inner.metadata_failed.store(true, Ordering::SeqCst);
            }
            return Err(Failed::Manifest(error));
        }
        *current = next;
        Ok(())
    }

    /// Fails once a MANIFEST write failed and could not be undone: the metadata on
    /// disk is then unknown, and appends to a stream it may no longer hold could be
    /// lost at the next open.
    pub(crate) fn check_metadata(&self) -> Result<(), Failed> {
        if self.inner.metadata_failed.load(Ordering::SeqCst) {
            return Err(Failed::Manifest(std::io::Error::other(
                "a MANIFEST write failed and could not be undone; writes are refused until the server restarts",
            )));
        }
        Ok(())
    }

    /// What DescribeLimits reports: open shards, the shard limit, on-demand streams.
    pub fn account_usage(&self) -> (u32, u32, u32) {
        let on_demand = read(&self.inner.streams)
            .values()
            .filter(|stream| read(stream).meta.mode == StreamMode::OnDemand)
            .count() as u32;
        (
            self.open_shard_count(),
            self.inner.config.open_shards_max,
            on_demand,
        )
    }

    /// Reopens (and so recovers) the logs of a stream's open shards that a write
    /// or sync failure stopped: once the fault clears, writes resume. Nothing
    /// acknowledged was lost; recovery truncates whatever the failed write left.
    pub(crate) fn reopen_failed_shards(&self, stream: &RwLock<StreamState>) -> Result<(), Failed> {
        if !self.inner.shard_failed.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let reopened = self.reopen_failed_logs(stream);
        if reopened.is_err() {
            // Try again on the next put; other streams may also still need it.
            self.inner.shard_failed.store(true, Ordering::SeqCst);
        }
        reopened
    }

    fn reopen_failed_logs(&self, stream: &RwLock<StreamState>) -> Result<(), Failed> {
        let mut state = write(stream);
        let meta = state.meta.clone();
        for shard in state.shards.values_mut() {
            // Quarantined and read-only logs wait for repair or a restart.
            if shard.meta.closed_end_position.is_some()
                || shard.log.failure().is_none()
                || shard.log.needs_repair()
            {
                continue;
            }
            shard.log.close()?;
            let reopened = open_shard(
                &self.inner.storage,
                &self.inner.config,
                &meta,
                shard.meta.clone(),
                &mut self.report_lock(),
            )?;
            shard.log = reopened.log;
        }
        Ok(())
    }

    /// Number of open shards across every stream.
    fn open_shard_count(&self) -> u32 {
        read(&self.inner.streams)
            .values()
            .map(|stream| read(stream).open_shards().len() as u32)
            .sum()
    }

    pub(crate) fn check_shard_budget(&self, adding: u32) -> Result<(), ShardLimitExceeded> {
        let open = self.open_shard_count();
        let limit = self.inner.config.open_shards_max;
        if open + adding > limit {
            return Err(ShardLimitExceeded {
                open,
                adding,
                limit,
            });
        }
        Ok(())
    }

    /// Creates a stream with `shard_count` shards (provisioned), or the on-demand
    /// default when `None`.
    pub fn create_stream(
        &self,
        name: &str,
        shard_count: Option<u32>,
        tags: BTreeMap<String, String>,
    ) -> Result<(), CreateStreamError> {
        check_stream_name(name).map_err(|_| invalid_name(Field::StreamName, name))?;
        let (mode, count) = match shard_count {
            Some(count) => (StreamMode::Provisioned, count),
            None => (
                StreamMode::OnDemand,
                self.inner.config.on_demand_shard_count,
            ),
        };
        check_shard_count(Field::ShardCount, count)?;
        check_tags(&tags, tags.len())?;
        let mut streams = write(&self.inner.streams);
        if streams.contains_key(name) {
            return Err(CreateStreamError::StreamExists {
                stream: name.to_string(),
            });
        }
        drop(streams);
        self.check_shard_budget(count)?;
        streams = write(&self.inner.streams);
        if streams.contains_key(name) {
            return Err(CreateStreamError::StreamExists {
                stream: name.to_string(),
            });
        }
        let created_ms = {
            let manifest = self
                .inner
                .manifest
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            // Sequence numbers carry the shard's creation second: a stream recreated
            // in the second its deleted namesake was created in would give out the
            // same sequence numbers.
            let after_namesake = manifest
                .deleted_created_ms
                .get(name)
                .map_or(0, |deleted| (deleted / 1000 + 1) * 1000);
            now_ms()
                .max(manifest.last_created_ms + 1)
                .max(after_namesake)
        };
        let created_secs = created_ms / 1000;
        let shards = even_ranges(count)
            .expect("shard count checked against a bound routing supports")
            .into_iter()
            .enumerate()
            .map(|(index, range)| {
                let index = index as u32;
                (
                    index,
                    new_shard_meta(index, created_secs, range, None, None),
                )
            })
            .collect();
        let meta = StreamMeta {
            name: name.to_string(),
            created_ms,
            mode,
            retention_hours: RETENTION_HOURS_MIN,
            record_kib_max: RECORD_KIB_DEFAULT,
            tags,
            next_shard_index: count,
            shards,
            consumers: BTreeMap::new(),
            key_compaction: self.inner.config.stream_key_compaction,
            retention_bytes_max: self.inner.config.stream_retention_bytes_max,
            shard_level_metrics: Default::default(),
        };
        let state = open_stream(
            &self.inner.storage,
            &self.inner.config,
            meta.clone(),
            &mut self.report_lock(),
            false,
        )?;
        self.persist(name, Some(meta))?;
        streams.insert(name.to_string(), Arc::new(RwLock::new(state)));
        Ok(())
    }

    /// Deletes a stream and its data, deregistering its consumers (DeleteStream
    /// with EnforceConsumerDeletion).
    pub fn delete_stream(&self, name: &str) -> Result<(), DeleteStreamError> {
        self.delete_stream_with(name, true)
    }

    /// DeleteStream: without `enforce_consumer_deletion`, a stream with registered
    /// consumers is not deleted (ResourceInUse).
    pub fn delete_stream_with(
        &self,
        name: &str,
        enforce_consumer_deletion: bool,
    ) -> Result<(), DeleteStreamError> {
        let stream = self.stream(name)?;
        let mut streams = write(&self.inner.streams);
        let state = write(&stream);
        if !enforce_consumer_deletion && !state.meta.consumers.is_empty() {
            return Err(DeleteStreamError::HasConsumers {
                stream: name.to_string(),
            });
        }
        self.persist(name, None)?;
        streams.remove(name);
        for shard in state.shards.values() {
            shard.log.close().map_err(Failed::from)?;
        }
        // The manifest no longer names the stream: whatever a crash leaves of its
        // files is removed at the next open.
        let dir = self.inner.config.data_dir.join("streams").join(name);
        remove_tree_files(self.inner.fs.as_ref(), &dir)?;
        Ok(())
    }

    /// Stream names in order, after `exclusive_start` when given, at most `limit`;
    /// and whether more follow.
    pub fn list_streams(&self, limit: usize, exclusive_start: Option<&str>) -> (Vec<String>, bool) {
        let streams = read(&self.inner.streams);
        let names = streams
            .keys()
            .filter(|name| exclusive_start.is_none_or(|start| name.as_str() > start));
        let mut page: Vec<String> = names.take(limit.saturating_add(1)).cloned().collect();
        let more = page.len() > limit;
        page.truncate(limit);
        (page, more)
    }

    /// Changes the retention period, up (`increase`) or down.
    pub fn set_retention(
        &self,
        name: &str,
        hours: u32,
        increase: bool,
    ) -> Result<(), RetentionError> {
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let current = state.meta.retention_hours;
        let direction_ok = if increase {
            hours >= current
        } else {
            hours <= current
        };
        if !direction_ok {
            return Err(RetentionError::WrongDirection {
                stream: name.to_string(),
                requested_hours: hours,
                current_hours: current,
                increase,
            });
        }
        if !(RETENTION_HOURS_MIN..=RETENTION_HOURS_MAX).contains(&hours) {
            return Err(RetentionError::OutOfRange {
                stream: name.to_string(),
                requested_hours: hours,
                bound_hours: hours.clamp(RETENTION_HOURS_MIN, RETENTION_HOURS_MAX),
            });
        }
        let mut meta = state.meta.clone();
        meta.retention_hours = hours;
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        drop(state);
        if !increase {
            self.enforce_retention_of(&stream, now_ms())?;
        }
        Ok(())
    }

    /// UpdateMaxRecordSize: the largest record payload, 1024 to 10240 KiB.
    pub fn set_max_record_kib(&self, name: &str, kib: u32) -> Result<(), MaxRecordSizeError> {
        if !(1024..=10_240).contains(&kib) {
            return Err(MaxRecordSizeError::from(InvalidField {
                field: Field::RecordKibMax,
                value: Some(kib.to_string()),
                constraint: Constraint::ValueBetween {
                    min: 1024,
                    max: 10_240,
                },
            }));
        }
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let mut meta = state.meta.clone();
        meta.record_kib_max = kib;
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        Ok(())
    }

    /// Caps each shard's retained bytes: beyond it the oldest sealed segments go,
    /// whatever their age (a shardlog extension). `None` removes the cap.
    pub fn set_retention_bytes_max(
        &self,
        name: &str,
        bytes: Option<u64>,
    ) -> Result<(), UpdateStreamError> {
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let mut meta = state.meta.clone();
        meta.retention_bytes_max = bytes;
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        drop(state);
        Ok(self.enforce_retention_of(&stream, now_ms())?)
    }

    /// UpdateStreamMode: provisioned or on-demand. The shard count stays as it is
    /// (here on-demand streams do not scale by themselves).
    pub fn set_stream_mode(&self, name: &str, on_demand: bool) -> Result<(), UpdateStreamError> {
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let mut meta = state.meta.clone();
        meta.mode = if on_demand {
            StreamMode::OnDemand
        } else {
            StreamMode::Provisioned
        };
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        Ok(())
    }

    /// Enable/DisableEnhancedMonitoring: records which shard-level metrics are on
    /// and returns (before, after).
    pub fn set_shard_level_metrics(
        &self,
        name: &str,
        metrics: &[String],
        enable: bool,
    ) -> Result<(Vec<String>, Vec<String>), MonitoringError> {
        const KNOWN: [&str; 7] = [
            "IncomingBytes",
            "IncomingRecords",
            "OutgoingBytes",
            "OutgoingRecords",
            "WriteProvisionedThroughputExceeded",
            "ReadProvisionedThroughputExceeded",
            "IteratorAgeMilliseconds",
        ];
        let mut requested = Vec::new();
        for metric in metrics {
            match metric.as_str() {
                "ALL" => requested.extend(KNOWN.iter().map(|m| m.to_string())),
                known if KNOWN.contains(&known) => requested.push(known.to_string()),
                other => {
                    return Err(MonitoringError::UnknownMetric {
                        metric: other.to_string(),
                    })
                }
            }
        }
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let mut meta = state.meta.clone();
        let before: Vec<String> = meta.shard_level_metrics.iter().cloned().collect();
        for metric in requested {
            if enable {
                meta.shard_level_metrics.insert(metric);
            } else {
                meta.shard_level_metrics.remove(&metric);
            }
        }
        let after: Vec<String> = meta.shard_level_metrics.iter().cloned().collect();
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        Ok((before, after))
    }

    /// Adds or replaces tags.
    pub fn add_tags(&self, name: &str, tags: BTreeMap<String, String>) -> Result<(), AddTagsError> {
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let mut meta = state.meta.clone();
        let new_keys = tags
            .keys()
            .filter(|key| !meta.tags.contains_key(*key))
            .count();
        // A key given again replaces its value: only new keys add to the count.
        check_tags(&tags, meta.tags.len() + new_keys)?;
        meta.tags.extend(tags);
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        Ok(())
    }

    /// Removes tags by key (absent keys are ignored, as Kinesis does).
    pub fn remove_tags(&self, name: &str, keys: &[String]) -> Result<(), UpdateStreamError> {
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let mut meta = state.meta.clone();
        for key in keys {
            meta.tags.remove(key);
        }
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        Ok(())
    }

    /// The stream's tags.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, StreamLookupError> {
        let stream = self.stream(name)?;
        let tags = read(&stream).meta.tags.clone();
        Ok(tags)
    }

    /// Deletes, in every shard of every stream, sealed segments whose newest record
    /// is older than the stream's retention period at `now_ms`.
    pub fn enforce_retention(&self, now_ms: u64) -> Result<(), Failed> {
        let streams: Vec<_> = read(&self.inner.streams).values().cloned().collect();
        for stream in streams {
            self.enforce_retention_of(&stream, now_ms)?;
        }
        Ok(())
    }

    /// Turns key compaction of a stream on or off (a shardlog extension; Kinesis
    /// has no such option).
    pub fn set_key_compaction(&self, name: &str, enabled: bool) -> Result<(), UpdateStreamError> {
        let stream = self.stream(name)?;
        let mut state = write(&stream);
        let mut meta = state.meta.clone();
        meta.key_compaction = enabled;
        self.persist(name, Some(meta.clone()))?;
        state.meta = meta;
        Ok(())
    }

    /// Compacts every shard of a stream now: sealed segments keep only the newest
    /// record of each partition key; sequence numbers do not change.
    pub fn compact_stream(&self, name: &str) -> Result<CompactionReport, UpdateStreamError> {
        let stream = self.stream(name)?;
        let state = read(&stream);
        let mut total = CompactionReport::default();
        for shard in state.shards.values() {
            let report = shard.log.compact().map_err(Failed::from)?;
            total.passes += report.passes;
            total.segments_rewritten += report.segments_rewritten;
            total.records_dropped += report.records_dropped;
            total.bytes_before += report.bytes_before;
            total.bytes_after += report.bytes_after;
        }
        Ok(total)
    }

    /// Compacts every stream that has key compaction on.
    pub fn compact_streams(&self) -> Result<(), Failed> {
        let names: Vec<String> = read(&self.inner.streams)
            .iter()
            .filter(|(_, stream)| read(stream).meta.key_compaction)
            .map(|(name, _)| name.clone())
            .collect();
        for name in names {
            match self.compact_stream(&name) {
                // Deleted since it was listed: nothing left to compact.
                Ok(_) | Err(UpdateStreamError::Stream(_)) => {}
                Err(UpdateStreamError::Failed(failed)) => return Err(failed),
            }
        }
        Ok(())
    }

    fn enforce_retention_of(
        &self,
        stream: &RwLock<StreamState>,
        now_ms: u64,
    ) -> Result<(), Failed> {
        let state = read(stream);
        let window_ms = u64::from(state.meta.retention_hours) * 3_600_000;
        let cutoff = now_ms.saturating_sub(window_ms);
        for shard in state.shards.values() {
            // An idle shard's (or a closed parent's) active segment expires too:
            // sealed here, removed below with the sealed ones.
            shard.log.seal_active_older_than(cutoff)?;
            // A segment compaction emptied holds nothing to keep.
            shard.log.remove_oldest_segments(|segment| {
                segment.last_arrival_ms.is_none_or(|t| t < cutoff)
            })?;
            if let Some(cap) = state.meta.retention_bytes_max {
                let mut total: u64 = shard.log.segments().iter().map(|s| s.bytes).sum();
                shard.log.remove_oldest_segments(|segment| {
                    let over = total > cap;
                    if over {
                        total -= segment.bytes;
                    }
                    over
                })?;
            }
        }
        Ok(())
    }
}

pub(crate) fn new_shard_meta(
    index: u32,
    created_secs: u64,
    range: HashRange,
    parent: Option<u32>,
    adjacent_parent: Option<u32>,
) -> ShardMeta {
    ShardMeta {
        index,
        created_secs,
        hash_start: range.start.to_string(),
        hash_end: range.end.to_string(),
        parent,
        adjacent_parent,
        closed_end_position: None,
        closed_ms: None,
    }
}

/// Checks a stream's shard count (named `field` in the request): 1 to
/// [`SHARDS_PER_STREAM_MAX`].
pub(crate) fn check_shard_count(field: Field, count: u32) -> Result<(), InvalidField> {
    if count == 0 || count > SHARDS_PER_STREAM_MAX {
        return Err(InvalidField {
            field,
            value: Some(count.to_string()),
            constraint: Constraint::ValueBetween {
                min: 1,
                max: SHARDS_PER_STREAM_MAX.into(),
            },
        });
    }
    Ok(())
}

/// Checks `tags` and that the stream would hold `count_after` tags, at most the limit.
fn check_tags(tags: &BTreeMap<String, String>, count_after: usize) -> Result<(), TagError> {
    if count_after > TAGS_MAX {
        return Err(TagError::TooManyTags { limit: TAGS_MAX });
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(TagError::TagInvalid { key: key.clone() });
        }
    }
    Ok(())
}

/// Directory of a shard's log: the stream's creation time keeps a recreated stream
/// apart from what a deleted one may have left behind.
pub(crate) fn shard_dir(config: &EngineConfig, meta: &StreamMeta, index: u32) -> PathBuf {
    config
        .data_dir
        .join("streams")
        .join(&meta.name)
        .join(meta.created_ms.to_string())
        .join(ShardId(index).to_string())
}

pub(crate) fn shard_range(meta: &ShardMeta) -> Result<HashRange, Failed> {
    let parse = |text: &str| {
        text.parse::<u128>().map_err(|_| {
            Failed::Manifest(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("shard {} has a bad hash key '{text}'", meta.index),
            ))
        })
    };
    Ok(HashRange {
        start: parse(&meta.hash_start)?,
        end: parse(&meta.hash_end)?,
    })
}

/// Opens a shard's log (recovering it) and records its metadata file; the
/// recovery report goes into `report`.
pub(crate) fn open_shard(
    storage: &Storage,
    config: &EngineConfig,
    stream: &StreamMeta,
    meta: ShardMeta,
    report: &mut OpenReport,
) -> Result<ShardState, Failed> {
    let dir = shard_dir(config, stream, meta.index);
    let (log, recovery) = storage.open_log(&dir, config.log)?;
    report.note_recovery(&stream.name, meta.index, recovery);
    if let Some(cause) = log.failure() {
        report
            .read_only
            .push(ShardProblem::new(&stream.name, meta.index, cause));
    } else {
        crate::layout::sync_shard_meta(storage.fs().as_ref(), &dir, &meta)
            .map_err(Failed::Manifest)?;
    }
    Ok(ShardState {
        range: shard_range(&meta)?,
        meta,
        log,
        quota: Arc::new(Mutex::new(ShardQuota::new(config.clock.now_ms()))),
    })
}

/// At engine open: a shard whose log cannot be opened (damage recovery will not
/// cut) is quarantined rather than failing the whole engine: its reads answer with
/// the cause, every other shard works, and `repair` can fix it.
fn open_shard_or_quarantine(
    storage: &Storage,
    config: &EngineConfig,
    stream: &StreamMeta,
    meta: ShardMeta,
    report: &mut OpenReport,
) -> Result<ShardState, Failed> {
    match open_shard(storage, config, stream, meta.clone(), report) {
        Ok(state) => Ok(state),
        Err(Failed::Storage(error)) if error.is_damage() => {
            let cause = error.to_string();
            report
                .quarantined
                .push(ShardProblem::new(&stream.name, meta.index, cause.clone()));
            let dir = shard_dir(config, stream, meta.index);
            Ok(ShardState {
                range: shard_range(&meta)?,
                log: storage.open_quarantined(dir, config.log, cause),
                meta,
                quota: Arc::new(Mutex::new(ShardQuota::new(config.clock.now_ms()))),
            })
        }
        Err(error) => Err(error),
    }
}

fn open_stream(
    storage: &Storage,
    config: &EngineConfig,
    meta: StreamMeta,
    report: &mut OpenReport,
    tolerate_damage: bool,
) -> Result<StreamState, Failed> {
    let mut shards = BTreeMap::new();
    for shard in meta.shards.values() {
        let opened = if tolerate_damage {
            open_shard_or_quarantine(storage, config, &meta, shard.clone(), report)?
        } else {
            open_shard(storage, config, &meta, shard.clone(), report)?
        };
        shards.insert(shard.index, opened);
    }
    Ok(StreamState { meta, shards })
}

/// Removes every file under `dir` (directories stay, empty), syncing each
/// directory so that the removals survive a power loss.
fn remove_tree_files(fs: &dyn FileSystem, dir: &Path) -> Result<(), Failed> {
    let Ok(names) = fs.list_dir(dir) else {
        return Ok(());
    };
    for name in names {
        let path = dir.join(name);
        if fs.list_dir(&path).is_ok() {
            remove_tree_files(fs, &path)?;
        } else {
            fs.remove_file(&path).map_err(Failed::Manifest)?;
        }
    }
    fs.sync_dir(dir).map_err(Failed::Manifest)
}

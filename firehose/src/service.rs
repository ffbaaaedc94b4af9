//! The Firehose service: delivery streams over one data directory, each with its
//! metadata, checkpoint and (for Direct PUT) staging log in
//! `<data-dir>/firehose/<name>/`, and a delivery thread.

use crate::config::{DeliveryStreamConfig, DestinationConfig, SourceConfig};
use crate::delivery::{Stop, StreamShared, Worker};
use crate::dest::Destinations;
use crate::error::{io_err, Error, Result};
use crate::files::{create_dirs_durably, sync_dir};
use crate::kinesis::KinesisSource;
use crate::meta::StreamMeta;
use crate::source::{Source, StagingSource, STAGING_PARTITION};
use shardlog_engine::Engine;
use shardlog_segment::{Log, LogConfig, ReadLimits, Record, Storage, StorageConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest record, bytes (Firehose: 1,000 KiB).
pub const RECORD_BYTES_MAX: usize = 1000 << 10;
/// Most records in one PutRecordBatch (Firehose: 500).
pub const BATCH_RECORDS_MAX: usize = 500;
/// Largest PutRecordBatch, bytes of record data (Firehose: 4 MiB).
pub const BATCH_BYTES_MAX: usize = 4 << 20;
/// Most tags on a delivery stream (Firehose: 50).
pub const TAGS_MAX: usize = 50;
/// Partition key of staged records (the staging log needs one; it is unused).
const STAGING_KEY: &str = "firehose";

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct FirehoseConfig {
    /// The data directory (delivery streams live in `firehose/`, local buckets in
    /// `buckets/`).
    pub data_dir: PathBuf,
    /// Backend and durability of the staging logs (PutRecord is acknowledged
    /// once staged under this policy). Default: the segment crate's default.
    pub storage: StorageConfig,
    /// Record bytes a delivery stream may hold undelivered before Put calls are
    /// refused (back-pressure). Default 256 MiB; at least 1 MiB (below the
    /// buffering size hint, buffers are flushed by the interval hint only).
    pub backlog_bytes_max: u64,
    /// Most delivery streams. Default 5,000 (Firehose's quota is per region).
    pub delivery_streams_max: usize,
}

impl FirehoseConfig {
    /// Defaults over `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> FirehoseConfig {
        FirehoseConfig {
            data_dir: data_dir.into(),
            storage: StorageConfig::default(),
            backlog_bytes_max: 256 << 20,
            delivery_streams_max: 5_000,
        }
    }
}

/// What DescribeDeliveryStream shows.
#[derive(Debug, Clone)]
pub struct StreamStatus {
    /// Durable metadata.
    pub meta: StreamMeta,
    /// The last delivery failure, if the destination is failing now.
    pub failure: Option<String>,
    /// Record bytes accepted and not yet delivered.
    pub backlog_bytes: u64,
    /// Objects written since the service started.
    pub objects_delivered: u64,
}

#[derive(Debug)]
struct StreamHandle {
    shared: Arc<StreamShared>,
    log: Option<Log>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Inner {
    config: FirehoseConfig,
    storage: Storage,
    engine: Option<Engine>,
    destinations: Destinations,
    streams: Mutex<BTreeMap<String, Arc<StreamHandle>>>,
}

/// Delivery streams. Cheap to clone; clones share the service.
#[derive(Debug, Clone)]
pub struct Firehose {
    inner: Arc<Inner>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Firehose {
    /// Opens the delivery streams of `config.data_dir` and starts delivering.
    /// `engine` serves Kinesis-stream sources (none: such streams cannot be made).
    pub fn open(
        config: FirehoseConfig,
        engine: Option<Engine>,
        destinations: Destinations,
    ) -> Result<Firehose> {
        if config.backlog_bytes_max < 1 << 20 {
            return Err(Error::InvalidArgument(
                "backlog_bytes_max must be at least 1 MiB".into(),
            ));
        }
        let root = config.data_dir.join("firehose");
        std::fs::create_dir_all(&root).map_err(io_err("create directory", &root))?;
        let storage = Storage::open_in(
            shardlog_segment::io::RealFs::shared(),
            config.storage,
            &root,
        )?;
        let service = Firehose {
            inner: Arc::new(Inner {
                config,
                storage,
                engine,
                destinations,
                streams: Mutex::new(BTreeMap::new()),
            }),
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&root)
            .map_err(io_err("list", &root))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for dir in entries {
            let name = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name == shardlog_segment::JOURNAL_FILE_NAME {
                // The storage's commit journal, not a delivery stream.
                continue;
            }
            if name.starts_with(".deleted-") {
                std::fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))?;
                continue;
            }
            if !dir.join("meta.json").exists() {
                // A creation that crashed before its metadata was durable.
                std::fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))?;
                continue;
            }
            let meta = StreamMeta::load(&dir)?;
            let handle = service.start(dir, meta)?;
            let name = handle.shared.meta().config.name;
            lock(&service.inner.streams).insert(name, handle);
        }
        Ok(service)
    }

    fn root(&self) -> PathBuf {
        self.inner.config.data_dir.join("firehose")
    }

    /// The service configuration.
    pub fn config(&self) -> &FirehoseConfig {
        &self.inner.config
    }

    fn source_of(&self, meta: &StreamMeta, log: Option<&Log>) -> Result<Box<dyn Source>> {
        match (&meta.config.source, log) {
            (SourceConfig::DirectPut, Some(log)) => Ok(Box::new(StagingSource::new(log.clone()))),
            (SourceConfig::Kinesis { stream_name, start }, _) => {
                let engine = self.inner.engine.clone().ok_or_else(|| {
                    Error::InvalidArgument("Kinesis-stream sources need the engine".into())
                })?;
                Ok(Box::new(KinesisSource::new(
                    engine,
                    stream_name.clone(),
                    *start,
                    meta.created_ms,
                )))
            }
            (SourceConfig::DirectPut, None) => {
                unreachable!("Direct PUT streams open a staging log")
            }
        }
    }

    /// Opens a stream's staging log (Direct PUT) and starts its delivery thread.
    fn start(&self, dir: PathBuf, meta: StreamMeta) -> Result<Arc<StreamHandle>> {
        let name = meta.config.name.clone();
        let log = match meta.config.source {
            SourceConfig::DirectPut => {
                let log_config = LogConfig {
                    segment_bytes_max: 64 << 20,
                    ..LogConfig::default()
                };
                Some(
                    self.inner
                        .storage
                        .open_log(dir.join("staging"), log_config)?
                        .0,
                )
            }
            SourceConfig::Kinesis { .. } => None,
        };
        let source = self.source_of(&meta, log.as_ref())?;
        let shared = Arc::new(StreamShared::new(dir, meta));
        let worker = Worker::new(Arc::clone(&shared), source, self.inner.destinations.clone())?;
        if let Some(log) = &log {
            let after = worker
                .checkpoint()
                .delivered
                .get(STAGING_PARTITION)
                .copied();
            shared
                .backlog_bytes
                .store(undelivered_bytes(log, after)?, Ordering::Release);
        }
        let thread_name = format!("firehose-{name}");
        let thread = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                if let Err(error) = worker.run() {
                    tracing::warn!(%error, "delivery stopped with undelivered records; they are delivered after restart");
                }
            })
            .map_err(io_err("spawn delivery thread for", PathBuf::from(&name)))?;
        Ok(Arc::new(StreamHandle {
            shared,
            log,
            worker: Mutex::new(Some(thread)),
        }))
    }

    fn handle(&self, name: &str) -> Result<Arc<StreamHandle>> {
        lock(&self.inner.streams)
            .get(name)
            .cloned()
            .ok_or_else(|| Error::DeliveryStreamNotFound {
                name: name.to_string(),
            })
    }

    /// CreateDeliveryStream.
    pub fn create(
        &self,
        config: DeliveryStreamConfig,
        tags: BTreeMap<String, String>,
    ) -> Result<()> {
        config.validate()?;
        validate_tags(&tags)?;
        if let SourceConfig::Kinesis { stream_name, .. } = &config.source {
            let engine = self.inner.engine.as_ref().ok_or_else(|| {
                Error::InvalidArgument("Kinesis-stream sources need the engine".into())
            })?;
            engine.describe_stream(stream_name, 1, None)?;
        }
        // Held until the stream is listed, so that one of two creates of a name fails.
        let mut streams = lock(&self.inner.streams);
        if streams.contains_key(&config.name) {
            return Err(Error::DeliveryStreamExists {
                name: config.name.clone(),
            });
        }
        if streams.len() >= self.inner.config.delivery_streams_max {
            return Err(Error::LimitExceeded(format!(
                "You have already consumed your firehose quota of {} hoses.",
                self.inner.config.delivery_streams_max
            )));
        }
        let root = self.root();
        let dir = root.join(&config.name);
        // Leftovers of a creation that crashed before its metadata was durable.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_err("remove", &dir))?;
        }
        create_dirs_durably(&root, &dir)?;
        let now = now_ms();
        let meta = StreamMeta {
            config,
            version_id: 1,
            created_ms: now,
            updated_ms: now,
            tags,
            inferred_columns: None,
        };
        meta.save(&dir)?;
        let name = meta.config.name.clone();
        let handle = self.start(dir, meta)?;
        streams.insert(name, handle);
        Ok(())
    }

    /// DeleteDeliveryStream: stops delivery at once (undelivered records are
    /// discarded, as Firehose does) and removes the stream's files.
    pub fn delete(&self, name: &str) -> Result<()> {
        let handle = self.handle(name)?;
        lock(&self.inner.streams).remove(name);
        handle.shared.request_stop(Stop::Discard);
        if let Some(thread) = lock(&handle.worker).take() {
            let _ = thread.join();
        }
        if let Some(log) = &handle.log {
            log.close()?;
        }
        let root = self.root();
        let doomed = root.join(format!(".deleted-{name}-{}", now_ms()));
        std::fs::rename(&handle.shared.dir, &doomed).map_err(io_err("rename", &doomed))?;
        sync_dir(&root)?;
        std::fs::remove_dir_all(&doomed).map_err(io_err("remove", &doomed))
    }

    /// DescribeDeliveryStream.
    pub fn describe(&self, name: &str) -> Result<StreamStatus> {
        let handle = self.handle(name)?;
        let shared = &handle.shared;
        let failure = lock(&shared.failure).clone();
        Ok(StreamStatus {
            meta: shared.meta(),
            failure,
            backlog_bytes: shared.backlog_bytes.load(Ordering::Acquire),
            objects_delivered: shared.objects_delivered.load(Ordering::Relaxed),
        })
    }

    /// ListDeliveryStreams: names after `exclusive_start`, of the given source
    /// kind (`Some(true)`: Direct PUT only; `Some(false)`: Kinesis only), at most
    /// `limit`; and whether more follow.
    pub fn list(
        &self,
        limit: usize,
        exclusive_start: Option<&str>,
        direct_put: Option<bool>,
    ) -> (Vec<String>, bool) {
        let streams = lock(&self.inner.streams);
        let mut names: Vec<String> = streams
            .iter()
            .filter(|(name, _)| exclusive_start.is_none_or(|start| name.as_str() > start))
            .filter(|(_, handle)| direct_put.is_none_or(|direct| direct == handle.log.is_some()))
            .map(|(name, _)| name.clone())
            .collect();
        let more = names.len() > limit;
        names.truncate(limit);
        (names, more)
    }

    /// PutRecord / PutRecordBatch: stages `records` durably (under the storage's
    /// durability policy) before returning their ids. All or nothing.
    pub fn put_records(&self, name: &str, records: &[&[u8]]) -> Result<Vec<String>> {
        let handle = self.handle(name)?;
        let Some(log) = &handle.log else {
            return Err(Error::InvalidArgument(format!(
                "This operation is not permitted on KinesisStreamAsSource delivery stream type ({name})."
            )));
        };
        check_batch(records)?;
        let bytes: u64 = records.iter().map(|r| r.len() as u64).sum();
        let backlog = &handle.shared.backlog_bytes;
        let before = backlog.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.inner.config.backlog_bytes_max {
            backlog.fetch_sub(bytes, Ordering::AcqRel);
            return Err(Error::Unavailable(format!(
                "Slow down. Delivery stream {name} holds {before} undelivered bytes; its destination is behind."
            )));
        }
        let staged: Vec<Record<'_>> = records
            .iter()
            .map(|data| Record {
                partition_key: STAGING_KEY,
                explicit_hash_key: None,
                data,
            })
            .collect();
        let appended = match log.append(&staged) {
            Ok(appended) => appended,
            Err(error) => {
                backlog.fetch_sub(bytes, Ordering::AcqRel);
                return Err(error.into());
            }
        };
        let created_ms = handle.shared.meta().created_ms;
        Ok((0..appended.count)
            .map(|i| record_id(created_ms, appended.base_position + i))
            .collect())
    }

    /// UpdateDestination: replaces the destination when `current_version` matches;
    /// the next flush uses it. Returns the new version id.
    pub fn update_destination(
        &self,
        name: &str,
        current_version: u64,
        destination: DestinationConfig,
    ) -> Result<u64> {
        destination.validate()?;
        let handle = self.handle(name)?;
        self.change_meta(&handle, |meta| {
            if meta.version_id != current_version {
                return Err(Error::InvalidArgument(format!(
                    "Version id {current_version} does not match the current version id {} of {name}.",
                    meta.version_id
                )));
            }
            if meta.config.destination.conversion != destination.conversion {
                meta.inferred_columns = None;
            }
            meta.config.destination = destination;
            meta.version_id += 1;
            Ok(())
        })
        .map(|meta| meta.version_id)
    }

    /// TagDeliveryStream.
    pub fn tag(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        validate_tags(&tags)?;
        let handle = self.handle(name)?;
        self.change_meta(&handle, |meta| {
            let mut merged = meta.tags.clone();
            merged.extend(tags);
            if merged.len() > TAGS_MAX {
                return Err(Error::LimitExceeded(format!(
                    "A delivery stream has at most {TAGS_MAX} tags."
                )));
            }
            meta.tags = merged;
            Ok(())
        })
        .map(drop)
    }

    /// UntagDeliveryStream.
    pub fn untag(&self, name: &str, keys: &[String]) -> Result<()> {
        let handle = self.handle(name)?;
        self.change_meta(&handle, |meta| {
            for key in keys {
                meta.tags.remove(key);
            }
            Ok(())
        })
        .map(drop)
    }

    /// Applies `change` to a copy of the metadata, saves it, then publishes it.
    fn change_meta(
        &self,
        handle: &StreamHandle,
        change: impl FnOnce(&mut StreamMeta) -> Result<()>,
    ) -> Result<StreamMeta> {
        let mut meta = lock(&handle.shared.meta);
        let mut changed = meta.clone();
        change(&mut changed)?;
        changed.updated_ms = now_ms();
        changed.save(&handle.shared.dir)?;
        *meta = changed.clone();
        Ok(changed)
    }

    /// Stops every delivery loop after it delivered what its source holds (a
    /// failing destination is tried a few times; what is left is delivered after
    /// restart), then closes the staging logs.
    pub fn shutdown(&self) -> Result<()> {
        let handles: Vec<Arc<StreamHandle>> = lock(&self.inner.streams).values().cloned().collect();
        for handle in &handles {
            handle.shared.request_stop(Stop::Flush);
        }
        for handle in &handles {
            if let Some(thread) = lock(&handle.worker).take() {
                let _ = thread.join();
            }
        }
        self.inner.storage.shutdown()?;
        Ok(())
    }
}

/// An opaque record id: the stream's creation time and the staging position.
fn record_id(created_ms: u64, position: u64) -> String {
    format!(
        "{created_ms:020}{position:020}{:016x}",
        created_ms ^ position.rotate_left(17)
    )
}

fn check_batch(records: &[&[u8]]) -> Result<()> {
    if records.is_empty() || records.len() > BATCH_RECORDS_MAX {
        return Err(Error::InvalidArgument(format!(
            "A batch holds 1 to {BATCH_RECORDS_MAX} records, not {}.",
            records.len()
        )));
    }
    if let Some(big) = records.iter().find(|r| r.len() > RECORD_BYTES_MAX) {
        return Err(Error::InvalidArgument(format!(
            "Record size {} exceeds the limit of {RECORD_BYTES_MAX} bytes.",
            big.len()
        )));
    }
    let total: usize = records.iter().map(|r| r.len()).sum();
    if total > BATCH_BYTES_MAX {
        return Err(Error::InvalidArgument(format!(
            "Records size {total} exceeds the limit of {BATCH_BYTES_MAX} bytes per batch."
        )));
    }
    Ok(())
}

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > TAGS_MAX {
        return Err(Error::LimitExceeded(format!(
            "A delivery stream has at most {TAGS_MAX} tags."
        )));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(Error::InvalidArgument(format!(
                "Tag key '{key}' must be 1 to 128 characters and its value at most 256."
            )));
        }
    }
    Ok(())
}

/// Record bytes in `log` after position `after` (all of it when `None`).
fn undelivered_bytes(log: &Log, after: Option<u128>) -> Result<u64> {
    let mut position = after.map_or(0, |p| p as u64 + 1).max(log.first_position());
    let mut total = 0u64;
    let limits = ReadLimits {
        records_max: 10_000,
        bytes_max: 16 << 20,
    };
    while position < log.end_position() {
        let read = log.read(position, limits)?;
        if read.record_count == 0 {
            break;
        }
        total += read.data_bytes as u64;
        position = read.next_position;
    }
    Ok(total)
}

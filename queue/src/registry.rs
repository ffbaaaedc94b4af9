//! The registry of queues: create, delete, list, attributes and tags, backed by
//! the MANIFEST; and the operations that involve two queues (redrive).

use crate::attributes::{AttributesUpdate, QueueAttributes};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, QueueRecord, MANIFEST_NAME};
use crate::queue::Queue;
use crate::receive::{ReceiveRequest, ReceivedMessage};
use crate::types::{Clock, QueueName};
use shardlog_segment::io::{remove_dir_durably, FileSystem};
use shardlog_segment::{LogConfig, Storage};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Most tags per queue.
pub const TAGS_MAX: usize = 50;

/// What opening the queues found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Queues opened.
    pub queues: usize,
    /// Entries of the queues directory that the MANIFEST does not account for; left alone.
    pub unknown_entries: Vec<String>,
    /// Queues whose logs could not be read, with why: listed and deletable, but
    /// they refuse every other operation (see [`Error::QueueQuarantined`]).
    pub quarantined: Vec<(QueueName, String)>,
}

/// When a queue was created and last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueTimestamps {
    /// Creation time (ms since the epoch).
    pub created_ms: u64,
    /// Last change of attributes (ms since the epoch); the creation time if none.
    pub modified_ms: u64,
}

/// Settings of the queues.
#[derive(Debug, Clone)]
pub struct QueuesConfig {
    /// The clock for visibility, delays, retention and deduplication. Default: the system clock.
    pub clock: Arc<dyn Clock>,
    /// Size at which a queue's message and state logs roll to a new segment; a
    /// segment is reclaimed once all its messages are gone. Default 64 MiB; range
    /// 64 KiB..=1 GiB.
    pub segment_bytes_max: u64,
}

impl Default for QueuesConfig {
    fn default() -> Self {
        QueuesConfig {
            clock: Arc::new(crate::types::SystemClock),
            segment_bytes_max: 64 << 20,
        }
    }
}

/// Every queue of a data directory.
#[derive(Debug)]
pub struct Queues {
    storage: Storage,
    root: PathBuf,
    pub(crate) clock: Arc<dyn Clock>,
    log_config: LogConfig,
    registry: Mutex<Registry>,
    /// Move tasks in progress (lock before `registry` when taking both).
    tasks: Mutex<TaskProgress>,
    /// Signalled when a move task is cancelled or the queues stop.
    pub(crate) tasks_changed: Condvar,
}

#[derive(Debug)]
pub(crate) struct Registry {
    pub manifest: Manifest,
    open: BTreeMap<QueueName, Arc<Queue>>,
    /// When queues were deleted, for [`QUEUE_NAME_REUSE_MS`] (in memory only).
    deleted_ms: HashMap<QueueName, u64>,
}

/// How long after a queue is deleted its name cannot be used again.
pub const QUEUE_NAME_REUSE_MS: u64 = 60_000;

/// What running move tasks share with their callers.
#[derive(Debug, Default)]
pub(crate) struct TaskProgress {
    /// Messages moved so far, by task id, while the task runs.
    pub moved: HashMap<u64, u64>,
    /// Set when the queues stop: running tasks return.
    pub stopping: bool,
}

impl Queues {
    /// Opens the queues in `root` (created if new), recovering each queue's state.
    pub fn open(
        storage: Storage,
        root: impl AsRef<Path>,
        config: QueuesConfig,
    ) -> Result<(Queues, OpenReport)> {
        if !(64 << 10..=1 << 30).contains(&config.segment_bytes_max) {
            return Err(Error::InvalidParameter {
                parameter: "segment_bytes_max",
                reason: format!("{} is outside 64 KiB..=1 GiB", config.segment_bytes_max),
            });
        }
        let log_config = LogConfig {
            segment_bytes_max: config.segment_bytes_max,
            ..crate::queue::log_config()
        };
        let clock = config.clock;
        let root = root.as_ref().to_path_buf();
        let fs = storage.fs().as_ref();
        let mut manifest = manifest::load(fs, &root)?;
        if crate::move_task::fail_interrupted(&mut manifest.move_tasks) {
            manifest::store(fs, &root, &manifest)?;
        }
        let mut open = BTreeMap::new();
        let mut quarantined = Vec::new();
        for record in &manifest.queues {
            let queue = open_or_quarantine(&storage, log_config, &root, record, &clock)?;
            if let Some(cause) = queue.quarantine_cause() {
                quarantined.push((record.name.clone(), cause.to_string()));
            }
            open.insert(record.name.clone(), Arc::new(queue));
        }
        let unknown_entries = unknown_entries(fs, &root, &manifest)?;
        let report = OpenReport {
            queues: open.len(),
            unknown_entries,
            quarantined,
        };
        let registry = Mutex::new(Registry {
            manifest,
            open,
            deleted_ms: HashMap::new(),
        });
        Ok((
            Queues {
                storage,
                root,
                clock,
                log_config,
                registry,
                tasks: Mutex::new(TaskProgress::default()),
                tasks_changed: Condvar::new(),
            },
            report,
        ))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn lock_tasks(&self) -> MutexGuard<'_, TaskProgress> {
        self.tasks
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Changes the MANIFEST's move tasks with `change`, durably.
    pub(crate) fn record_move_task<T>(
        &self,
        change: impl FnOnce(&mut Manifest) -> Result<T>,
    ) -> Result<T> {
        let mut registry = self.lock();
        let mut manifest = registry.manifest.clone();
        let out = change(&mut manifest)?;
        manifest::store(self.storage.fs().as_ref(), &self.root, &manifest)?;
        registry.manifest = manifest;
        Ok(out)
    }

    /// Creates a queue (FIFO if the name ends in `.fifo`). Creating a queue that
    /// exists with the same attributes returns it; with others, fails.
    pub fn create_queue(
        &self,
        name: &QueueName,
        attributes: &AttributesUpdate,
        tags: BTreeMap<String, String>,
    ) -> Result<Arc<Queue>> {
        let attributes = attributes.apply_to(&QueueAttributes::default(), name)?;
        check_tags(&tags)?;
        let mut registry = self.lock();
        if let Some(queue) = registry.open.get(name) {
            if queue.attributes() == attributes {
                return Ok(Arc::clone(queue));
            }
            return Err(Error::QueueExists {
                queue: name.clone(),
            });
        }
        let now_ms = self.clock.now_ms();
        registry
            .deleted_ms
            .retain(|_, deleted_ms| now_ms < *deleted_ms + QUEUE_NAME_REUSE_MS);
        if registry.deleted_ms.contains_key(name) {
            return Err(Error::QueueDeletedRecently {
                queue: name.clone(),
            });
        }
        check_dead_letter(&registry, name, &attributes)?;
        let mut manifest = registry.manifest.clone();
        let record = QueueRecord {
            id: manifest.next_id,
            name: name.clone(),
            created_ms: self.clock.now_ms(),
            modified_ms: self.clock.now_ms(),
            attributes: attributes.clone(),
            tags,
        };
        manifest.next_id += 1;
        manifest.queues.push(record.clone());
        // The manifest first: a crash after it leaves a queue whose logs open empty;
        // the other order would leave directories nothing accounts for.
        manifest::store(self.storage.fs().as_ref(), &self.root, &manifest)?;
        registry.manifest = manifest;
        let queue = Arc::new(Queue::open(
            &self.storage,
            self.log_config,
            &record.dir(&self.root),
            record.id,
            name.clone(),
            attributes,
            Arc::clone(&self.clock),
        )?);
        registry.open.insert(name.clone(), Arc::clone(&queue));
        Ok(queue)
    }

    /// Deletes a queue and its messages.
    pub fn delete_queue(&self, name: &str) -> Result<()> {
        let mut registry = self.lock();
        let queue = lookup(&registry, name)?;
        let mut manifest = registry.manifest.clone();
        manifest.queues.retain(|record| record.id != queue.id());
        // Its move tasks go with it (a running one fails: its source is gone).
        manifest
            .move_tasks
            .retain(|task| &task.source != queue.name());
        manifest::store(self.storage.fs().as_ref(), &self.root, &manifest)?;
        registry.manifest = manifest;
        registry.open.remove(queue.name());
        let now_ms = self.clock.now_ms();
        registry.deleted_ms.insert(queue.name().clone(), now_ms);
        drop(registry);
        queue.close()?;
        self.remove_queue_files(&queue)
    }

    /// Removes a deleted queue's directory with its logs. The MANIFEST no longer
    /// lists the queue, so whatever a failure here leaves is reported at the next
    /// open, never reused.
    fn remove_queue_files(&self, queue: &Queue) -> Result<()> {
        let fs = self.storage.fs();
        let queue_dir = queue.messages.dir().parent();
        for dir in [
            Some(queue.messages.dir()),
            Some(queue.state.dir()),
            queue_dir,
        ] {
            let Some(dir) = dir else { continue };
            remove_dir_durably(fs.as_ref(), dir).map_err(|source| Error::Manifest {
                op: "remove",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(())
    }

    /// The queue named `name`.
    pub fn queue(&self, name: &str) -> Result<Arc<Queue>> {
        lookup(&self.lock(), name)
    }

    /// Names of the queues that start with `prefix`, sorted.
    pub fn list_queues(&self, prefix: &str) -> Vec<QueueName> {
        let registry = self.lock();
        registry
            .open
            .keys()
            .filter(|name| name.as_str().starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Queues whose redrive policy names `name` as their dead-letter queue.
    pub fn dead_letter_sources(&self, name: &str) -> Result<Vec<QueueName>> {
        let registry = self.lock();
        lookup(&registry, name)?;
        Ok(registry
            .manifest
            .queues
            .iter()
            .filter(|r| {
                r.attributes
                    .redrive
                    .as_ref()
                    .is_some_and(|p| p.dead_letter_queue.as_str() == name)
            })
            .map(|r| r.name.clone())
            .collect())
    }

    /// Changes attributes, durably.
    pub fn set_attributes(&self, name: &str, update: &AttributesUpdate) -> Result<()> {
        self.queue(name)?.check_usable()?;
        let now_ms = self.clock.now_ms();
        self.update_record(name, |registry, record| {
            let attributes = update.apply_to(&record.attributes, &record.name)?;
            check_dead_letter(registry, &record.name, &attributes)?;
            record.attributes = attributes;
            record.modified_ms = now_ms;
            Ok(())
        })
    }

    /// Adds or replaces tags.
    pub fn tag_queue(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.update_record(name, |_, record| {
            let mut merged = record.tags.clone();
            merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            check_tags(&merged)?;
            record.tags = merged;
            Ok(())
        })
    }

    /// Removes tags by key (absent keys are ignored).
    pub fn untag_queue(&self, name: &str, keys: &[String]) -> Result<()> {
        self.update_record(name, |_, record| {
            record.tags.retain(|key, _| !keys.contains(key));
            Ok(())
        })
    }

    /// A queue's tags.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let registry = self.lock();
        let queue = lookup(&registry, name)?;
        Ok(record_of(&registry.manifest, queue.id()).tags.clone())
    }

    /// When a queue was created and when its attributes last changed (ms).
    pub fn timestamps(&self, name: &str) -> Result<QueueTimestamps> {
        let registry = self.lock();
        let queue = lookup(&registry, name)?;
        let record = record_of(&registry.manifest, queue.id());
        Ok(QueueTimestamps {
            created_ms: record.created_ms,
            modified_ms: record.modified_ms.max(record.created_ms),
        })
    }

    fn update_record(
        &self,
        name: &str,
        change: impl FnOnce(&Registry, &mut QueueRecord) -> Result<()>,
    ) -> Result<()> {
        let mut registry = self.lock();
        let queue = lookup(&registry, name)?;
        let mut manifest = registry.manifest.clone();
        let index = manifest
            .queues
            .iter()
            .position(|r| r.id == queue.id())
            .expect("open queues are listed");
        change(&registry, &mut manifest.queues[index])?;
        manifest::store(self.storage.fs().as_ref(), &self.root, &manifest)?;
        queue.set_attributes(manifest.queues[index].attributes.clone());
        registry.manifest = manifest;
        Ok(())
    }

    /// Receives from `name`, moving messages over their receive limit to the
    /// queue's dead-letter queue (if it exists).
    pub fn receive(&self, name: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>> {
        let (queue, dead_letter) = self.receive_target(name)?;
        queue.receive(request, dead_letter.as_deref())
    }

    /// [`Queues::receive`] without blocking a thread, long polls bounded by
    /// `sleep`: `None` when the receive must block, and so go through `receive`
    /// (see [`Queue::receive_unblocked`]).
    pub async fn receive_unblocked<S: Future<Output = ()>>(
        &self,
        name: &str,
        request: &ReceiveRequest,
        sleep: impl Fn(Duration) -> S,
    ) -> Option<Result<Vec<ReceivedMessage>>> {
        let (queue, dead_letter) = match self.receive_target(name) {
            Ok(target) => target,
            Err(error) => return Some(Err(error)),
        };
        queue
            .receive_unblocked(request, dead_letter.as_deref(), sleep)
            .await
    }

    /// The queue `name` and the dead-letter queue its receives move messages to.
    fn receive_target(&self, name: &str) -> Result<(Arc<Queue>, Option<Arc<Queue>>)> {
        let registry = self.lock();
        let queue = lookup(&registry, name)?;
        // Messages over the limit stay in this queue while its dead-letter
        // queue is quarantined, rather than failing every receive.
        let dead_letter = queue
            .attributes()
            .redrive
            .and_then(|policy| registry.open.get(&policy.dead_letter_queue).cloned())
            .filter(|dead_letter| dead_letter.quarantine_cause().is_none());
        Ok((queue, dead_letter))
    }

    /// Ends every long poll now and any later one at once ([`Queue::end_waits`]).
    pub fn end_waits(&self) {
        let queues: Vec<Arc<Queue>> = self.lock().open.values().cloned().collect();
        queues.iter().for_each(|queue| queue.end_waits());
    }

    /// Closes every queue (syncing its logs). Running move tasks return first.
    pub fn close(&self) -> Result<()> {
        self.stop_move_tasks();
        let queues: Vec<Arc<Queue>> = self.lock().open.values().cloned().collect();
        queues.iter().try_for_each(|queue| queue.close())
    }
}

/// Opens a queue of the MANIFEST. A queue whose logs cannot be read (damage,
/// see [`Error::is_damage`]) is quarantined so that the other queues open; any
/// other failure fails the open as a whole.
fn open_or_quarantine(
    storage: &Storage,
    log_config: LogConfig,
    root: &Path,
    record: &QueueRecord,
    clock: &Arc<dyn Clock>,
) -> Result<Queue> {
    let dir = record.dir(root);
    let (id, name) = (record.id, record.name.clone());
    let attributes = record.attributes.clone();
    let clock = Arc::clone(clock);
    match Queue::open(
        storage,
        log_config,
        &dir,
        id,
        name.clone(),
        attributes.clone(),
        Arc::clone(&clock),
    ) {
        Err(error) if error.is_damage() => {
            // Reported in the OpenReport; its owner logs it.
            let cause = error.to_string();
            Ok(Queue::quarantined(
                storage,
                log_config,
                &dir,
                (id, name),
                attributes,
                clock,
                cause,
            ))
        }
        opened => opened,
    }
}

/// Entries of the queues directory that the manifest does not account for.
fn unknown_entries(fs: &dyn FileSystem, root: &Path, manifest: &Manifest) -> Result<Vec<String>> {
    if !fs.exists(root) {
        return Ok(Vec::new());
    }
    let known: Vec<String> = manifest
        .queues
        .iter()
        .filter_map(|r| {
            r.dir(root)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect();
    let entries = fs.list_dir(root).map_err(|source| Error::Manifest {
        op: "list",
        path: root.to_path_buf(),
        source,
    })?;
    Ok(entries
        .into_iter()
        .filter(|name| name != MANIFEST_NAME && !name.ends_with(".tmp") && !known.contains(name))
        .collect())
}

fn lookup(registry: &Registry, name: &str) -> Result<Arc<Queue>> {
    registry
        .open
        .iter()
        .find(|(key, _)| key.as_str() == name)
        .map(|(_, queue)| Arc::clone(queue))
        .ok_or_else(|| Error::QueueNotFound {
            queue: name.to_string(),
        })
}

fn record_of(manifest: &Manifest, id: u64) -> &QueueRecord {
    manifest
        .queues
        .iter()
        .find(|r| r.id == id)
        .expect("open queues are listed")
}

/// The dead-letter queue a redrive policy names exists and its redrive allow
/// policy lets `source` use it.
fn check_dead_letter(
    registry: &Registry,
    source: &QueueName,
    attributes: &QueueAttributes,
) -> Result<()> {
    let Some(policy) = &attributes.redrive else {
        return Ok(());
    };
    let dead_letter = registry
        .open
        .get(&policy.dead_letter_queue)
        .ok_or_else(|| Error::QueueNotFound {
            queue: policy.dead_letter_queue.to_string(),
        })?;
    let allowed = dead_letter.attributes().redrive_allow;
    if allowed.is_some_and(|allow| !allow.allows(source)) {
        return Err(Error::RedriveNotAllowed {
            source_queue: source.clone(),
            dead_letter: policy.dead_letter_queue.clone(),
        });
    }
    Ok(())
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    let invalid = |reason: String| {
        Err(Error::InvalidParameter {
            parameter: "Tags",
            reason,
        })
    };
    if tags.len() > TAGS_MAX {
        return invalid(format!("{} tags; at most {TAGS_MAX}", tags.len()));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return invalid(format!(
                "tag {key:?}: keys have 1 to 128 characters, values up to 256"
            ));
        }
    }
    Ok(())
}

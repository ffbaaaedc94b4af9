//! One topic: its log, its FIFO deduplication window, and the delivery workers
//! of its confirmed subscriptions.

use crate::delivery::{self, Control, RetryConfig, Sink, Worker};
use crate::error::{Error, Result};
use crate::fifo::{content_deduplication_id, Dedup, FirstPublish, DEDUPLICATION_WINDOW_MS};
use crate::manifest::{SubscriptionRecord, TopicAttributes};
use crate::message::MessageAttributes;
use crate::record::Published;
use crate::types::{now_ms, SubscriptionId, TopicName};
use shardlog_segment::io::FileSystem;
use shardlog_segment::{Log, ReadLimits, Record};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Most entries of one publish batch.
pub const PUBLISH_BATCH_MAX: usize = 10;

/// One message to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishRequest {
    /// The subject, if any.
    pub subject: Option<String>,
    /// The message.
    pub message: String,
    /// Its attributes.
    pub attributes: MessageAttributes,
    /// FIFO: the message group (required on FIFO topics, refused on others).
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (required unless content-based deduplication).
    pub deduplication_id: Option<String>,
    /// Whether the message is a JSON object of a message per protocol (checked
    /// by the caller).
    pub structure_json: bool,
}

/// What a publish is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The message id (for a duplicate: the first publish's).
    pub message_id: String,
    /// FIFO: the sequence number (the message's position in the topic's log).
    pub sequence_number: Option<u64>,
}

/// Appends `messages` to a topic's `log` as one batch, durable when it returns;
/// returns the first one's position.
pub(crate) fn append_published(log: &Log, messages: &[Published]) -> shardlog_segment::Result<u64> {
    let encoded: Vec<Vec<u8>> = messages.iter().map(Published::encode).collect();
    let records: Vec<Record<'_>> = encoded
        .iter()
        .map(|data| Record {
            partition_key: "m",
            explicit_hash_key: None,
            data,
        })
        .collect();
    Ok(log.append(&records)?.base_position)
}

/// A delivery worker: how to stop it, and its thread.
type Running = (Arc<Control>, Option<JoinHandle<()>>);
/// A topic's delivery workers by subscription, shared with them so that each
/// can see how far the others are (for reclaiming the log behind them all).
pub(crate) type Workers = Arc<Mutex<BTreeMap<SubscriptionId, Running>>>;

/// A topic of a [`crate::Topics`] registry.
pub struct Topic {
    pub(crate) id: u64,
    pub(crate) name: TopicName,
    pub(crate) dir: PathBuf,
    pub(crate) log: Log,
    pub(crate) attributes: Arc<Mutex<TopicAttributes>>,
    dedup: Mutex<Dedup>,
    workers: Workers,
    /// The newest read of the log, shared by the workers.
    recent: Arc<crate::recent::RecentRead>,
    /// Why the topic's files could not be read at open, if they could not: it
    /// then refuses publishes and subscriptions.
    quarantined: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topic").field("name", &self.name).finish()
    }
}

impl Topic {
    /// A topic over its opened log; rebuilds a FIFO topic's deduplication window.
    pub(crate) fn new(
        id: u64,
        name: TopicName,
        dir: PathBuf,
        log: Log,
        attributes: TopicAttributes,
    ) -> Result<Topic> {
        let topic = Topic::over(id, name, dir, log, attributes);
        if topic.name.is_fifo() {
            topic.rebuild_dedup()?;
        }
        Ok(topic)
    }

    /// A topic whose files could not be read (`cause`), over a quarantined log:
    /// it can be described and deleted, nothing else.
    pub(crate) fn quarantined(
        id: u64,
        name: TopicName,
        dir: PathBuf,
        log: Log,
        attributes: TopicAttributes,
        cause: String,
    ) -> Topic {
        Topic {
            quarantined: Some(cause),
            ..Topic::over(id, name, dir, log, attributes)
        }
    }

    /// The topic's parts, with no deduplication window and no workers yet.
    fn over(
        id: u64,
        name: TopicName,
        dir: PathBuf,
        log: Log,
        attributes: TopicAttributes,
    ) -> Topic {
        Topic {
            id,
            name,
            dir,
            log,
            attributes: Arc::new(Mutex::new(attributes)),
            dedup: Mutex::new(Dedup::default()),
            workers: Arc::new(Mutex::new(BTreeMap::new())),
            recent: Arc::default(),
            quarantined: None,
        }
    }

    /// Fails with [`Error::TopicQuarantined`] if the topic's files could not be read.
    pub(crate) fn check_usable(&self) -> Result<()> {
        match &self.quarantined {
            Some(cause) => Err(Error::TopicQuarantined {
                topic: self.name.to_string(),
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Reads the log's last 5 minutes of messages into the deduplication window.
    fn rebuild_dedup(&self) -> Result<()> {
        let since_ms = now_ms().saturating_sub(DEDUPLICATION_WINDOW_MS);
        let mut position = self.log.first_position();
        let end = self.log.end_position();
        let mut dedup = lock(&self.dedup);
        while position < end {
            let limits = ReadLimits {
                records_max: 1000,
                bytes_max: 8 << 20,
            };
            let read = self.log.read(position, limits)?;
            for record in read.records() {
                let Ok(message) = Published::decode(record.data) else {
                    continue;
                };
                if let (Some(id), true) = (message.deduplication_id, record.arrival_ms >= since_ms)
                {
                    let first = FirstPublish {
                        message_id: message.message_id,
                        position: record.position,
                    };
                    dedup.insert(id, first, record.arrival_ms);
                }
            }
            if read.next_position <= position {
                break;
            }
            position = read.next_position;
        }
        Ok(())
    }

    /// The name.
    pub fn name(&self) -> &TopicName {
        &self.name
    }

    /// The log's end: the position the next message gets.
    pub fn end_position(&self) -> u64 {
        self.log.end_position()
    }

    /// Publishes up to 10 messages as one append, acknowledged once durable. A
    /// FIFO duplicate within 5 minutes gets the first publish's answer and is not
    /// appended again.
    pub fn publish(&self, requests: Vec<PublishRequest>) -> Result<Vec<PublishOutcome>> {
        self.check_usable()?;
        if requests.is_empty() || requests.len() > PUBLISH_BATCH_MAX {
            return Err(Error::InvalidParameter {
                parameter: "entries",
                reason: format!("{} entries; 1 to 10 are allowed", requests.len()),
            });
        }
        let fifo = self.name.is_fifo();
        let content_based = lock(&self.attributes).content_based_deduplication;
        let messages = requests
            .into_iter()
            .map(|request| prepare(request, fifo, content_based))
            .collect::<Result<Vec<_>>>()?;
        if !fifo {
            self.append_at(&messages)?;
            return Ok(messages
                .into_iter()
                .map(|message| PublishOutcome {
                    message_id: message.message_id,
                    sequence_number: None,
                })
                .collect());
        }
        // One lock over lookup, append and insert, so that two publishes of one
        // deduplication id cannot both be appended.
        let mut dedup = lock(&self.dedup);
        let now = now_ms();
        let mut slots = Vec::with_capacity(messages.len());
        let mut fresh: Vec<Published> = Vec::new();
        let mut in_batch: BTreeMap<String, usize> = BTreeMap::new();
        for message in messages {
            let id = message
                .deduplication_id
                .clone()
                .expect("prepare gives FIFO messages a deduplication id");
            if let Some(first) = dedup.lookup(&id, now) {
                slots.push(Err(PublishOutcome {
                    message_id: first.message_id,
                    sequence_number: Some(first.position),
                }));
            } else if let Some(&index) = in_batch.get(&id) {
                slots.push(Ok(index));
            } else {
                in_batch.insert(id, fresh.len());
                slots.push(Ok(fresh.len()));
                fresh.push(message);
            }
        }
        let base = if fresh.is_empty() {
            0
        } else {
            self.append_at(&fresh)?
        };
        for (index, message) in fresh.iter().enumerate() {
            let first = FirstPublish {
                message_id: message.message_id.clone(),
                position: base + index as u64,
            };
            let id = message.deduplication_id.clone().expect("checked above");
            dedup.insert(id, first, now);
        }
        Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Err(known) => known,
                Ok(index) => PublishOutcome {
                    message_id: fresh[index].message_id.clone(),
                    sequence_number: Some(base + index as u64),
                },
            })
            .collect())
    }

    /// Appends `messages` as one batch, durable when it returns; returns the
    /// first one's position.
    fn append_at(&self, messages: &[Published]) -> Result<u64> {
        Ok(append_published(&self.log, messages)?)
    }

    /// Starts delivering to `record` from `position`.
    pub(crate) fn start_worker(
        &self,
        record: SubscriptionRecord,
        position: u64,
        fs: &Arc<dyn FileSystem>,
        sink: &Arc<dyn Sink>,
        retry: RetryConfig,
    ) -> Result<()> {
        let id = record.id.clone();
        let control = Control::new(record.clone(), position);
        let worker = Worker {
            topic: self.name.clone(),
            log: self.log.clone(),
            recent: Arc::clone(&self.recent),
            fs: Arc::clone(fs),
            position_path: delivery::position_path(&self.dir, &record),
            control: Arc::clone(&control),
            topic_attributes: Arc::clone(&self.attributes),
            peers: Arc::clone(&self.workers),
            fifo: self.name.is_fifo(),
            sink: Arc::clone(sink),
            retry,
            batch_records_max: 100,
            throttle: Default::default(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("sns-{}", &id.as_str()[..8.min(id.as_str().len())]))
            .spawn(move || worker.run(position))
            .map_err(|source| Error::Metadata {
                op: "start a delivery thread for",
                path: self.dir.clone(),
                source,
            })?;
        lock(&self.workers).insert(id, (control, Some(thread)));
        Ok(())
    }

    /// Gives a running worker the subscription's new attributes.
    pub(crate) fn update_worker(&self, record: &SubscriptionRecord) {
        if let Some((control, _)) = lock(&self.workers).get(&record.id) {
            control.set_record(record.clone());
        }
    }

    /// Stops the worker of `id` (if any) and waits for it; `removed` deletes its
    /// position as it exits.
    pub(crate) fn stop_worker(&self, id: &SubscriptionId, removed: bool) {
        let entry = lock(&self.workers).remove(id);
        if let Some((control, thread)) = entry {
            control.stop(removed);
            self.log.wake_waiters();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }

    /// Stops every worker and waits for them.
    pub(crate) fn stop_all(&self, removed: bool) {
        let ids: Vec<SubscriptionId> = lock(&self.workers).keys().cloned().collect();
        for (control, _) in lock(&self.workers).values() {
            control.stop(removed);
        }
        for id in ids {
            self.stop_worker(&id, removed);
        }
    }
}

/// Checks a request against the topic's kind and makes it a message.
fn prepare(request: PublishRequest, fifo: bool, content_based: bool) -> Result<Published> {
    let invalid = |parameter, reason: &str| Error::InvalidParameter {
        parameter,
        reason: reason.to_string(),
    };
    let deduplication_id = if fifo {
        if request.group_id.is_none() {
            return Err(invalid("group_id", "required for FIFO topics"));
        }
        match (request.deduplication_id, content_based) {
            (Some(id), _) => Some(id),
            (None, true) => Some(content_deduplication_id(&request.message)),
            (None, false) => {
                return Err(invalid(
                    "deduplication_id",
                    "required for FIFO topics without content-based deduplication",
                ))
            }
        }
    } else {
        if request.deduplication_id.is_some() {
            return Err(invalid("deduplication_id", "only for FIFO topics"));
        }
        if request.group_id.is_some() {
            return Err(invalid("group_id", "only for FIFO topics"));
        }
        None
    };
    Ok(Published {
        message_id: uuid::Uuid::new_v4().to_string(),
        published_ms: now_ms(),
        subject: request.subject,
        message: request.message,
        attributes: request.attributes,
        group_id: request.group_id,
        deduplication_id,
        structure_json: request.structure_json,
    })
}

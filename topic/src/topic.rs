//! One topic: its log, its FIFO deduplication window, and the delivery workers
//! of its confirmed subscriptions.

use crate::delivery::{self, Control, DeliveryContext, RetryConfig, Sink, Worker};
use crate::error::{Error, Result};
use crate::fanout::{Member, Running};
use crate::fifo::{content_deduplication_id, Dedup, FirstPublish, DEDUPLICATION_WINDOW_MS};
use crate::manifest::{SubscriptionRecord, TopicAttributes};
use crate::message::MessageAttributes;
use crate::record::Published;
use crate::types::{now_ms, Protocol, SubscriptionId, TopicName};
use shardlog_segment::io::FileSystem;
use shardlog_segment::{Log, PendingAppend, ReadLimits, Record};
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
    Ok(submit_published(log, messages)?.wait()?.base_position)
}

/// Stages `messages` as one batch of a topic's `log` and returns at once.
fn submit_published(log: &Log, messages: &[Published]) -> shardlog_segment::Result<PendingAppend> {
    let encoded: Vec<Vec<u8>> = messages.iter().map(Published::encode).collect();
    let records: Vec<Record<'_>> = encoded
        .iter()
        .map(|data| Record {
            partition_key: "m",
            explicit_hash_key: None,
            data,
        })
        .collect();
    log.submit(&records)
}

/// A publish staged by [`Topic::submit_publish`], acknowledged once durable.
#[must_use = "a publish is acknowledged only once it is durable"]
#[derive(Debug)]
pub struct PendingPublish {
    /// `None` when nothing is left to wait for (a FIFO topic's publish).
    append: Option<PendingAppend>,
    outcomes: Vec<PublishOutcome>,
}

impl PendingPublish {
    /// Waits until the messages are durable; then each one's outcome.
    pub fn wait(self) -> Result<Vec<PublishOutcome>> {
        if let Some(append) = self.append {
            append.wait()?;
        }
        Ok(self.outcomes)
    }

    /// [`PendingPublish::wait`] for async callers: no thread blocks meanwhile.
    pub async fn acknowledged(self) -> Result<Vec<PublishOutcome>> {
        if let Some(append) = &self.append {
            append.acknowledged().await?;
        }
        Ok(self.outcomes)
    }
}

/// A subscription's delivery: its control, and its own thread (`None` for a
/// queue subscription, delivered by the topic's queue delivery thread).
type Delivering = (Arc<Control>, Option<JoinHandle<()>>);
/// A topic's subscriptions' deliveries, shared with them so that each can see
/// how far the others are (for reclaiming the log behind them all).
pub(crate) type Workers = Arc<Mutex<BTreeMap<SubscriptionId, Delivering>>>;

/// A topic of a [`crate::Topics`] registry.
pub struct Topic {
    pub(crate) id: u64,
    pub(crate) name: TopicName,
    pub(crate) dir: PathBuf,
    pub(crate) log: Log,
    pub(crate) attributes: Arc<Mutex<TopicAttributes>>,
    dedup: Mutex<Dedup>,
    workers: Workers,
    /// The thread delivering to every queue subscription, while there are any.
    fanout: Mutex<Option<Running>>,
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
            fanout: Mutex::new(None),
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

    /// Where a new subscription starts: the end of what is durable in the log.
    /// The log is read before its syncs; a start past a record that a crash takes
    /// back would skip the record that takes its place. A subscription that starts
    /// here also gets the messages being synced now.
    pub fn subscription_start(&self) -> u64 {
        self.log.durable_end()
    }

    /// Publishes up to 10 messages as one append, acknowledged once durable. A
    /// FIFO duplicate within 5 minutes gets the first publish's answer and is not
    /// appended again.
    pub fn publish(&self, requests: Vec<PublishRequest>) -> Result<Vec<PublishOutcome>> {
        self.submit_publish(requests)?.wait()
    }

    /// [`Topic::publish`] without the wait, for callers that await
    /// [`PendingPublish::acknowledged`]: a standard topic's messages are staged
    /// as one append and this returns at once. A FIFO topic's publish holds its
    /// deduplication window's lock until its append is durable, so it blocks
    /// here: async callers publish to FIFO topics from a blocking thread.
    pub fn submit_publish(&self, requests: Vec<PublishRequest>) -> Result<PendingPublish> {
        self.submit_publish_then(requests, |_| ())
    }

    /// [`Topic::submit_publish`] that hands a standard topic's new messages to
    /// `staged` once their append is staged, while it is written and synced: work
    /// on them there (a server signs their notifications) overlaps that wait
    /// instead of adding to it. A FIFO topic's are not handed over (they are
    /// appended under its deduplication window's lock).
    pub fn submit_publish_then(
        &self,
        requests: Vec<PublishRequest>,
        staged: impl FnOnce(&[Published]),
    ) -> Result<PendingPublish> {
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
            let append = submit_published(&self.log, &messages)?;
            staged(&messages);
            let outcomes = messages
                .into_iter()
                .map(|message| PublishOutcome {
                    message_id: message.message_id,
                    sequence_number: None,
                })
                .collect();
            return Ok(PendingPublish {
                append: Some(append),
                outcomes,
            });
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
            append_published(&self.log, &fresh)?
        };
        for (index, message) in fresh.iter().enumerate() {
            let first = FirstPublish {
                message_id: message.message_id.clone(),
                position: base + index as u64,
            };
            let id = message.deduplication_id.clone().expect("checked above");
            dedup.insert(id, first, now);
        }
        let outcomes = slots
            .into_iter()
            .map(|slot| match slot {
                Err(known) => known,
                Ok(index) => PublishOutcome {
                    message_id: fresh[index].message_id.clone(),
                    sequence_number: Some(base + index as u64),
                },
            })
            .collect();
        Ok(PendingPublish {
            append: None,
            outcomes,
        })
    }

    /// Starts delivering to each of `subscriptions` from its position (stored
    /// durably): queue subscriptions on the topic's one queue delivery thread
    /// (restarted with them added), the others on a thread each.
    pub(crate) fn start_workers(
        &self,
        subscriptions: Vec<(SubscriptionRecord, u64)>,
        fs: &Arc<dyn FileSystem>,
        sink: &Arc<dyn Sink>,
        retry: RetryConfig,
    ) -> Result<()> {
        let context = Arc::new(DeliveryContext {
            topic: self.name.clone(),
            topic_dir: self.dir.clone(),
            log: self.log.clone(),
            recent: Arc::clone(&self.recent),
            fs: Arc::clone(fs),
            topic_attributes: Arc::clone(&self.attributes),
            peers: Arc::clone(&self.workers),
            fifo: self.name.is_fifo(),
            sink: Arc::clone(sink),
            retry,
        });
        let mut joining = Vec::new();
        for (record, position) in subscriptions {
            let id = record.id.clone();
            let position_path = delivery::position_path(&self.dir, &record);
            let queue = record.endpoint.protocol == Protocol::Sqs;
            let control = Control::new(record, position);
            if queue {
                joining.push(Member::new(Arc::clone(&control), position_path, position));
                lock(&self.workers).insert(id, (control, None));
                continue;
            }
            let worker = Worker {
                context: Arc::clone(&context),
                position_path,
                control: Arc::clone(&control),
                throttle: Default::default(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("sns-{}", &id.as_str()[..8.min(id.as_str().len())]))
                .spawn(move || worker.run(position))
                .map_err(|source| self.thread_error(source))?;
            lock(&self.workers).insert(id, (control, Some(thread)));
        }
        if joining.is_empty() {
            return Ok(());
        }
        let mut fanout = lock(&self.fanout);
        let mut members = match fanout.take() {
            Some(running) => running.stop().1,
            None => Vec::new(),
        };
        members.extend(joining);
        *fanout = Some(Running::start(context, members)?);
        Ok(())
    }

    fn thread_error(&self, source: std::io::Error) -> Error {
        Error::Metadata {
            op: "start a delivery thread for",
            path: self.dir.clone(),
            source,
        }
    }

    /// Calls `f` with the topic's attributes as they stand.
    pub fn with_attributes<T>(&self, f: impl FnOnce(&TopicAttributes) -> T) -> T {
        f(&lock(&self.attributes))
    }

    /// Calls `visit(subscription, k)` for each subscription being delivered to
    /// (every confirmed one, its record as it stands) that `wanted` picks and
    /// each message `messages[k]` that passes its filter policy: the deliveries
    /// these messages will make, as things stand now. Filters are evaluated for
    /// the picked subscriptions only.
    pub fn visit_deliveries(
        &self,
        messages: &[Published],
        wanted: impl Fn(&SubscriptionRecord) -> bool,
        mut visit: impl FnMut(&SubscriptionRecord, usize),
    ) {
        for (control, _) in lock(&self.workers).values() {
            control.with_record(|record, passes| {
                if !wanted(record) {
                    return;
                }
                for (k, message) in messages.iter().enumerate() {
                    if passes(message) {
                        visit(record, k);
                    }
                }
            });
        }
    }

    /// Gives a running worker the subscription's new attributes.
    pub(crate) fn update_worker(&self, record: &SubscriptionRecord) {
        if let Some((control, _)) = lock(&self.workers).get(&record.id) {
            control.set_record(record.clone());
        }
    }

    /// Stops the delivery of `id` (if any) and waits for it; `removed` deletes
    /// its position as it ends. The topic's other queue subscriptions go on
    /// from where they stood.
    pub(crate) fn stop_worker(&self, id: &SubscriptionId, removed: bool) {
        let entry = lock(&self.workers).remove(id);
        match entry {
            Some((control, Some(thread))) => {
                control.stop(removed);
                self.log.wake_waiters();
                let _ = thread.join();
            }
            Some((_, None)) => self.stop_members(|member| member.id() == *id, removed),
            None => {}
        }
    }

    /// Stops the queue delivery thread and restarts it without the members that
    /// `leaving` picks; `removed` deletes their positions.
    fn stop_members(&self, leaving: impl Fn(&Member) -> bool, removed: bool) {
        let mut fanout = lock(&self.fanout);
        let Some(running) = fanout.take() else {
            return;
        };
        let (context, members) = running.stop();
        let (gone, staying): (Vec<Member>, Vec<Member>) = members.into_iter().partition(leaving);
        if removed {
            for member in gone {
                let _ = context.fs.remove_file(&member.position_path);
            }
        }
        if staying.is_empty() {
            return;
        }
        match Running::start(context, staying) {
            Ok(running) => *fanout = Some(running),
            Err(error) => {
                tracing::error!(topic = %self.name, %error, "queue deliveries stop until a restart")
            }
        }
    }

    /// Stops every worker and waits for them.
    pub(crate) fn stop_all(&self, removed: bool) {
        self.stop_members(|_| true, removed);
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

//! The topics of a data directory: the MANIFEST, each topic's log, and the
//! subscriptions with their delivery workers.

use crate::delivery::{self, RetryConfig, Sink};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, SubscriptionRecord, TopicAttributes, TopicRecord};
use crate::topic::Topic;
use crate::types::{now_ms, Endpoint, SubscriptionId, TopicName};
use shardlog_segment::clock::{Clock, SystemClock};
use shardlog_segment::io::remove_dir_durably;
use shardlog_segment::{LogConfig, Storage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Most topics.
pub const TOPICS_MAX: usize = 100_000;
/// Most subscriptions in all (each confirmed HTTP(S) or delivery stream one
/// has a delivery thread; a topic's queue subscriptions share one).
pub const SUBSCRIPTIONS_MAX: usize = 1_000;
/// Most tags of a topic.
pub const TAGS_MAX: usize = 50;

/// How long a subscription may wait for confirmation before it is deleted:
/// AWS deletes unconfirmed subscriptions after 48 hours.
pub const PENDING_SUBSCRIPTION_MS_MAX: u64 = 48 * 3600 * 1000;

/// How topics are kept and delivered.
#[derive(Debug, Clone)]
pub struct TopicsConfig {
    /// Each topic log's configuration. Default: [`LogConfig::default`]. Topic
    /// logs are always readable before their sync (`readable_before_sync`).
    pub log: LogConfig,
    /// Retry schedules. Default: [`RetryConfig::default`].
    pub retry: RetryConfig,
    /// The clock that dates subscriptions and expires unconfirmed ones.
    /// Default: the system clock.
    pub clock: Arc<dyn Clock>,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            log: LogConfig::default(),
            retry: RetryConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What opening found: what the MANIFEST does not account for (left alone),
/// and topics whose files could not be read.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Directory entries under the topics directory that no topic owns.
    pub unknown_entries: Vec<String>,
    /// Topics quarantined, with why: listed, but they refuse publishes and
    /// subscriptions (see [`Error::TopicQuarantined`]).
    pub quarantined: Vec<(TopicName, String)>,
}

/// A topic's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The name.
    pub name: TopicName,
    /// Attributes.
    pub attributes: TopicAttributes,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Confirmed subscriptions.
    pub confirmed: usize,
    /// Subscriptions waiting for confirmation.
    pub pending: usize,
}

/// A subscription with its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    /// The topic.
    pub topic: TopicName,
    /// The subscription.
    pub record: SubscriptionRecord,
}

/// The topics of a data directory. Cheap to clone.
#[derive(Clone)]
pub struct Topics {
    shared: Arc<Shared>,
}

struct Shared {
    storage: Storage,
    root: PathBuf,
    config: TopicsConfig,
    sink: Arc<dyn Sink>,
    state: Mutex<State>,
}

struct State {
    manifest: Manifest,
    open: BTreeMap<TopicName, Arc<Topic>>,
    closed: bool,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("root", &self.shared.root)
            .finish()
    }
}

impl Topics {
    /// Opens the topics in `root` on `storage`, and starts delivering every
    /// confirmed subscription from its durable position into `sink`.
    pub fn open(
        storage: Storage,
        root: &Path,
        config: TopicsConfig,
        sink: Arc<dyn Sink>,
    ) -> Result<(Topics, OpenReport)> {
        let fs = Arc::clone(storage.fs());
        let manifest = manifest::load(fs.as_ref(), root)?;
        let mut report = OpenReport::default();
        if fs.exists(root) {
            let owned: Vec<String> = manifest
                .topics
                .iter()
                .map(|t| format!("{}-{}", t.id, t.name))
                .collect();
            let entries = fs.list_dir(root).map_err(|source| Error::Metadata {
                op: "list",
                path: root.to_path_buf(),
                source,
            })?;
            report.unknown_entries = entries
                .into_iter()
                .filter(|e| e != manifest::MANIFEST_NAME && !e.ends_with(".tmp"))
                .filter(|e| !owned.contains(e))
                .collect();
        }
        let topics = Topics {
            shared: Arc::new(Shared {
                storage,
                root: root.to_path_buf(),
                config,
                sink,
                state: Mutex::new(State {
                    manifest: manifest.clone(),
                    open: BTreeMap::new(),
                    closed: false,
                }),
            }),
        };
        for record in &manifest.topics {
            let topic = topics.open_or_quarantine(record, &mut report)?;
            topics.lock().open.insert(record.name.clone(), topic);
        }
        topics.expire_pending(&mut topics.lock())?;
        Ok((topics, report))
    }

    /// Opens a topic of the MANIFEST and starts its confirmed subscriptions. A
    /// topic whose log or delivery positions cannot be read is quarantined
    /// (reported, no delivery) so that the other topics open, as the engine
    /// quarantines a damaged shard.
    fn open_or_quarantine(
        &self,
        record: &TopicRecord,
        report: &mut OpenReport,
    ) -> Result<Arc<Topic>> {
        let opened =
            self.open_topic(record)
                .and_then(|topic| match self.load_positions(&topic, record) {
                    Ok(positions) => Ok((topic, positions)),
                    Err(error) => {
                        topic.log.close()?;
                        Err(error)
                    }
                });
        match opened {
            Ok((topic, positions)) => {
                self.start(&topic, positions)?;
                Ok(topic)
            }
            Err(error) if error.is_damage() => {
                let cause = error.to_string();
                tracing::error!(topic = %record.name, %cause, "topic quarantined: its files could not be read; the other topics open");
                report
                    .quarantined
                    .push((record.name.clone(), cause.clone()));
                let dir = record.dir(&self.shared.root);
                let log = self.shared.storage.open_quarantined(
                    dir.join("log"),
                    self.shared.config.log,
                    cause.clone(),
                );
                let (id, name, attributes) =
                    (record.id, record.name.clone(), record.attributes.clone());
                Ok(Arc::new(Topic::quarantined(
                    id, name, dir, log, attributes, cause,
                )))
            }
            Err(error) => Err(error),
        }
    }

    /// The durable delivery position of each confirmed subscription of a topic.
    fn load_positions(
        &self,
        topic: &Topic,
        record: &TopicRecord,
    ) -> Result<Vec<(SubscriptionRecord, u64)>> {
        let fs = self.shared.storage.fs();
        let queues_path = delivery::queue_positions_path(&topic.dir);
        let queues = delivery::load_queue_positions(fs.as_ref(), &queues_path)?;
        let confirmed = record.subscriptions.iter().filter(|s| s.is_confirmed());
        confirmed
            .map(|subscription| {
                let path = delivery::position_path(&topic.dir, subscription);
                // A queue subscription's own file holds where it started (or where
                // an older build stored it); the queues' file, where the fan-out
                // stored it since. Both are durable delivered positions, and
                // positions only move forward: the further one counts.
                let own = delivery::load_position(fs.as_ref(), &path)?;
                let together = queues.get(subscription.id.as_str()).copied();
                // A confirmed subscription with no position stored was confirmed
                // by a crash-interrupted call: it starts at the end.
                let position = own
                    .max(together)
                    .unwrap_or_else(|| topic.subscription_start());
                Ok((subscription.clone(), position))
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_topic(&self, record: &TopicRecord) -> Result<Arc<Topic>> {
        let dir = record.dir(&self.shared.root);
        // Delivery starts on a record while its sync runs; positions are stored
        // only up to the durable end (`DeliveryContext::store`). Written through
        // the page cache: a publish is a small round that its caller waits for.
        let log_config = LogConfig {
            readable_before_sync: true,
            page_cache: true,
            ..self.shared.config.log
        };
        let (log, recovery) = self.shared.storage.open_log(dir.join("log"), log_config)?;
        if !recovery.truncations.is_empty() {
            tracing::warn!(topic = %record.name, ?recovery, "topic log recovered with truncation");
        }
        let topic = Topic::new(
            record.id,
            record.name.clone(),
            dir,
            log,
            record.attributes.clone(),
        )?;
        Ok(Arc::new(topic))
    }

    fn start(&self, topic: &Topic, subscriptions: Vec<(SubscriptionRecord, u64)>) -> Result<()> {
        topic.start_workers(
            subscriptions,
            self.shared.storage.fs(),
            &self.shared.sink,
            self.shared.config.retry,
        )
    }

    /// Deletes, durably, the subscriptions left unconfirmed for
    /// [`PENDING_SUBSCRIPTION_MS_MAX`]. Their creation time is in the MANIFEST,
    /// so the age counts across restarts. Run at open and before each call that
    /// reads or changes subscriptions, so that none sees an expired one.
    fn expire_pending(&self, state: &mut State) -> Result<()> {
        let now_ms = self.shared.config.clock.now_ms();
        let expired = |s: &SubscriptionRecord| {
            !s.is_confirmed() && now_ms.saturating_sub(s.created_ms) >= PENDING_SUBSCRIPTION_MS_MAX
        };
        let mut subscriptions = state.manifest.topics.iter().flat_map(|t| &t.subscriptions);
        if state.closed || !subscriptions.any(expired) {
            return Ok(());
        }
        let mut manifest = state.manifest.clone();
        for topic in &mut manifest.topics {
            let before = topic.subscriptions.len();
            topic.subscriptions.retain(|s| !expired(s));
            let removed = before - topic.subscriptions.len();
            if removed > 0 {
                tracing::info!(topic = %topic.name, removed, "unconfirmed subscriptions expired");
            }
        }
        self.commit(state, manifest)
    }

    /// Writes `manifest` and makes it the registry's.
    fn commit(&self, state: &mut State, manifest: Manifest) -> Result<()> {
        manifest::store(
            self.shared.storage.fs().as_ref(),
            &self.shared.root,
            &manifest,
        )?;
        state.manifest = manifest;
        Ok(())
    }

    /// Creates a topic; a topic of that name already there is returned as it is
    /// when the attributes and tags given agree with its own, else
    /// [`Error::TopicExists`].
    /// Returns whether it was created.
    pub fn create_topic(
        &self,
        name: &TopicName,
        attributes: TopicAttributes,
        tags: BTreeMap<String, String>,
    ) -> Result<bool> {
        let mut state = self.lock();
        check_open(&state)?;
        if let Some(existing) = state.manifest.topics.iter().find(|t| &t.name == name) {
            // Only what the call sets is compared (an unset flag reads false).
            let same_attributes = (!attributes.content_based_deduplication
                || existing.attributes.content_based_deduplication)
                && attributes
                    .kept
                    .iter()
                    .all(|(k, v)| existing.attributes.kept.get(k) == Some(v));
            let same_tags = tags.iter().all(|(k, v)| existing.tags.get(k) == Some(v));
            return if same_attributes && same_tags {
                Ok(false)
            } else {
                Err(Error::TopicExists {
                    topic: name.to_string(),
                })
            };
        }
        if state.manifest.topics.len() >= TOPICS_MAX {
            return Err(Error::LimitExceeded {
                what: "topics",
                max: TOPICS_MAX,
            });
        }
        check_tags(&tags)?;
        let mut manifest = state.manifest.clone();
        let record = TopicRecord {
            id: manifest.next_id,
            name: name.clone(),
            created_ms: now_ms(),
            attributes,
            tags,
            subscriptions: Vec::new(),
        };
        manifest.next_id += 1;
        manifest.topics.push(record.clone());
        // The log exists before the manifest names it; a crash between leaves
        // an unknown directory, reported at the next open.
        let topic = self.open_topic(&record)?;
        self.commit(&mut state, manifest)?;
        state.open.insert(name.clone(), topic);
        Ok(true)
    }

    /// Deletes a topic, its subscriptions and its log.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        let mut state = self.lock();
        check_open(&state)?;
        let topic = lookup(&state, name)?;
        let mut manifest = state.manifest.clone();
        manifest.topics.retain(|t| t.id != topic.id);
        self.commit(&mut state, manifest)?;
        state.open.remove(&topic.name);
        drop(state);
        topic.stop_all(true);
        topic.log.close()?;
        self.remove_files(&topic)
    }

    /// Removes a deleted topic's files. The MANIFEST no longer lists it, so what
    /// a failure leaves is reported at the next open, never reused.
    fn remove_files(&self, topic: &Topic) -> Result<()> {
        let fs = self.shared.storage.fs();
        let dirs = [
            topic.dir.join("log"),
            topic.dir.join("positions"),
            topic.dir.clone(),
        ];
        for dir in dirs {
            remove_dir_durably(fs.as_ref(), &dir).map_err(|source| Error::Metadata {
                op: "remove",
                path: dir,
                source,
            })?;
        }
        Ok(())
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        lookup(&self.lock(), name)
    }

    /// Every topic's name, sorted.
    pub fn list_topics(&self) -> Vec<TopicName> {
        self.lock().open.keys().cloned().collect()
    }

    /// A topic's attributes, tags and subscription counts.
    pub fn describe(&self, name: &str) -> Result<TopicInfo> {
        let mut state = self.lock();
        self.expire_pending(&mut state)?;
        let record = record(&state, name)?;
        let confirmed = record
            .subscriptions
            .iter()
            .filter(|s| s.is_confirmed())
            .count();
        Ok(TopicInfo {
            name: record.name.clone(),
            attributes: record.attributes.clone(),
            tags: record.tags.clone(),
            confirmed,
            pending: record.subscriptions.len() - confirmed,
        })
    }

    /// Changes a topic's attributes with `change`, durably.
    pub fn update_topic(
        &self,
        name: &str,
        change: impl FnOnce(&mut TopicAttributes) -> Result<()>,
    ) -> Result<()> {
        self.update_record(name, |record| change(&mut record.attributes))?;
        let topic = self.topic(name)?;
        let attributes = record(&self.lock(), name)?.attributes.clone();
        *topic.attributes.lock().unwrap_or_else(|p| p.into_inner()) = attributes;
        Ok(())
    }

    /// Adds or replaces tags.
    pub fn tag_topic(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.update_record(name, |record| {
            record.tags.extend(tags.clone());
            check_tags(&record.tags)
        })
    }

    /// Removes tags.
    pub fn untag_topic(&self, name: &str, keys: &[String]) -> Result<()> {
        self.update_record(name, |record| {
            record.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
    }

    fn update_record(
        &self,
        name: &str,
        change: impl FnOnce(&mut TopicRecord) -> Result<()>,
    ) -> Result<()> {
        let mut state = self.lock();
        check_open(&state)?;
        let mut manifest = state.manifest.clone();
        let record = manifest
            .topics
            .iter_mut()
            .find(|t| t.name.as_str() == name)
            .ok_or_else(|| not_found(name))?;
        change(record)?;
        self.commit(&mut state, manifest)
    }

    /// Subscribes `endpoint` to the topic, with what `settings` sets on the new
    /// subscription (attributes, filter and delivery policies). An identical
    /// subscription (same endpoint) is returned again, unchanged. Endpoints that need confirmation start pending
    /// with a fresh token; the others deliver from the log's end on.
    pub fn subscribe(
        &self,
        topic_name: &str,
        endpoint: Endpoint,
        settings: impl FnOnce(&mut SubscriptionRecord) -> Result<()>,
    ) -> Result<SubscriptionRecord> {
        let mut state = self.lock();
        check_open(&state)?;
        self.expire_pending(&mut state)?;
        let topic = lookup(&state, topic_name)?;
        topic.check_usable()?;
        if let Some(existing) = record(&state, topic_name)?
            .subscriptions
            .iter()
            .find(|s| s.endpoint == endpoint)
        {
            return Ok(existing.clone());
        }
        let total: usize = state
            .manifest
            .topics
            .iter()
            .map(|t| t.subscriptions.len())
            .sum();
        if total >= SUBSCRIPTIONS_MAX {
            return Err(Error::LimitExceeded {
                what: "subscriptions",
                max: SUBSCRIPTIONS_MAX,
            });
        }
        let pending = endpoint.protocol.needs_confirmation();
        let subscription = SubscriptionRecord {
            id: SubscriptionId::random(),
            endpoint,
            attributes: BTreeMap::new(),
            filter: None,
            delivery_policy: None,
            pending_token: pending.then(new_token),
            created_ms: self.shared.config.clock.now_ms(),
        };
        let mut subscription = subscription;
        settings(&mut subscription)?;
        let mut manifest = state.manifest.clone();
        manifest
            .topics
            .iter_mut()
            .find(|t| t.id == topic.id)
            .expect("the topic is in the manifest")
            .subscriptions
            .push(subscription.clone());
        if !pending {
            self.store_start(&topic, &subscription)?;
        }
        self.commit(&mut state, manifest)?;
        if !pending {
            let position = topic.subscription_start();
            self.start(&topic, vec![(subscription.clone(), position)])?;
        }
        Ok(subscription)
    }

    /// Writes a new subscription's starting position (the log's end) before the
    /// manifest names it confirmed.
    fn store_start(&self, topic: &Topic, subscription: &SubscriptionRecord) -> Result<()> {
        let fs = self.shared.storage.fs();
        let path = delivery::position_path(&topic.dir, subscription);
        let dir = path.parent().expect("a position file is in a directory");
        shardlog_segment::io::create_dir_all_durably(fs.as_ref(), dir).map_err(|source| {
            Error::Metadata {
                op: "create directory",
                path: dir.to_path_buf(),
                source,
            }
        })?;
        delivery::store_position(fs.as_ref(), &path, topic.subscription_start())
    }

    /// Confirms the pending subscription of the topic that `token` names; starts
    /// its delivery from the log's end. A confirmed subscription's token confirms
    /// it again (idempotent, as endpoints retry).
    pub fn confirm(&self, topic_name: &str, token: &str) -> Result<SubscriptionRecord> {
        let mut state = self.lock();
        check_open(&state)?;
        self.expire_pending(&mut state)?;
        let topic = lookup(&state, topic_name)?;
        topic.check_usable()?;
        let mut manifest = state.manifest.clone();
        let record = manifest
            .topics
            .iter_mut()
            .find(|t| t.id == topic.id)
            .expect("the topic is in the manifest");
        let subscription = record
            .subscriptions
            .iter_mut()
            .find(|s| s.pending_token.as_deref() == Some(token))
            .ok_or_else(|| Error::InvalidToken {
                topic: topic_name.to_string(),
            })?;
        subscription.pending_token = None;
        let confirmed = subscription.clone();
        self.store_start(&topic, &confirmed)?;
        self.commit(&mut state, manifest)?;
        self.start(
            &topic,
            vec![(confirmed.clone(), topic.subscription_start())],
        )?;
        Ok(confirmed)
    }

    /// Removes a subscription and stops its delivery.
    pub fn unsubscribe(&self, id: &str) -> Result<SubscriptionInfo> {
        let mut state = self.lock();
        check_open(&state)?;
        self.expire_pending(&mut state)?;
        let info = find_subscription(&state, id)?;
        let mut manifest = state.manifest.clone();
        for topic in &mut manifest.topics {
            topic.subscriptions.retain(|s| s.id.as_str() != id);
        }
        self.commit(&mut state, manifest)?;
        let topic = lookup(&state, info.topic.as_str())?;
        drop(state);
        topic.stop_worker(&info.record.id, true);
        Ok(info)
    }

    /// A subscription by id.
    pub fn subscription(&self, id: &str) -> Result<SubscriptionInfo> {
        let mut state = self.lock();
        self.expire_pending(&mut state)?;
        find_subscription(&state, id)
    }

    /// Every subscription, of one topic or of all, in topic then creation order.
    pub fn subscriptions(&self, topic: Option<&str>) -> Result<Vec<SubscriptionInfo>> {
        let mut state = self.lock();
        self.expire_pending(&mut state)?;
        if let Some(name) = topic {
            record(&state, name)?;
        }
        Ok(state
            .manifest
            .topics
            .iter()
            .filter(|t| topic.is_none_or(|name| t.name.as_str() == name))
            .flat_map(|t| {
                t.subscriptions.iter().map(|s| SubscriptionInfo {
                    topic: t.name.clone(),
                    record: s.clone(),
                })
            })
            .collect())
    }

    /// Changes a subscription's attributes with `change`, durably; its delivery
    /// sees them from the next message on.
    pub fn update_subscription(
        &self,
        id: &str,
        change: impl FnOnce(&mut SubscriptionRecord) -> Result<()>,
    ) -> Result<()> {
        let mut state = self.lock();
        check_open(&state)?;
        self.expire_pending(&mut state)?;
        let info = find_subscription(&state, id)?;
        let mut manifest = state.manifest.clone();
        let record = manifest
            .topics
            .iter_mut()
            .flat_map(|t| t.subscriptions.iter_mut())
            .find(|s| s.id.as_str() == id)
            .expect("found above");
        change(record)?;
        record.id = info.record.id.clone();
        record.endpoint = info.record.endpoint.clone();
        let updated = record.clone();
        self.commit(&mut state, manifest)?;
        lookup(&state, info.topic.as_str())?.update_worker(&updated);
        Ok(())
    }

    /// Stops every delivery and closes every topic log (syncing it).
    pub fn close(&self) -> Result<()> {
        let topics: Vec<Arc<Topic>> = {
            let mut state = self.lock();
            state.closed = true;
            state.open.values().cloned().collect()
        };
        let mut first_error = None;
        for topic in topics {
            topic.stop_all(false);
            if let Err(error) = topic.log.close() {
                first_error.get_or_insert(Error::from(error));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn check_open(state: &State) -> Result<()> {
    if state.closed {
        return Err(Error::Closed);
    }
    Ok(())
}

fn not_found(name: &str) -> Error {
    Error::TopicNotFound {
        topic: name.to_string(),
    }
}

fn lookup(state: &State, name: &str) -> Result<Arc<Topic>> {
    state
        .open
        .iter()
        .find(|(n, _)| n.as_str() == name)
        .map(|(_, topic)| Arc::clone(topic))
        .ok_or_else(|| not_found(name))
}

fn record<'a>(state: &'a State, name: &str) -> Result<&'a TopicRecord> {
    state
        .manifest
        .topics
        .iter()
        .find(|t| t.name.as_str() == name)
        .ok_or_else(|| not_found(name))
}

fn find_subscription(state: &State, id: &str) -> Result<SubscriptionInfo> {
    state
        .manifest
        .topics
        .iter()
        .find_map(|t| {
            t.subscriptions
                .iter()
                .find(|s| s.id.as_str() == id)
                .map(|s| SubscriptionInfo {
                    topic: t.name.clone(),
                    record: s.clone(),
                })
        })
        .ok_or_else(|| Error::SubscriptionNotFound {
            subscription: id.to_string(),
        })
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > TAGS_MAX {
        return Err(Error::LimitExceeded {
            what: "tags of a topic",
            max: TAGS_MAX,
        });
    }
    Ok(())
}

/// A confirmation token: 64 hex characters of randomness (two UUIDs).
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

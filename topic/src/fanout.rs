//! Delivery to a topic's queue subscriptions: one thread for all of them.
//!
//! With a thread per subscription, each commit of the topic's log woke every one
//! of them, and each appended to its queue and waited for its own commit: ten
//! subscriptions were ten wake-ups on the topic's commit, ten more on the queues'
//! commits, and queue appends that reached the writer one by one, often over
//! more than one commit round. Here one thread per topic reads each new stretch
//! of the log once, hands every subscription's messages to the sink in one call
//! ([`Sink::deliver_batches`]: the server stages every queue's append before it
//! waits for any) and waits for that one round.
//!
//! What stays per subscription: its filter, its position and its retries. A
//! message that a queue refuses waits out its retry delay without holding up the
//! other subscriptions: the thread notes when the retry is due and passes over
//! that subscription until then. Positions are stored by a second thread (a store
//! is a file write and two syncs, which would hold up every subscription's next
//! delivery), and only ever a position before which everything was delivered or
//! dead-lettered.

use crate::delivery::{
    check_outcomes, Control, Delivery, DeliveryContext, IDLE_WAIT, POSITION_STORE_INTERVAL,
};
use crate::error::{Error, Result};
use crate::manifest::{SubscriptionRecord, TopicAttributes};
use crate::recent::DecodedRead;
use crate::record::Published;
use crate::types::SubscriptionId;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One queue subscription delivered by its topic's fan-out thread.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) control: Arc<Control>,
    pub(crate) position_path: PathBuf,
    /// Everything before it is delivered or dead-lettered.
    position: u64,
    /// A message refused with a failure worth retrying, waiting for its retry.
    retrying: Option<Retrying>,
    /// Its position could not be stored: its delivery stopped (logged).
    halted: bool,
}

impl Member {
    /// A subscription to deliver from `position`, which is stored durably.
    pub(crate) fn new(control: Arc<Control>, position_path: PathBuf, position: u64) -> Member {
        Member {
            control,
            position_path,
            position,
            retrying: None,
            halted: false,
        }
    }

    pub(crate) fn id(&self) -> SubscriptionId {
        self.control.record().id
    }
}

/// A refused message and when to try it again.
#[derive(Debug)]
struct Retrying {
    position: u64,
    message: Published,
    /// Attempts made so far.
    attempts: u32,
    due: Instant,
}

/// A running fan-out thread: how to stop it, and what it works with.
pub(crate) struct Running {
    context: Arc<DeliveryContext>,
    stop: Arc<Stop>,
    thread: JoinHandle<Vec<Member>>,
}

impl Running {
    /// Starts delivering to `members`.
    pub(crate) fn start(context: Arc<DeliveryContext>, members: Vec<Member>) -> Result<Running> {
        let stop = Arc::new(Stop::default());
        let fanout = Fanout {
            context: Arc::clone(&context),
            members,
        };
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("sns-queues".into())
            .spawn(move || {
                let members = fanout.run(&thread_stop);
                thread_stop.exit();
                members
            })
            .map_err(|source| Error::Metadata {
                op: "start the queue delivery thread of",
                path: context.log.dir().to_path_buf(),
                source,
            })?;
        Ok(Running {
            context,
            stop,
            thread,
        })
    }

    /// Stops the thread once its current step is done (a commit round at most)
    /// and every delivered position is stored; returns what it worked with and
    /// its subscriptions as they stand (positions, retries due).
    pub(crate) fn stop(self) -> (Arc<DeliveryContext>, Vec<Member>) {
        self.stop.request();
        // The thread may be about to wait on the log, after its last look at
        // the stop flag: wake the log's waiters until it is gone.
        while !self.thread.is_finished() {
            self.context.log.wake_waiters();
            // Bounded: a thread that panicked never says it is done.
            self.stop.wait_exited(Duration::from_millis(2));
        }
        let members = self.thread.join().unwrap_or_else(|_| {
            tracing::error!(topic = %self.context.topic, "the queue delivery thread panicked; its subscriptions deliver again after a restart");
            Vec::new()
        });
        (self.context, members)
    }
}

/// A stop request, a pause that it ends, and word that the thread is done.
#[derive(Debug, Default)]
struct Stop {
    state: Mutex<StopState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct StopState {
    requested: bool,
    exited: bool,
}

impl Stop {
    fn lock(&self) -> MutexGuard<'_, StopState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn request(&self) {
        self.lock().requested = true;
        self.changed.notify_all();
    }

    fn requested(&self) -> bool {
        self.lock().requested
    }

    /// Waits `timeout` unless a stop is (or was) requested.
    fn pause(&self, timeout: Duration) {
        let state = self.lock();
        let _ = self
            .changed
            .wait_timeout_while(state, timeout, |state| !state.requested);
    }

    fn exit(&self) {
        self.lock().exited = true;
        self.changed.notify_all();
    }

    /// Waits `timeout` unless the thread said it is done.
    fn wait_exited(&self, timeout: Duration) {
        let state = self.lock();
        let _ = self
            .changed
            .wait_timeout_while(state, timeout, |state| !state.exited);
    }
}

/// What one step hands over for one subscription.
struct Plan {
    /// Index in `members`.
    member: usize,
    record: SubscriptionRecord,
    /// Where the member stands after this step if every message is handled.
    next_position: u64,
    source: Source,
}

enum Source {
    /// A read's messages (indexes of those that pass the filter).
    Read {
        read: Arc<DecodedRead>,
        passing: Vec<usize>,
    },
    /// The member's refused message, again.
    Retry,
}

/// Where a subscription stands after a step.
struct Settled {
    position: u64,
    retrying: Option<Retrying>,
}

/// The fan-out thread's state.
struct Fanout {
    context: Arc<DeliveryContext>,
    members: Vec<Member>,
}

impl Fanout {
    /// Delivers until stopped; then stores every delivered position and returns
    /// the members.
    fn run(mut self, stop: &Stop) -> Vec<Member> {
        let positions = Positions::new(&self.members);
        let storer = Storer {
            context: Arc::clone(&self.context),
            members: self
                .members
                .iter()
                .map(|m| (Arc::clone(&m.control), m.id()))
                .collect(),
        };
        std::thread::scope(|scope| {
            let storing = std::thread::Builder::new()
                .name("sns-positions".into())
                .spawn_scoped(scope, || storer.run(&positions));
            let stored_here = storing.is_err();
            if let Err(error) = storing {
                tracing::error!(topic = %self.context.topic, %error, "cannot start the position store thread; positions are stored as delivery stops");
            }
            while !stop.requested() {
                let step = self.step();
                positions.report(&mut self.members);
                if !step.progressed {
                    self.wait(stop, step.read_failed);
                }
            }
            positions.finish();
            if stored_here {
                let delivered = positions.lock().delivered.clone();
                let _ = self.context.log.settle_submitted();
                storer.store(&positions, &delivered);
            }
        });
        self.members
    }

    /// Waits for news after a step that found nothing to do: a commit of the
    /// log, the next retry's time, or a stop.
    fn wait(&self, stop: &Stop, read_failed: bool) {
        let now = Instant::now();
        let timeout = self
            .members
            .iter()
            .filter_map(|m| m.retrying.as_ref())
            .map(|retrying| retrying.due.saturating_duration_since(now))
            .fold(IDLE_WAIT, Duration::min);
        let caught_up = self
            .members
            .iter()
            .filter(|m| !m.halted && m.retrying.is_none())
            .map(|m| m.position)
            .min();
        match caught_up {
            Some(position) if !read_failed => {
                self.context.log.wait_for(position, timeout);
            }
            _ => stop.pause(timeout),
        }
    }
}

/// What one step did.
struct Step {
    /// A position moved or a message was tried.
    progressed: bool,
    /// A read of the log failed (logged): the thread pauses before trying again.
    read_failed: bool,
}

impl Fanout {
    /// One step: every subscription's new messages (and due retries) to the
    /// sink in one call, then each outcome settled.
    fn step(&mut self) -> Step {
        let now = Instant::now();
        let mut read_failed = false;
        let mut plans = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            match self.plan(index, member, now) {
                Ok(Some(plan)) => plans.push(plan),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(topic = %self.context.topic, %error, "reading the topic log failed");
                    read_failed = true;
                }
            }
        }
        let topic_attributes = self.context.topic_attributes();
        let batches = self.deliveries(&plans, &topic_attributes);
        let handed: Vec<&[Delivery<'_>]> = batches
            .iter()
            .map(Vec::as_slice)
            .filter(|batch| !batch.is_empty())
            .collect();
        let mut outcomes = if handed.is_empty() {
            Vec::new()
        } else {
            self.context.sink.deliver_batches(&handed)
        };
        assert_eq!(outcomes.len(), handed.len(), "one outcome list per batch");
        outcomes.reverse();
        let settled: Vec<Settled> = plans
            .iter()
            .zip(&batches)
            .map(|(plan, batch)| match batch.is_empty() {
                true => Settled {
                    position: plan.next_position,
                    retrying: None,
                },
                false => {
                    let outcome = outcomes.pop().expect("counted above");
                    self.settle(plan.next_position, batch, outcome)
                }
            })
            .collect();
        drop(batches);
        let progressed = !settled.is_empty();
        for (plan, settled) in plans.iter().zip(settled) {
            let member = &mut self.members[plan.member];
            member.position = settled.position;
            member.retrying = settled.retrying;
        }
        Step {
            progressed,
            read_failed,
        }
    }

    /// Each plan's deliveries: its read's passing messages, or its retry.
    fn deliveries<'a>(
        &'a self,
        plans: &'a [Plan],
        topic_attributes: &'a TopicAttributes,
    ) -> Vec<Vec<Delivery<'a>>> {
        plans
            .iter()
            .map(|plan| {
                let delivery = |position, message, attempt| Delivery {
                    topic: &self.context.topic,
                    topic_attributes,
                    subscription: &plan.record,
                    message,
                    position,
                    attempt,
                };
                match &plan.source {
                    Source::Read { read, passing } => passing
                        .iter()
                        .map(|&k| {
                            let (position, message) = &read.messages[k];
                            delivery(*position, message, 1)
                        })
                        .collect(),
                    Source::Retry => {
                        let retrying = self.members[plan.member].retrying.as_ref();
                        let retrying = retrying.expect("a retry plan's member is retrying");
                        let attempt = retrying.attempts + 1;
                        vec![delivery(retrying.position, &retrying.message, attempt)]
                    }
                }
            })
            .collect()
    }

    /// What to hand over for `member` now: its due retry, or the new messages
    /// of a read from its position (`None` when there is nothing).
    fn plan(&self, index: usize, member: &Member, now: Instant) -> Result<Option<Plan>> {
        if member.halted {
            return Ok(None);
        }
        if let Some(retrying) = &member.retrying {
            return Ok((retrying.due <= now).then(|| Plan {
                member: index,
                record: member.control.record(),
                next_position: retrying.position + 1,
                source: Source::Retry,
            }));
        }
        let (from, read) = self.context.read(member.position)?;
        let next_position = from.max(read.next_position);
        if next_position == member.position {
            return Ok(None);
        }
        let passing = (0..read.messages.len())
            .filter(|&k| member.control.passes(&read.messages[k].1))
            .collect();
        Ok(Some(Plan {
            member: index,
            record: member.control.record(),
            next_position,
            source: Source::Read { read, passing },
        }))
    }

    /// Where a subscription stands after the sink's `outcomes` for `batch`:
    /// what failed for good is dead-lettered here; at the first failure worth
    /// retrying it stops, and that message waits for its retry.
    fn settle(
        &self,
        next_position: u64,
        batch: &[Delivery<'_>],
        outcomes: Vec<std::result::Result<(), crate::delivery::Failure>>,
    ) -> Settled {
        check_outcomes(outcomes.len(), batch.len());
        let answered = outcomes.len();
        for (delivery, outcome) in batch.iter().zip(outcomes) {
            let Err(failure) = outcome else {
                continue;
            };
            match self.context.retry_after(delivery, &failure) {
                None => self.context.dead_letter(delivery, &failure),
                Some(delay) => {
                    let retrying = Retrying {
                        position: delivery.position,
                        message: delivery.message.clone(),
                        attempts: delivery.attempt,
                        due: Instant::now() + delay,
                    };
                    return Settled {
                        position: delivery.position,
                        retrying: Some(retrying),
                    };
                }
            }
        }
        // A sink that answered for a prefix only is handed the rest again.
        let position = batch.get(answered).map_or(next_position, |d| d.position);
        Settled {
            position,
            retrying: None,
        }
    }
}

/// Delivered positions on their way from the fan-out thread to the storer.
struct Positions {
    state: Mutex<PositionsState>,
    changed: Condvar,
}

struct PositionsState {
    /// Each member's delivered position (index as in `members`).
    delivered: Vec<u64>,
    /// Members whose position could not be stored.
    halted: Vec<bool>,
    /// Delivered positions moved since the storer last looked.
    dirty: bool,
    /// The storer waits for `dirty` (and only then needs a wake-up).
    storer_idle: bool,
    stop: bool,
}

impl Positions {
    fn new(members: &[Member]) -> Positions {
        Positions {
            state: Mutex::new(PositionsState {
                delivered: members.iter().map(|m| m.position).collect(),
                halted: members.iter().map(|m| m.halted).collect(),
                dirty: false,
                storer_idle: false,
                stop: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PositionsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands over the members' positions after a step, and learns which ones
    /// the storer could not store (their delivery stops).
    fn report(&self, members: &mut [Member]) {
        let mut state = self.lock();
        let mut moved = false;
        for (index, member) in members.iter_mut().enumerate() {
            moved |= state.delivered[index] != member.position;
            state.delivered[index] = member.position;
            member.halted |= state.halted[index];
        }
        if moved && !state.dirty {
            state.dirty = true;
            let wake = state.storer_idle;
            drop(state);
            if wake {
                self.changed.notify_all();
            }
        }
    }

    /// Tells the storer to store what is left and stop.
    fn finish(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}

/// The thread that stores a fan-out thread's delivered positions, all of them
/// in one file: a store is a new file, a rename and two syncs, which one file
/// per subscription made a hundred subscriptions pay a hundred times.
struct Storer {
    context: Arc<DeliveryContext>,
    /// Each member's control and id (index as in `members`).
    members: Vec<(Arc<Control>, SubscriptionId)>,
}

impl Storer {
    /// Stores positions as they move, at most every
    /// [`POSITION_STORE_INTERVAL`], until told to stop; then once more.
    fn run(&self, positions: &Positions) {
        loop {
            let (delivered, stopping) = {
                let mut state = positions.lock();
                state.storer_idle = true;
                let mut state = positions
                    .changed
                    .wait_while(state, |s| !s.dirty && !s.stop)
                    .unwrap_or_else(|p| p.into_inner());
                state.storer_idle = false;
                state.dirty = false;
                (state.delivered.clone(), state.stop)
            };
            let behind = self.store(positions, &delivered);
            if stopping {
                if behind {
                    // What was delivered is stored once durable in the topic's log.
                    let _ = self.context.log.settle_submitted();
                    self.store(positions, &delivered);
                }
                return;
            }
            // A position held back at the log's durable end is stored later.
            if behind {
                positions.lock().dirty = true;
            }
            let state = positions.lock();
            let _ = positions
                .changed
                .wait_timeout_while(state, POSITION_STORE_INTERVAL, |s| !s.stop);
        }
    }

    /// Stores every position of `delivered` past the stored one; whether one
    /// was held back at the topic log's durable end. A member whose delivery
    /// stopped keeps its stored position; if the file cannot be written, every
    /// member's delivery stops (logged).
    fn store(&self, positions: &Positions, delivered: &[u64]) -> bool {
        let halted = positions.lock().halted.clone();
        let wanted: Vec<Option<u64>> = delivered
            .iter()
            .zip(&halted)
            .map(|(&delivered, &halted)| (!halted).then_some(delivered))
            .collect();
        let Some((stored, moved)) = self.context.store_queues(&self.members, &wanted) else {
            positions.lock().halted.iter_mut().for_each(|h| *h = true);
            return false;
        };
        if moved {
            self.context.reclaim();
        }
        let mut pairs = wanted.iter().zip(&stored);
        pairs.any(|(wanted, &stored)| wanted.is_some_and(|wanted| stored < wanted))
    }
}

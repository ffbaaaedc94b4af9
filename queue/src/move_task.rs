//! Message move tasks: a dead-letter queue's messages moved back to the queues
//! they came from (or all to one destination), at a bounded rate.
//!
//! A task is recorded in the MANIFEST when it starts and when its status changes.
//! Its caller runs it ([`Queues::run_move_task`], one thread per task) and can
//! cancel it. Each message is appended to its destination before it is marked
//! moved in the source (at least once). A task that was running when the process
//! stopped is FAILED at the next open, with the count of its last recorded status;
//! it is not resumed (messages it did not move stay in the dead-letter queue).

use crate::error::{Error, Result};
use crate::message::StoredMessage;
use crate::queue::Queue;
use crate::registry::Queues;
use crate::types::QueueName;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages a task moves per second, when its caller sets a rate.
pub const MOVE_RATE_PER_S_MAX: u32 = 500;
/// Tasks remembered per source queue (the newest; AWS lists up to 10).
pub const MOVE_TASKS_KEPT: usize = 10;
/// Messages a task takes out of its source at a time.
const MOVE_BATCH_MAX: usize = 10;
/// How long a taken message stays hidden if its move fails.
const MOVE_HIDE_MS: u64 = 30_000;

/// Where a move task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MoveTaskStatus {
    /// Moving.
    Running,
    /// Every message there was at its start was moved (or none was left).
    Completed,
    /// Cancel asked; stops after the message being moved.
    Cancelling,
    /// Stopped by a cancel.
    Cancelled,
    /// Stopped by an error (see the failure reason).
    Failed,
}

/// One move task as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveTask {
    /// Never reused (within a data directory).
    pub id: u64,
    /// The dead-letter queue moved from.
    pub source: QueueName,
    /// The one destination; `None`: each message back to the queue it came from.
    pub destination: Option<QueueName>,
    /// Messages per second at most; `None`: as fast as it goes.
    pub rate_per_s: Option<u32>,
    /// Start time (ms since the epoch).
    pub started_ms: u64,
    /// Where it is.
    pub status: MoveTaskStatus,
    /// Messages moved so far (as of the last recorded status after a restart).
    pub moved: u64,
    /// Messages in the source when the task started: it moves no more.
    pub to_move: u64,
    /// Why it failed.
    pub failure: Option<String>,
}

impl Queues {
    /// Starts a task moving the messages of the dead-letter queue `source` (some
    /// queue's redrive policy must name it) to `destination`, or each back to its
    /// source queue. At most one task per source runs at a time. The caller then
    /// runs it with [`Queues::run_move_task`].
    pub fn start_move_task(
        &self,
        source: &str,
        destination: Option<&str>,
        rate_per_s: Option<u32>,
    ) -> Result<MoveTask> {
        if let Some(rate) = rate_per_s.filter(|r| !(1..=MOVE_RATE_PER_S_MAX).contains(r)) {
            return Err(Error::InvalidParameter {
                parameter: "MaxNumberOfMessagesPerSecond",
                reason: format!("{rate} is outside 1..={MOVE_RATE_PER_S_MAX}"),
            });
        }
        let source_queue = self.queue(source)?;
        source_queue.check_usable()?;
        if self.dead_letter_sources(source)?.is_empty() {
            return Err(Error::NotDeadLetterQueue {
                queue: source_queue.name().clone(),
            });
        }
        let destination = match destination {
            Some(name) => {
                let queue = self.queue(name)?;
                queue.check_usable()?;
                if queue.name().is_fifo() != source_queue.name().is_fifo() || name == source {
                    return Err(Error::InvalidParameter {
                        parameter: "DestinationArn",
                        reason: "the destination is another queue of the same kind (standard or FIFO) as the source".into(),
                    });
                }
                Some(queue.name().clone())
            }
            None => None,
        };
        let task = MoveTask {
            id: 0,
            source: source_queue.name().clone(),
            destination,
            rate_per_s,
            started_ms: self.clock.now_ms(),
            status: MoveTaskStatus::Running,
            moved: 0,
            to_move: source_queue.counters().visible,
            failure: None,
        };
        self.record_move_task(|manifest| {
            let running = manifest.move_tasks.iter().any(|t| {
                t.source == task.source
                    && matches!(
                        t.status,
                        MoveTaskStatus::Running | MoveTaskStatus::Cancelling
                    )
            });
            if running {
                return Err(Error::MoveTaskRunning {
                    queue: task.source.clone(),
                });
            }
            let task = MoveTask {
                id: manifest.next_task_id.max(1),
                ..task.clone()
            };
            manifest.next_task_id = task.id + 1;
            manifest.move_tasks.push(task.clone());
            let of_source = |t: &&MoveTask| t.source == task.source;
            let kept = manifest.move_tasks.iter().filter(of_source).count();
            if kept > MOVE_TASKS_KEPT {
                let oldest = manifest
                    .move_tasks
                    .iter()
                    .position(|t| t.source == task.source);
                manifest.move_tasks.remove(oldest.expect("counted above"));
            }
            Ok(task)
        })
    }

    /// The tasks of source queue `source`, newest first.
    pub fn move_tasks(&self, source: &str) -> Result<Vec<MoveTask>> {
        let queue = self.queue(source)?;
        let tasks = self.lock_tasks();
        let mut found: Vec<MoveTask> = self
            .lock()
            .manifest
            .move_tasks
            .iter()
            .filter(|t| &t.source == queue.name())
            .map(|t| live(t, &tasks))
            .collect();
        found.reverse();
        Ok(found)
    }

    /// Asks a running task to stop; returns it (status Cancelling).
    pub fn cancel_move_task(&self, id: u64) -> Result<MoveTask> {
        let task = self.record_move_task(|manifest| {
            let task = manifest
                .move_tasks
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or(Error::MoveTaskNotFound { id })?;
            if task.status != MoveTaskStatus::Running {
                return Err(Error::MoveTaskNotRunning { id });
            }
            task.status = MoveTaskStatus::Cancelling;
            Ok(task.clone())
        })?;
        let tasks = self.lock_tasks();
        let task = live(&task, &tasks);
        drop(tasks);
        self.tasks_changed.notify_all();
        Ok(task)
    }

    /// Runs task `id` to its end (moved all, cancelled, failed, or the queues
    /// stopping), pacing it to its rate; records its final status.
    pub fn run_move_task(&self, id: u64) -> Result<MoveTask> {
        let task = self
            .lock()
            .manifest
            .move_tasks
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .ok_or(Error::MoveTaskNotFound { id })?;
        let (status, failure) = match self.move_all(&task) {
            Ok(status) => (status, None),
            Err(error) => (MoveTaskStatus::Failed, Some(error.to_string())),
        };
        let moved = self.lock_tasks().moved.remove(&id).unwrap_or(0);
        if self.lock_tasks().stopping {
            // Left Running in the MANIFEST: the next open marks it failed.
            return Ok(MoveTask { moved, ..task });
        }
        self.record_move_task(|manifest| {
            let task = manifest
                .move_tasks
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or(Error::MoveTaskNotFound { id })?;
            task.status = status;
            task.moved = moved;
            task.failure = failure;
            Ok(task.clone())
        })
    }

    /// Moves messages until the task's count is reached or none is left.
    fn move_all(&self, task: &MoveTask) -> Result<MoveTaskStatus> {
        let source = self.queue(task.source.as_str())?;
        let started = Instant::now();
        let mut moved = 0u64;
        loop {
            if let Some(status) = self.wait_for_rate(task, started, moved) {
                return Ok(status);
            }
            let room = (task.to_move - moved.min(task.to_move)) as usize;
            let batch = room.min(MOVE_BATCH_MAX);
            let batch = task.rate_per_s.map_or(batch, |r| batch.min(r as usize));
            if batch == 0 {
                return Ok(MoveTaskStatus::Completed);
            }
            let taken = source.take_for_move(batch, MOVE_HIDE_MS)?;
            if taken.is_empty() {
                return Ok(MoveTaskStatus::Completed);
            }
            for (position, message) in taken {
                let destination = self.move_destination(task, &message)?;
                let moved_message = StoredMessage {
                    visible_from_ms: 0,
                    receive_count_base: 0,
                    source_queue: None,
                    ..message
                };
                source.move_out(&destination, position, &moved_message)?;
                moved += 1;
                self.lock_tasks().moved.insert(task.id, moved);
            }
        }
    }

    fn move_destination(&self, task: &MoveTask, message: &StoredMessage) -> Result<Arc<Queue>> {
        let name = match (&task.destination, &message.source_queue) {
            (Some(destination), _) => destination.as_str(),
            (None, Some(source)) => source.as_str(),
            (None, None) => {
                return Err(Error::MoveSourceUnknown {
                    message_id: message.message_id,
                })
            }
        };
        self.queue(name)
    }

    /// Waits until the task may move again under its rate; `Some` if it must stop
    /// instead (cancelled, or the queues stopping).
    fn wait_for_rate(
        &self,
        task: &MoveTask,
        started: Instant,
        moved: u64,
    ) -> Option<MoveTaskStatus> {
        let mut tasks = self.lock_tasks();
        loop {
            let cancelled = self
                .lock()
                .manifest
                .move_tasks
                .iter()
                .any(|t| t.id == task.id && t.status == MoveTaskStatus::Cancelling);
            if cancelled {
                return Some(MoveTaskStatus::Cancelled);
            }
            if tasks.stopping {
                return Some(MoveTaskStatus::Failed);
            }
            let rate = task.rate_per_s?;
            // Real time, not the queues' clock: pacing is about this process.
            let due = started + Duration::from_millis(moved * 1000 / u64::from(rate));
            let now = Instant::now();
            if now >= due {
                return None;
            }
            let wait = due - now;
            tasks = self
                .tasks_changed
                .wait_timeout(tasks, wait)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
    }

    /// Makes every running task return (left Running in the MANIFEST, so the next
    /// open marks it failed).
    pub fn stop_move_tasks(&self) {
        self.lock_tasks().stopping = true;
        self.tasks_changed.notify_all();
    }
}

/// `task` with the count of its run in progress, if any.
fn live(task: &MoveTask, tasks: &crate::registry::TaskProgress) -> MoveTask {
    let moved = tasks.moved.get(&task.id).copied().unwrap_or(task.moved);
    MoveTask {
        moved,
        ..task.clone()
    }
}

/// At open: tasks that were running when the process stopped are failed.
pub(crate) fn fail_interrupted(tasks: &mut [MoveTask]) -> bool {
    let mut changed = false;
    for task in tasks.iter_mut().filter(|t| {
        matches!(
            t.status,
            MoveTaskStatus::Running | MoveTaskStatus::Cancelling
        )
    }) {
        task.status = MoveTaskStatus::Failed;
        task.failure = Some("the server stopped while the task was running".into());
        changed = true;
    }
    changed
}

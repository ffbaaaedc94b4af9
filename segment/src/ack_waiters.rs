//! Waits for acknowledgement, ordered by the position each waits for, so that a
//! commit wakes only the waits it finishes: waking every waiter of the log on
//! every commit (a condition variable's `notify_all`) cost a context switch per
//! waiter per commit, most of them to find their batch still unacknowledged.

use std::collections::BTreeMap;
use std::task::Waker;
use std::thread::Thread;

/// How a waiter is woken: a blocked thread is unparked, a task's waker called.
#[derive(Debug)]
pub(crate) enum AckWake {
    Thread(Thread),
    Task(Waker),
}

impl AckWake {
    pub(crate) fn wake(self) {
        match self {
            AckWake::Thread(thread) => thread.unpark(),
            AckWake::Task(waker) => waker.wake(),
        }
    }
}

/// The registered waits of one log, under its state lock. A wait is keyed by
/// `(target, id)`: it is done once every position below `target` is acknowledged.
#[derive(Debug, Default)]
pub(crate) struct AckWaiters {
    next_id: u64,
    waiting: BTreeMap<(u64, u64), AckWake>,
}

impl AckWaiters {
    /// Registers a wait for `target`; returns its id.
    pub(crate) fn register(&mut self, target: u64, wake: AckWake) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.waiting.insert((target, id), wake);
        id
    }

    /// Points a registered task wait at `waker`; false if it is no longer
    /// registered (it was woken), so that the caller registers anew.
    pub(crate) fn update(&mut self, target: u64, id: u64, waker: &Waker) -> bool {
        match self.waiting.get_mut(&(target, id)) {
            Some(AckWake::Task(known)) => {
                if !known.will_wake(waker) {
                    *known = waker.clone();
                }
                true
            }
            // Ids are never reused: a thread's wait is never a task's.
            Some(AckWake::Thread(_)) | None => false,
        }
    }

    /// Whether the wait is still registered (not woken yet).
    pub(crate) fn contains(&self, target: u64, id: u64) -> bool {
        self.waiting.contains_key(&(target, id))
    }

    /// Forgets a wait that ended without being woken.
    pub(crate) fn remove(&mut self, target: u64, id: u64) {
        self.waiting.remove(&(target, id));
    }

    /// Takes the waits that `acked_position` finishes (target at or below it).
    pub(crate) fn take_reached(&mut self, acked_position: u64) -> Vec<AckWake> {
        match self.waiting.first_key_value() {
            Some(((target, _), _)) if *target <= acked_position => {}
            _ => return Vec::new(),
        }
        let later = self
            .waiting
            .split_off(&(acked_position.saturating_add(1), 0));
        std::mem::replace(&mut self.waiting, later)
            .into_values()
            .collect()
    }

    /// Takes every wait (the log failed: each ends with its error).
    pub(crate) fn take_all(&mut self) -> Vec<AckWake> {
        std::mem::take(&mut self.waiting).into_values().collect()
    }
}

//! The order of commit rounds when two writer threads take them in turn.
//!
//! Under the `sync` policy two writers take rounds from the commit queue, so that
//! the write of round N+1 is in the device's queue while round N's is still being
//! written (measured: the one-shard pipeline waited for the round trip of each write
//! before submitting the next, docs/benchmarks.md). Each round gets a ticket when
//! its stages are taken (taking is serialized), and everything whose order matters
//! waits for the rounds before it to be handed on: the write of a block an earlier
//! round also writes (the partial tail block `O_DIRECT` rewrites), segment creation,
//! and the hand-off to the syncer, which acknowledges in the order it receives.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct TurnState {
    /// Tickets handed out.
    taken: u64,
    /// Rounds handed on: every ticket below this one.
    finished: u64,
    /// A writer died (a bug): nobody waits for a turn any more.
    abandoned: bool,
}

/// Tickets of commit rounds and the wait for an earlier round's turn.
#[derive(Debug, Default)]
pub(crate) struct Turns {
    /// Held by the writer that waits for work and takes a round's stages, so that
    /// tickets follow the order in which stages were taken.
    taking: Mutex<()>,
    state: Mutex<TurnState>,
    turn: Condvar,
}

/// A round's place in the order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    number: u64,
    /// Whether an earlier round was still being written when this one was taken.
    pub after_unfinished: bool,
}

impl Turns {
    /// The right to take the next round; hold it while waiting for work and taking.
    pub(crate) fn taking(&self) -> MutexGuard<'_, ()> {
        self.taking.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next round's ticket (call while holding [`Turns::taking`]).
    pub(crate) fn next(&self) -> Ticket {
        let mut state = self.lock();
        let number = state.taken;
        state.taken += 1;
        Ticket {
            number,
            after_unfinished: state.finished < number,
        }
    }

    /// Waits until every round before `ticket` is handed on. False when a writer
    /// died: then nothing may be written for this round.
    pub(crate) fn wait_for(&self, ticket: Ticket) -> bool {
        let mut state = self.lock();
        while state.finished < ticket.number && !state.abandoned {
            state = self.turn.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        !state.abandoned
    }

    /// Marks the round of `ticket` handed on (after [`Turns::wait_for`] it).
    pub(crate) fn finish(&self, ticket: Ticket) {
        let mut state = self.lock();
        assert_eq!(
            state.finished, ticket.number,
            "rounds finish in ticket order"
        );
        state.finished += 1;
        drop(state);
        self.turn.notify_all();
    }

    /// A writer died: wakes every wait, which then fails.
    pub(crate) fn abandon(&self) {
        self.lock().abandoned = true;
        self.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    //! Rounds are handed on in ticket order, and a dead writer releases every wait.
    use super::Turns;
    use std::sync::Arc;

    /// A later ticket waits until the earlier one finishes; a ticket taken after
    /// every earlier one finished says so.
    #[test]
    fn a_later_round_waits_for_the_earlier_one() {
        let turns = Arc::new(Turns::default());
        let first = turns.next();
        assert!(!first.after_unfinished);
        let second = turns.next();
        assert!(second.after_unfinished);
        let waiter = {
            let turns = Arc::clone(&turns);
            std::thread::spawn(move || {
                let ok = turns.wait_for(second);
                turns.finish(second);
                ok
            })
        };
        assert!(turns.wait_for(first));
        turns.finish(first);
        assert!(waiter.join().unwrap());
        assert!(!turns.next().after_unfinished);
    }

    /// After `abandon`, a wait for a turn that will never come returns false.
    #[test]
    fn an_abandoned_wait_fails() {
        let turns = Arc::new(Turns::default());
        let _first = turns.next();
        let second = turns.next();
        let waiter = {
            let turns = Arc::clone(&turns);
            std::thread::spawn(move || turns.wait_for(second))
        };
        turns.abandon();
        assert!(!waiter.join().unwrap());
    }
}

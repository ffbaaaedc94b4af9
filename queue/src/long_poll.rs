//! Receives for async callers ([`Queue::receive_unblocked`]): no thread blocks,
//! neither on the state log's commit nor in a long poll. An awaiting long poll
//! registers a waker on its queue, woken by what wakes the blocked polls (a send,
//! a visibility change or deletion, new attributes, the end of waits, close).

use crate::error::Result;
use crate::queue::{Inner, Queue};
use crate::receive::{check_request, ReceiveRequest, ReceivedMessage, StagedRound};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::MutexGuard;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The awaiting long polls of a queue, oldest first, each under an id of its own.
#[derive(Debug, Default)]
pub(crate) struct PollWakers {
    next_id: u64,
    waiting: VecDeque<(u64, Waker)>,
}

impl PollWakers {
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    fn contains(&self, id: u64) -> bool {
        self.waiting.iter().any(|(known, _)| *known == id)
    }
}

impl Queue {
    /// Receives like [`Queue::receive`] without blocking a thread: the state
    /// append is awaited, and so is a long poll, with `sleep(d)` (the caller's
    /// timer) bounding each wait. `None` when the receive must block and go
    /// through `receive` instead: a FIFO attempt id, or moves to `dead_letter`.
    pub async fn receive_unblocked<S: Future<Output = ()>>(
        &self,
        request: &ReceiveRequest,
        dead_letter: Option<&Queue>,
        sleep: impl Fn(Duration) -> S,
    ) -> Option<Result<Vec<ReceivedMessage>>> {
        let attempt_id = request.receive_request_attempt_id.as_ref();
        if dead_letter.is_some() || (self.name.is_fifo() && attempt_id.is_some()) {
            return None;
        }
        Some(self.poll_unblocked(request, sleep).await)
    }

    async fn poll_unblocked<S: Future<Output = ()>>(
        &self,
        request: &ReceiveRequest,
        sleep: impl Fn(Duration) -> S,
    ) -> Result<Vec<ReceivedMessage>> {
        self.check_usable()?;
        check_request(request)?;
        let wait_s = request
            .wait_time_s
            .unwrap_or_else(|| self.lock().attributes.receive_wait_s);
        let deadline = Instant::now() + Duration::from_secs(u64::from(wait_s));
        loop {
            // Without a dead-letter queue a round moves nothing.
            let StagedRound { round, pending, .. } = self.stage_round(request, None)?;
            if let Some(pending) = pending {
                pending.acknowledged().await?;
            }
            let now = Instant::now();
            if !round.messages.is_empty() || now >= deadline {
                return Ok(round.messages);
            }
            let timeout = self.poll_timeout(deadline - now, round.next_due_ms);
            let mut changed = pin!(Changed {
                queue: self,
                generation: round.generation,
                id: None,
            });
            let mut slept = pin!(sleep(timeout));
            poll_fn(|context| {
                let changed = changed.as_mut().poll(context).is_ready();
                if changed || slept.as_mut().poll(context).is_ready() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            let inner = self.lock();
            if inner.closed || inner.waits_ended {
                return Ok(Vec::new());
            }
        }
    }

    /// Wakes up to `count` long polls (all for `usize::MAX`): awaiting ones first,
    /// oldest first, then blocked ones; no call at all when none waits (a
    /// condition variable's notify is a system call even then). `inner` is the
    /// lock under which the news was made visible: a poll checks for news under
    /// it before it starts waiting, so none can start waiting unwoken after it.
    pub(crate) fn wake_receivers(&self, mut inner: MutexGuard<'_, Inner>, count: usize) {
        let awaiting = inner.poll_wakers.waiting.len().min(count);
        let wakers: Vec<Waker> = inner
            .poll_wakers
            .waiting
            .drain(..awaiting)
            .map(|(_, waker)| waker)
            .collect();
        let blocked = inner.waiting_receivers;
        drop(inner);
        wakers.into_iter().for_each(Waker::wake);
        let count = count - awaiting;
        if blocked <= count {
            if blocked > 0 {
                self.changed.notify_all();
            }
        } else {
            for _ in 0..count {
                self.changed.notify_one();
            }
        }
    }
}

/// Resolves once something may have become receivable since the round that saw
/// `generation`: a send since, or a wake (see [`Queue::wake_receivers`]), or the
/// end of waits.
struct Changed<'a> {
    queue: &'a Queue,
    generation: u64,
    /// Its entry in the queue's `poll_wakers` once registered; a wake removes it.
    id: Option<u64>,
}

impl Future for Changed<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let queue = self.queue;
        let mut inner = queue.lock();
        let news = inner.generation != self.generation || inner.closed || inner.waits_ended;
        let woken = self.id.is_some_and(|id| !inner.poll_wakers.contains(id));
        if news || woken {
            if let Some(id) = self.id.take() {
                inner.poll_wakers.waiting.retain(|(known, _)| *known != id);
            }
            return Poll::Ready(());
        }
        let wakers = &mut inner.poll_wakers;
        match self.id {
            Some(id) => {
                let entry = wakers.waiting.iter_mut().find(|(known, _)| *known == id);
                let (_, waker) = entry.expect("a registered poll not woken is listed");
                if !waker.will_wake(context.waker()) {
                    *waker = context.waker().clone();
                }
            }
            None => {
                let id = wakers.next_id;
                wakers.next_id += 1;
                wakers.waiting.push_back((id, context.waker().clone()));
                self.id = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Changed<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else {
            return;
        };
        let mut inner = self.queue.lock();
        if inner.poll_wakers.contains(id) {
            inner.poll_wakers.waiting.retain(|(known, _)| *known != id);
        } else {
            // Woken for news it will not act on (its poll ended meanwhile, or
            // was dropped): another poll takes the wake over.
            self.queue.wake_receivers(inner, 1);
        }
    }
}

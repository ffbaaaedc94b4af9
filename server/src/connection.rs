//! One connection's life: TLS handshake (when configured), HTTP/1.1 or HTTP/2 by
//! hyper, closed when it stays idle, shut down gracefully when the server stops.
//!
//! Idle means no request in flight: none being handled and no response body still
//! being sent (a SubscribeToShard stream counts as in flight until it ends). This
//! covers what hyper's own timers do not: a client that connects and sends nothing
//! or part of the HTTP/2 preface (hyper-util waits for it without a timer), and an
//! HTTP/2 connection that stays open without streams.

use crate::http::{handle, Body, Shared};
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
use tokio::time::Instant;

/// What a connection task holds while it runs.
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) builder: Builder<TokioExecutor>,
    /// Changes (or closes) when the server stops accepting.
    pub(crate) stopping: watch::Receiver<()>,
    /// Dropped when the task ends; the server waits for every clone to go.
    pub(crate) alive: mpsc::Sender<()>,
    /// One of the server's connection slots.
    pub(crate) permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Serves `stream` until the client or the server ends it, or it stays idle.
    pub(crate) async fn run(self, stream: TcpStream) {
        let idle_timeout = self.shared.config.idle_timeout;
        let served = match self.shared.config.tls.clone() {
            None => self.serve(stream).await,
            Some(tls) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                // A client that never finishes its handshake holds no slot for long.
                match tokio::time::timeout(idle_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => self.serve(stream).await,
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "TLS handshake failed");
                        Ok(())
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        Ok(())
                    }
                }
            }
        };
        if let Err(error) = served {
            tracing::debug!(%error, "connection ended with an error");
        }
    }

    async fn serve<I>(self, io: I) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            shared,
            builder,
            mut stopping,
            alive: _alive,
            permit: _permit,
        } = self;
        let idle_timeout = shared.config.idle_timeout;
        let activity = Arc::new(Activity::new());
        let tracked = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |request| {
            let shared = Arc::clone(&shared);
            let in_flight = InFlight::new(Arc::clone(&tracked));
            async move {
                let response = handle(shared, request).await;
                Ok::<_, Infallible>(response.map(|body| TrackedBody {
                    inner: body,
                    _in_flight: in_flight,
                }))
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        tokio::pin!(connection);
        // When to look at idleness again; none once the server stops, whose
        // shutdown grace bounds the wait for requests in flight instead.
        let mut deadline = Some(Instant::now() + idle_timeout);
        let mut closing = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => return served,
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)),
                    if deadline.is_some() =>
                {
                    if closing {
                        // The client did not let the graceful close finish.
                        return Ok(());
                    }
                    let now = Instant::now();
                    deadline = Some(match activity.idle_until(idle_timeout) {
                        Some(until) if until > now => until,
                        Some(_) => {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                            now + idle_timeout
                        }
                        None => now + idle_timeout,
                    });
                }
                _ = stopping.changed(), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    deadline = None;
                }
            }
        }
    }
}

/// Requests in flight on one connection, and since when there have been none.
struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    /// When the connection will have been idle for `timeout`; `None` while a
    /// request is in flight.
    fn idle_until(&self, timeout: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = *self
            .idle_since
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        Some(since + timeout)
    }
}

/// One request in flight, from the service call until its response body is
/// sent or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The time is set before the count drops, so a watchdog that sees zero
        // also sees when the connection went idle.
        *self
            .0
            .idle_since
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is done.
pub(crate) struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

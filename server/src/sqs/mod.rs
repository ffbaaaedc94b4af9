//! The SQS API over `shardlog-queue`: JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`)
//! and the query protocol (form-encoded `Action=...`, XML answers). Both decode
//! into the same request [`Value`] (shaped by the SQS model and validated by it),
//! run the same action, and encode its response [`Value`] in their format.
//! SQS wording (error codes, attribute names, URLs, ARNs) lives in this module.

mod actions;
mod attributes;
pub mod error;
mod fast;
mod http;
pub mod md5;
mod messages;
mod move_tasks;
mod permissions;
mod query;
mod requests;
mod responses;

pub use error::SqsError;
pub(crate) use http::{is_sqs_request, query_error_response, respond};

use crate::protocol::value::Value;
use shardlog_queue::{Queues, QueuesConfig};
use shardlog_segment::Storage;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The `X-Amz-Target` prefix of the SQS API.
pub const SQS_TARGET_PREFIX: &str = "AmazonSQS.";
/// How often queues drop expired messages and reclaim segments.
const RECLAIM_INTERVAL: Duration = Duration::from_secs(10);

/// The SQS service: the queues of a data directory and who owns them. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sqs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queues: Queues,
    /// Queues quarantined at open, for `/metrics`.
    quarantined: Vec<String>,
    region: String,
    account_id: String,
    stopping: Mutex<bool>,
    stop: Condvar,
    reclaimer: Mutex<Option<JoinHandle<()>>>,
    /// Threads of started message move tasks (finished ones are pruned as new
    /// ones start).
    movers: Mutex<Vec<JoinHandle<()>>>,
}

impl Sqs {
    /// Opens the queues in `root` on `storage` (shared with the engine, so one
    /// group commit serves both) and starts the periodic reclaim. ARNs name
    /// `region` and `account_id`.
    pub fn open(
        storage: Storage,
        root: &Path,
        region: &str,
        account_id: &str,
    ) -> Result<Sqs, String> {
        let (queues, report) = Queues::open(storage, root, QueuesConfig::default())
            .map_err(|error| format!("cannot open the queues in {}: {error}", root.display()))?;
        if !report.unknown_entries.is_empty() {
            tracing::warn!(entries = ?report.unknown_entries, "queue directories the MANIFEST does not list were left alone");
        }
        for (queue, cause) in &report.quarantined {
            tracing::error!(%queue, %cause, "queue quarantined: its logs could not be read; the other queues open");
        }
        let quarantined = report.quarantined.into_iter();
        let sqs = Sqs {
            inner: Arc::new(Inner {
                queues,
                quarantined: quarantined.map(|(queue, _)| queue.to_string()).collect(),
                region: region.to_string(),
                account_id: account_id.to_string(),
                stopping: Mutex::new(false),
                stop: Condvar::new(),
                reclaimer: Mutex::new(None),
                movers: Mutex::new(Vec::new()),
            }),
        };
        let worker = Arc::clone(&sqs.inner);
        let thread = std::thread::Builder::new()
            .name("sqs-reclaim".into())
            .spawn(move || worker.reclaim_until_stopped())
            .map_err(|error| format!("cannot start the queue reclaim thread: {error}"))?;
        *lock(&sqs.inner.reclaimer) = Some(thread);
        Ok(sqs)
    }

    /// Makes long polls return now (empty) instead of holding their connections
    /// through a shutdown.
    pub fn end_long_polls(&self) {
        self.inner.queues.end_waits();
    }

    /// Stops the reclaim thread and closes every queue (syncing its logs). Call
    /// before the engine's shutdown, which shuts the shared storage down.
    pub fn shutdown(&self) -> Result<(), String> {
        *lock(&self.inner.stopping) = true;
        self.inner.stop.notify_all();
        if let Some(thread) = lock(&self.inner.reclaimer).take() {
            let _ = thread.join();
        }
        // Running move tasks return now; they are failed at the next open.
        self.inner.queues.stop_move_tasks();
        for thread in std::mem::take(&mut *lock(&self.inner.movers)) {
            let _ = thread.join();
        }
        self.inner
            .queues
            .close()
            .map_err(|error| format!("closing the queues: {error}"))
    }

    /// Runs move task `id` (already started) in its own thread.
    pub(crate) fn run_move_task(&self, id: u64) -> Result<(), SqsError> {
        let worker = Arc::clone(&self.inner);
        let thread = std::thread::Builder::new()
            .name("sqs-move-task".into())
            .spawn(move || {
                if let Err(error) = worker.queues.run_move_task(id) {
                    tracing::warn!(task = id, %error, "message move task ended with an error");
                }
            })
            .map_err(|error| {
                SqsError::new(
                    "InternalError",
                    format!("cannot start the message move task: {error}"),
                )
            })?;
        let mut movers = lock(&self.inner.movers);
        movers.retain(|thread| !thread.is_finished());
        movers.push(thread);
        Ok(())
    }

    /// Queues quarantined at open (their logs could not be read), by name.
    pub(crate) fn quarantined_queues(&self) -> &[String] {
        &self.inner.quarantined
    }

    pub(crate) fn queues(&self) -> &Queues {
        &self.inner.queues
    }

    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub(crate) fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{name}",
            self.inner.region, self.inner.account_id
        )
    }

    pub(crate) fn account_id(&self) -> &str {
        &self.inner.account_id
    }
}

impl Inner {
    fn reclaim_until_stopped(&self) {
        let mut stopping = lock(&self.stopping);
        loop {
            let (guard, _) = self
                .stop
                .wait_timeout_while(stopping, RECLAIM_INTERVAL, |stop| !*stop)
                .unwrap_or_else(|poison| poison.into_inner());
            stopping = guard;
            if *stopping {
                return;
            }
            drop(stopping);
            for name in self.queues.list_queues("") {
                let queue = self.queues.queue(name.as_str());
                // A quarantined queue holds nothing to reclaim; it was logged at open.
                if queue
                    .as_ref()
                    .is_ok_and(|queue| queue.quarantine_cause().is_some())
                {
                    continue;
                }
                let reclaimed = queue.and_then(|queue| queue.reclaim());
                if let Err(error) = reclaimed {
                    tracing::warn!(queue = %name, %error, "queue reclaim failed");
                }
            }
            stopping = lock(&self.stopping);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// The wire protocol of a request, which its answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// JSON 1.0 (`X-Amz-Target`).
    Json,
    /// The query protocol (a form in, XML out).
    Query,
}

/// An action's answer in its request's wire: JSON written straight from the
/// typed response (no tree in between: a ReceiveMessage answer carries up to ten
/// bodies), or, for the query protocol, the tree its XML writer orders by the model.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The JSON 1.0 body.
    Json(Vec<u8>),
    /// The response tree, for the query protocol's writer.
    Tree(Value),
}

/// What an action needs beyond its request: the service, the host the client
/// addressed (queue URLs are built on it), and the wire its answer goes out in.
pub(crate) struct Context<'a> {
    pub sqs: &'a Sqs,
    pub host: &'a str,
    pub wire: Wire,
}

impl Context<'_> {
    /// The answer of a typed response, in this request's wire.
    pub fn respond<T: serde::Serialize>(&self, response: &T) -> Result<Answer, SqsError> {
        self.respond_sized(response, 0)
    }

    /// [`Context::respond`] for an answer of about `json_bytes` in JSON, which its
    /// buffer is made for at once.
    pub fn respond_sized<T: serde::Serialize>(
        &self,
        response: &T,
        json_bytes: usize,
    ) -> Result<Answer, SqsError> {
        use crate::protocol::typed;
        Ok(match self.wire {
            Wire::Json => Answer::Json(typed::respond_json(response, json_bytes)?),
            Wire::Query => Answer::Tree(typed::respond(response)?),
        })
    }

    /// The queue a request's QueueUrl names.
    pub fn queue_at(&self, url: &str) -> Result<std::sync::Arc<shardlog_queue::Queue>, SqsError> {
        Ok(self.sqs.queues().queue(queue_name_of(url)?)?)
    }

    /// `http://<host>/<account>/<name>`.
    pub fn queue_url(&self, name: &str) -> String {
        format!("http://{}/{}/{name}", self.host, self.sqs.account_id())
    }
}

/// The queue name a queue URL ends in (`http://host/account/name`, or the path alone).
pub(crate) fn queue_name_of(url: &str) -> Result<&str, SqsError> {
    let trimmed = url.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((_, name)) if !name.is_empty() => Ok(name),
        _ => Err(SqsError::new(
            "QueueDoesNotExist",
            "The specified queue does not exist.",
        )),
    }
}

/// Runs `action` on its validated request: message actions on the calling task
/// (their durability waits are awaited, no thread blocks), the others, which may
/// block (long polls, queue administration), on the blocking pool.
pub(crate) async fn dispatch(
    (sqs, host, wire): (&Sqs, &str, Wire),
    action: String,
    request: Value,
) -> Result<Answer, SqsError> {
    let context = Context { sqs, host, wire };
    if let Some(result) = messages::dispatch(&context, &action, &request).await {
        return result;
    }
    on_blocking_pool((sqs, host, wire), move |context| {
        dispatch_blocking(context, &action, &request)
    })
    .await
}

/// Runs `run` on the blocking pool, with a context of its own.
async fn on_blocking_pool(
    (sqs, host, wire): (&Sqs, &str, Wire),
    run: impl FnOnce(&Context<'_>) -> Result<Answer, SqsError> + Send + 'static,
) -> Result<Answer, SqsError> {
    let (sqs, host) = (sqs.clone(), host.to_string());
    tokio::task::spawn_blocking(move || {
        let context = Context {
            sqs: &sqs,
            host: &host,
            wire,
        };
        run(&context)
    })
    .await
    .unwrap_or_else(|error| {
        let message = format!("request handler failed: {error}");
        Err(SqsError::new("InternalError", message))
    })
}

/// Runs a request the fast decoder read ([`fast`]), as [`dispatch`] runs the
/// same action from the tree.
async fn dispatch_decoded(
    (sqs, host, wire): (&Sqs, &str, Wire),
    request: fast::Decoded,
) -> Result<Answer, SqsError> {
    let context = Context { sqs, host, wire };
    let receive = match messages::dispatch_decoded(&context, request).await {
        Ok(result) => return result,
        Err(receive) => receive,
    };
    on_blocking_pool((sqs, host, wire), move |context| {
        messages::receive_blocking(context, &receive)
    })
    .await
}

/// Runs an action that may block a thread.
fn dispatch_blocking(
    context: &Context<'_>,
    action: &str,
    request: &Value,
) -> Result<Answer, SqsError> {
    if let Some(result) = actions::dispatch(context, action, request) {
        return result;
    }
    if let Some(result) = messages::dispatch_blocking(context, action, request) {
        return result;
    }
    if let Some(result) = move_tasks::dispatch(context, action, request) {
        return result;
    }
    let known = crate::protocol::model::sqs().operation(action).is_some();
    let message = if known {
        format!("{action} is not supported by this server.")
    } else {
        format!("Unknown action {action}.")
    };
    let shape = if known {
        "UnsupportedOperation"
    } else {
        "InvalidAction"
    };
    Err(SqsError::new(shape, message))
}

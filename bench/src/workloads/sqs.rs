//! SQS over HTTP, as boto3 speaks it (JSON 1.0): SendMessage one at a time and in
//! batches of 10, the round trip (send, receive, delete, batches of 10, at once),
//! receive + delete of a pre-filled queue, and SendMessage latency at a fixed rate. Each case has its own queue, created
//! on its first run and deleted when the cases are dropped. The same cases run
//! against moto's server with `--compare-moto` (see [`super::moto`]).

use super::http::Endpoint;
use super::sqs_body::{self, with_buffers};
use super::{calls_until_done, flat_out, join_all, merge_concurrent, payload, wait_until};
use super::{senders_and_receivers, Budget, Case, Figure, Meter, Params, Sample};
use super::{WhenEmpty, WorkloadKind};
use crate::stats::record_ns;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Messages per batch call.
const BATCH: usize = 10;
/// Long poll of the round trip's receivers, s: short, so they stop soon after the budget.
const RECEIVE_WAIT_S: u32 = 1;
/// Most messages the receive + delete case queues before each drain.
const FILL_MESSAGES_MAX: u64 = 50_000;

/// The SQS cases' knobs.
#[derive(Debug, Clone, Copy)]
pub struct SqsSettings {
    /// Body bytes of each message.
    pub message_bytes: usize,
    /// Threads of the throughput cases (the round trip splits them between
    /// senders and receivers).
    pub threads: usize,
    /// Messages/s of the latency case.
    pub rate: u64,
}

/// What every SQS run works with.
#[derive(Clone, Copy)]
struct Run<'a> {
    endpoint: &'a Endpoint,
    url: &'a str,
    settings: SqsSettings,
    budget: &'a Budget,
    meter: &'a Meter,
}

/// A queue of one case, created on first use and deleted on drop.
struct BenchQueue {
    endpoint: Arc<Endpoint>,
    name: String,
    url: OnceLock<String>,
}

impl BenchQueue {
    fn url(&self) -> Result<&str, String> {
        if let Some(url) = self.url.get() {
            return Ok(url);
        }
        let created = (self.endpoint.call)("CreateQueue", &json!({"QueueName": self.name}))
            .map_err(|e| format!("CreateQueue {}: {e}", self.name))?;
        let url = created["QueueUrl"]
            .as_str()
            .ok_or("CreateQueue: no QueueUrl")?;
        Ok(self.url.get_or_init(|| url.to_string()))
    }
}

impl Drop for BenchQueue {
    fn drop(&mut self) {
        if let Some(url) = self.url.get() {
            let _ = (self.endpoint.call)("DeleteQueue", &json!({"QueueUrl": url}));
        }
    }
}

/// The SQS cases among `kinds` against the endpoint `call` talks to; `label`
/// ("shardlog", "moto") starts each case's name.
pub fn sqs_cases<'a>(
    kinds: &[WorkloadKind],
    endpoint: Arc<Endpoint>,
    label: &str,
    settings: SqsSettings,
) -> Vec<Case<'a>> {
    kinds
        .iter()
        .filter(|kind| kind.is_sqs())
        .enumerate()
        .map(|(index, &kind)| {
            let queue = BenchQueue {
                endpoint: Arc::clone(&endpoint),
                name: format!("shardlog-bench-{}-{label}-{index}", std::process::id()),
                url: OnceLock::new(),
            };
            let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
                let run = Run {
                    endpoint: &queue.endpoint,
                    url: queue.url()?,
                    settings,
                    budget,
                    meter,
                };
                match kind {
                    WorkloadKind::SqsSend => send(run, 1),
                    WorkloadKind::SqsSendBatch => send(run, BATCH),
                    WorkloadKind::SqsRoundTrip => round_trip(run),
                    WorkloadKind::SqsReceiveDelete => receive_delete(run),
                    _ => paced_send(run),
                }
            };
            sqs_case(kind, label, settings, Box::new(run))
        })
        .collect()
}

fn sqs_case<'a>(
    kind: WorkloadKind,
    label: &str,
    settings: SqsSettings,
    run: super::RunFn<'a>,
) -> Case<'a> {
    let mut params = Params {
        record_bytes: Some(settings.message_bytes),
        producers: Some(settings.threads),
        ..Params::default()
    };
    let (name, latency_of, figure) = match kind {
        WorkloadKind::SqsSend => ("SendMessage", "SendMessage request", Figure::Throughput),
        WorkloadKind::SqsSendBatch => (
            "SendMessageBatch of 10",
            "SendMessageBatch request",
            Figure::Throughput,
        ),
        WorkloadKind::SqsRoundTrip => (
            "send+receive+delete, batches of 10",
            "ReceiveMessage + DeleteMessageBatch",
            Figure::Throughput,
        ),
        WorkloadKind::SqsReceiveDelete => (
            "receive+delete of 10, pre-filled",
            "ReceiveMessage + DeleteMessageBatch",
            Figure::Throughput,
        ),
        _ => {
            params.rate_records_per_s = Some(settings.rate);
            (
                "SendMessage latency",
                "intended start to SendMessage answer",
                Figure::Latency,
            )
        }
    };
    params.batch_records = Some(if name.contains("10") { BATCH } else { 1 });
    let name = match kind {
        WorkloadKind::SqsSendLatency => format!("{label} SQS {name} {}/s", settings.rate),
        _ => format!("{label} SQS {name}"),
    };
    Case {
        kind,
        name,
        params,
        latency_of,
        baselines: &[],
        figure,
        warmup: true,
        run,
    }
}

/// A pre-encoded send (SendMessage or SendMessageBatch) and the MD5 of the body
/// its messages carry, which their answers' digests must equal.
struct SendCall {
    action: &'static str,
    request: Vec<u8>,
    body_md5: String,
}

impl SendCall {
    /// `count` messages of `body` a call (see [`sqs_body::send`]).
    fn of(url: &str, count: usize, body: &str) -> SendCall {
        let (action, request) = sqs_body::send(url, count, body);
        let body_md5 = sqs_body::md5_hex(body.as_bytes());
        SendCall {
            action,
            request,
            body_md5,
        }
    }
}

/// Sends one pre-encoded request; an entry the server refused, or a digest
/// other than the body's, is an error.
fn send_once(endpoint: &Endpoint, send: &SendCall) -> Result<(), String> {
    let action = send.action;
    with_buffers(|buffers| {
        (endpoint.raw)(action, &send.request, &mut buffers.answer)
            .map_err(|e| format!("{action}: {e}"))?;
        sqs_body::check_answer(action, &buffers.answer, &send.body_md5)
    })
}

/// Message bodies: base64-safe text of `bytes` bytes.
fn body_text(bytes: usize) -> String {
    payload(bytes, 3)
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect()
}

/// `settings.threads` senders of `count` messages a call until the budget ends.
fn send(run: Run<'_>, count: usize) -> Result<Sample, String> {
    let body = body_text(run.settings.message_bytes);
    let request = SendCall::of(run.url, count, &body);
    flat_out(
        run.settings.threads,
        (run.budget, run.meter),
        (run.settings.message_bytes, WhenEmpty::Continue),
        "an SQS sender",
        || send_once(run.endpoint, &request).map(|()| count),
    )
}

/// Half the threads send batches of 10, half receive 10 (long poll of
/// [`RECEIVE_WAIT_S`]) and delete them, until the budget ends; counts the messages
/// deleted (each sent, received and deleted).
fn round_trip(run: Run<'_>) -> Result<Sample, String> {
    let body = body_text(run.settings.message_bytes);
    let request = SendCall::of(run.url, BATCH, &body);
    let receive = sqs_body::receive(run.url, BATCH, RECEIVE_WAIT_S);
    senders_and_receivers(
        run.settings.threads,
        "an SQS round trip thread",
        || send_once(run.endpoint, &request),
        |started| {
            let moved = (run.settings.message_bytes, WhenEmpty::Continue);
            calls_until_done((run.budget, run.meter), started, moved, || {
                receive_and_delete(run, &receive)
            })
        },
    )
}

/// One ReceiveMessage (`receive`, pre-encoded) and a DeleteMessageBatch of what
/// came; returns how many were deleted.
fn receive_and_delete(run: Run<'_>, receive: &[u8]) -> Result<usize, String> {
    with_buffers(|buffers| {
        (run.endpoint.raw)("ReceiveMessage", receive, &mut buffers.answer)
            .map_err(|e| format!("ReceiveMessage: {e}"))?;
        let received = sqs_body::received(&buffers.answer)?;
        let count = received.messages.len();
        if count == 0 {
            return Ok(0);
        }
        let handles = received.messages.iter().map(|m| &*m.receipt_handle);
        sqs_body::delete_batch(run.url, handles, &mut buffers.delete);
        (run.endpoint.raw)("DeleteMessageBatch", &buffers.delete, &mut buffers.answer)
            .map_err(|e| format!("DeleteMessageBatch: {e}"))?;
        sqs_body::check_answer("DeleteMessageBatch", &buffers.answer, "")?;
        Ok(count)
    })
}

/// Fills the queue with batches of 10 (up to the volume budget's messages, at most
/// [`FILL_MESSAGES_MAX`], for at most the run's duration: moto is slow), then
/// drains it from every thread until a receive finds nothing or the budget ends;
/// counts the messages deleted, timed from the drain's start.
fn receive_delete(run: Run<'_>) -> Result<Sample, String> {
    let (endpoint, settings, budget) = (run.endpoint, run.settings, run.budget);
    let target = (budget.volume_bytes / settings.message_bytes as u64)
        .clamp(BATCH as u64, FILL_MESSAGES_MAX);
    let body = body_text(settings.message_bytes);
    let request = SendCall::of(run.url, BATCH, &body);
    let filled = AtomicU64::new(0);
    let fill_started = Instant::now();
    let outcomes = std::thread::scope(|scope| {
        let threads = (0..settings.threads)
            .map(|_| {
                scope.spawn(|| {
                    while filled.fetch_add(BATCH as u64, Ordering::Relaxed) < target
                        && fill_started.elapsed() < budget.duration
                    {
                        send_once(endpoint, &request)?;
                    }
                    Ok(())
                })
            })
            .collect();
        join_all(threads, "an SQS filling thread")
    });
    outcomes.into_iter().collect::<Result<(), String>>()?;
    // Without waiting: the drain ends at the first receive that finds nothing.
    let receive = sqs_body::receive(run.url, BATCH, 0);
    flat_out(
        settings.threads,
        (budget, run.meter),
        (settings.message_bytes, WhenEmpty::Stop),
        "an SQS receiver",
        || receive_and_delete(run, &receive),
    )
}

/// SendMessage at `settings.rate` messages/s from a few paced threads; latency
/// counts from each call's intended start, so a slow answer delays the next ones
/// and shows in the percentiles (no coordinated omission).
fn paced_send(run: Run<'_>) -> Result<Sample, String> {
    let Run {
        endpoint,
        url,
        settings,
        budget,
        meter,
    } = run;
    const PACED_THREADS: u64 = 4;
    let body = body_text(settings.message_bytes);
    let request = SendCall::of(url, 1, &body);
    let interval = Duration::from_secs_f64(PACED_THREADS as f64 / settings.rate.max(1) as f64);
    let started = Instant::now();
    let outcomes = std::thread::scope(|scope| {
        let threads = (0..PACED_THREADS)
            .map(|index| {
                let request = &request;
                scope.spawn(move || {
                    let mut sample = Sample::new();
                    let offset = interval.mul_f64(index as f64 / PACED_THREADS as f64);
                    for n in 0u32.. {
                        let due = started + offset + interval * n;
                        // A server slower than the rate ends the run on time too.
                        let late = started.elapsed() >= budget.duration;
                        if late || due.duration_since(started) >= budget.duration {
                            break;
                        }
                        wait_until(due);
                        send_once(endpoint, request)?;
                        record_ns(&mut sample.latency_ns, due.elapsed());
                        sample.records += 1;
                        meter.add(0, 1);
                    }
                    sample.elapsed = started.elapsed();
                    Ok(sample)
                })
            })
            .collect();
        join_all(threads, "an SQS paced sender")
    });
    merge_concurrent(outcomes)
}

/// shardlog against moto, case by case (SQS and SNS, matched by name): the ratio
/// of messages/s, or of p99 latency for the latency cases.
pub fn moto_ratios(results: &[super::BenchResult]) -> String {
    let mut out = String::from("shardlog / moto, same run, same client:\n");
    for ours in results {
        let Some(case) = ours.name.strip_prefix("shardlog ") else {
            continue;
        };
        let Some(moto) = results
            .iter()
            .find(|r| r.name.strip_prefix("moto ") == Some(case))
        else {
            continue;
        };
        let rate = |r: &super::BenchResult| r.records_per_s.unwrap_or(0.0);
        let p99 = |r: &super::BenchResult| r.latency_us.as_ref().map_or(0.0, |p| p.p99);
        let latency = matches!(
            WorkloadKind::parse(&ours.workload),
            Some(WorkloadKind::SqsSendLatency | WorkloadKind::SnsLatency)
        );
        let line = if latency {
            format!(
                "  {case:<44} p99 {:.0} µs vs {:.0} µs: {:.1}x lower\n",
                p99(ours),
                p99(moto),
                p99(moto) / p99(ours).max(1e-9)
            )
        } else {
            format!(
                "  {case:<44} {:.0} vs {:.0} messages/s: {:.1}x\n",
                rate(ours),
                rate(moto),
                rate(ours) / rate(moto).max(1e-9)
            )
        };
        out.push_str(&line);
    }
    out
}

//! SNS fan-out over HTTP: Publish (query protocol) to one topic with N SQS queue
//! subscriptions (raw delivery, or with `--sns-envelope` SNS's default: signed
//! notification documents), each queue drained by a long-polling consumer.
//! `sns-publish` publishes flat out and counts deliveries/s; `sns-latency`
//! publishes at a fixed rate and measures publish-to-queue latency (the publish
//! time travels in the body, the consumer takes the receive time). Every run
//! checks that every published message reached every queue. `sns-fill` holds the
//! consumers back while it publishes and times until every queue holds every
//! message (GetQueueAttributes), so that its deliveries/s are the server's, not
//! bounded by how fast this client drains queues; then it drains and checks. The
//! same cases run against moto's server with `--compare-moto`, with fewer
//! deliveries per run (see [`MOTO_DELIVERIES_MAX`]).

use super::http::Call;
use super::sqs::SqsSettings;
use super::{join_all, merge_concurrent, wait_until, Budget, Case, Figure, Meter};
use super::{Params, Sample, WorkloadKind};
use crate::stats::record_ns;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Long poll of the consumers, s: short, so they notice the end of a run soon.
const RECEIVE_WAIT_S: u32 = 1;
/// Longest the consumers wait, after the last publish, for the deliveries.
const DRAIN_MAX: Duration = Duration::from_secs(60);
/// Paced publisher threads of the latency case.
const PACED_THREADS: u64 = 4;
/// Publishing flat out, the publishers stay at most this many deliveries
/// (publishes times queues) ahead of the slowest consumer: the rate is then one
/// the server and the consumers sustain, and what is left to drain when
/// publishing stops takes seconds, not minutes.
const BACKLOG_DELIVERIES_MAX: u64 = 20_000;
/// sns-fill: deliveries (publishes times queues) of one run at most.
const FILL_DELIVERIES: u64 = 100_000;
/// sns-fill: how often a queue's depth is looked at.
const FILL_POLL: Duration = Duration::from_millis(5);
/// Against moto, deliveries of one run at most: moto delivers during the
/// Publish call, at about 130 deliveries/s, and with 100 subscriptions its
/// queues would otherwise not drain within [`DRAIN_MAX`].
const MOTO_DELIVERIES_MAX: u64 = 3_000;

/// The SNS cases' knobs.
#[derive(Debug, Clone)]
pub struct SnsSettings {
    /// Body bytes, publisher threads and the latency case's publishes/s.
    pub base: SqsSettings,
    /// Queue subscriptions of the topic: one case per count.
    pub subscriptions: Vec<usize>,
    /// Queues get signed notification documents rather than raw messages.
    pub envelope: bool,
}

/// A topic and its subscribed queues, deleted on drop.
struct Fanout {
    sns: Arc<Box<Call>>,
    sqs: Arc<Box<Call>>,
    topic: String,
    queues: Vec<String>,
}

/// The text of the first `<tag>` of an SNS XML answer (a JSON string).
fn answer_field(answer: &Value, tag: &str) -> Result<String, String> {
    let xml = answer.as_str().unwrap_or_default();
    xml.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("</{tag}>")).next())
        .map(str::to_string)
        .ok_or_else(|| format!("no <{tag}> in the answer: {xml}"))
}

impl Fanout {
    fn create(
        sns: &Arc<Box<Call>>,
        sqs: &Arc<Box<Call>>,
        name: &str,
        count: usize,
        envelope: bool,
    ) -> Result<Fanout, String> {
        let created = (sns)("CreateTopic", &json!({"Name": name}))
            .map_err(|e| format!("CreateTopic {name}: {e}"))?;
        let mut fanout = Fanout {
            sns: Arc::clone(sns),
            sqs: Arc::clone(sqs),
            topic: answer_field(&created, "TopicArn")?,
            queues: Vec::new(),
        };
        for index in 0..count {
            let queue = format!("{name}-{index}");
            let created = (sqs)("CreateQueue", &json!({"QueueName": queue}))
                .map_err(|e| format!("CreateQueue {queue}: {e}"))?;
            let url = created["QueueUrl"]
                .as_str()
                .ok_or("CreateQueue: no QueueUrl")?;
            fanout.queues.push(url.to_string());
            let attributes = json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]});
            let attributes = (sqs)("GetQueueAttributes", &attributes)
                .map_err(|e| format!("GetQueueAttributes {queue}: {e}"))?;
            let arn = attributes["Attributes"]["QueueArn"]
                .as_str()
                .ok_or("GetQueueAttributes: no QueueArn")?;
            let raw = if envelope { "false" } else { "true" };
            let subscribe = json!({
                "TopicArn": fanout.topic,
                "Protocol": "sqs",
                "Endpoint": arn,
                "Attributes.entry.1.key": "RawMessageDelivery",
                "Attributes.entry.1.value": raw,
            });
            (sns)("Subscribe", &subscribe).map_err(|e| format!("Subscribe {queue}: {e}"))?;
        }
        Ok(fanout)
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        let _ = (self.sns)("DeleteTopic", &json!({"TopicArn": self.topic}));
        for url in &self.queues {
            let _ = (self.sqs)("DeleteQueue", &json!({"QueueUrl": url}));
        }
    }
}

/// The SNS cases among `kinds`, one per subscription count, against the
/// endpoints `sns` and `sqs` talk to; `label` ("shardlog", "moto") starts each name.
pub fn sns_cases<'a>(
    kinds: &[WorkloadKind],
    sns: Arc<Box<Call>>,
    sqs: Arc<Box<Call>>,
    label: &str,
    settings: &SnsSettings,
) -> Vec<Case<'a>> {
    let mut cases = Vec::new();
    for (index, &kind) in kinds.iter().filter(|k| k.is_sns()).enumerate() {
        for &count in &settings.subscriptions {
            let base = settings.base;
            let envelope = settings.envelope;
            let pace = (kind == WorkloadKind::SnsLatency).then_some(base.rate);
            let fill = kind == WorkloadKind::SnsFill;
            let deliveries_max = [
                fill.then_some(FILL_DELIVERIES),
                (label == "moto").then_some(MOTO_DELIVERIES_MAX),
            ]
            .into_iter()
            .flatten()
            .min();
            let publishes_max = deliveries_max.map(|d| (d / count as u64).max(1));
            let name = format!(
                "shardlog-bench-{}-{label}-sns{index}-{count}",
                std::process::id()
            );
            let (sns, sqs) = (Arc::clone(&sns), Arc::clone(&sqs));
            let mut fanout: Option<Fanout> = None;
            let mut runs = 0u64;
            let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
                if fanout.is_none() {
                    fanout = Some(Fanout::create(&sns, &sqs, &name, count, envelope)?);
                }
                let fanout = fanout.as_ref().ok_or("no topic")?;
                runs += 1;
                let run = Run {
                    fanout,
                    tag: runs,
                    base,
                    pace,
                    fill,
                    publishes_max,
                    budget,
                    meter,
                };
                let (sample, published) = if fill {
                    fill_queues(run)?
                } else {
                    fan_out(run)?
                };
                eprintln!(
                    "{name}: {published} published, {} delivered to {count} queues",
                    sample.records
                );
                Ok(sample)
            };
            cases.push(sns_case(kind, label, base, count, envelope, Box::new(run)));
        }
    }
    cases
}

fn sns_case<'a>(
    kind: WorkloadKind,
    label: &str,
    base: SqsSettings,
    count: usize,
    envelope: bool,
    run: super::RunFn<'a>,
) -> Case<'a> {
    let mut params = Params {
        record_bytes: Some(base.message_bytes),
        producers: Some(base.threads),
        batch_records: Some(1),
        ..Params::default()
    };
    let mut latency_of = "publish to receive by the queue's consumer";
    let (name, figure) = if kind == WorkloadKind::SnsFill {
        latency_of = "none: deliveries into the queues only";
        (
            format!("{label} SNS fill, {count} subs (deliveries into queues)"),
            Figure::Throughput,
        )
    } else if kind == WorkloadKind::SnsLatency {
        params.rate_records_per_s = Some(base.rate);
        params.producers = Some(PACED_THREADS as usize);
        (
            format!("{label} SNS publish-to-queue {}/s, {count} subs", base.rate),
            Figure::Latency,
        )
    } else {
        (
            format!("{label} SNS publish, {count} subs (deliveries)"),
            Figure::Throughput,
        )
    };
    let name = match envelope {
        true => format!("{name}, enveloped"),
        false => name,
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

/// What one run of a case works with.
#[derive(Clone, Copy)]
struct Run<'a> {
    fanout: &'a Fanout,
    /// Starts every body of this run, so late duplicates of earlier runs are skipped.
    tag: u64,
    base: SqsSettings,
    /// Publishes/s, or None to publish flat out.
    pace: Option<u64>,
    /// sns-fill: no consumer runs while publishing.
    fill: bool,
    /// Publishes of one run at most.
    publishes_max: Option<u64>,
    budget: &'a Budget,
    meter: &'a Meter,
}

/// Where the publishers and the consumers meet.
struct Progress {
    published: AtomicU64,
    /// Publishes started (counts against `publishes_max`).
    reserved: AtomicU64,
    /// Distinct messages each queue's consumer has seen.
    seen: Vec<AtomicU64>,
    /// Set once every publisher has returned.
    done: AtomicBool,
    finished_at: OnceLock<Instant>,
    started: Instant,
    /// Wall clock at `started`, ns since the epoch: bodies carry wall times.
    started_unix_ns: u64,
}

/// Publishes until the budget ends while every queue's consumer receives and
/// deletes; returns the deliveries (latency: publish to receive) and the publishes.
fn fan_out(run: Run<'_>) -> Result<(Sample, u64), String> {
    let progress = Progress::start(run.fanout.queues.len())?;
    let threads = match run.pace {
        Some(_) => PACED_THREADS,
        None => run.base.threads.max(1) as u64,
    };
    let (published, consumed) = std::thread::scope(|scope| {
        let progress = &progress;
        let consumers: Vec<_> = (0..run.fanout.queues.len())
            .map(|queue| scope.spawn(move || consume(run, progress, queue)))
            .collect();
        let publishers: Vec<_> = (0..threads)
            .map(|thread| scope.spawn(move || publish(run, progress, thread, threads)))
            .collect();
        let published = join_all(publishers, "an SNS publisher");
        let _ = progress.finished_at.set(Instant::now());
        progress.done.store(true, Ordering::Release);
        (published, join_all(consumers, "an SQS consumer"))
    });
    for outcome in published {
        outcome?;
    }
    let mut sample = merge_concurrent(consumed)?;
    sample.elapsed = progress.started.elapsed();
    let published = check_all_arrived(run, &progress, &sample)?;
    Ok((sample, published))
}

impl Progress {
    fn start(queues: usize) -> Result<Progress, String> {
        let started_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| format!("clock before 1970: {e}"))?
            .as_nanos() as u64;
        Ok(Progress {
            published: AtomicU64::new(0),
            reserved: AtomicU64::new(0),
            seen: (0..queues).map(|_| AtomicU64::new(0)).collect(),
            done: AtomicBool::new(false),
            finished_at: OnceLock::new(),
            started: Instant::now(),
            started_unix_ns,
        })
    }
}

/// The publishes, once the consumers' `sample` shows that each reached every queue.
fn check_all_arrived(run: Run<'_>, progress: &Progress, sample: &Sample) -> Result<u64, String> {
    let published = progress.published.load(Ordering::Acquire);
    let expected = published * run.fanout.queues.len() as u64;
    if sample.records != expected {
        return Err(format!(
            "{} deliveries of {published} publishes to {} queues, not {expected}",
            sample.records,
            run.fanout.queues.len()
        ));
    }
    Ok(published)
}

/// sns-fill: publishes flat out with no consumer running, times until every
/// queue holds every message, then drains the queues and checks them. The
/// sample's time is the fill's; its deliveries are the drained ones.
fn fill_queues(run: Run<'_>) -> Result<(Sample, u64), String> {
    let progress = Progress::start(run.fanout.queues.len())?;
    let threads = run.base.threads.max(1) as u64;
    let published = std::thread::scope(|scope| {
        let progress = &progress;
        let publishers: Vec<_> = (0..threads)
            .map(|thread| scope.spawn(move || publish(run, progress, thread, threads)))
            .collect();
        join_all(publishers, "an SNS publisher")
    });
    for outcome in published {
        outcome?;
    }
    let published = progress.published.load(Ordering::Acquire);
    let deadline = Instant::now() + DRAIN_MAX;
    for url in &run.fanout.queues {
        wait_filled(run, url, published, deadline)?;
    }
    let filled = progress.started.elapsed();
    let _ = progress.finished_at.set(Instant::now());
    progress.done.store(true, Ordering::Release);
    let consumed = std::thread::scope(|scope| {
        let progress = &progress;
        let consumers: Vec<_> = (0..run.fanout.queues.len())
            .map(|queue| scope.spawn(move || consume(run, progress, queue)))
            .collect();
        join_all(consumers, "an SQS consumer")
    });
    let drained = merge_concurrent(consumed)?;
    let published = check_all_arrived(run, &progress, &drained)?;
    let mut sample = Sample::new();
    sample.records = drained.records;
    sample.bytes = drained.bytes;
    sample.elapsed = filled;
    Ok((sample, published))
}

/// Waits until the queue at `url` holds at least `count` messages.
fn wait_filled(run: Run<'_>, url: &str, count: u64, deadline: Instant) -> Result<(), String> {
    let call = run.fanout.sqs.as_ref().as_ref();
    let request = json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]});
    loop {
        let answer =
            call("GetQueueAttributes", &request).map_err(|e| format!("GetQueueAttributes: {e}"))?;
        let held: u64 = answer["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("GetQueueAttributes {url}: no message count in {answer}"))?;
        if held >= count {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "queue {url}: {held} of {count} messages arrived within {DRAIN_MAX:?}"
            ));
        }
        std::thread::sleep(FILL_POLL);
    }
}

/// Flat out: waits until the slowest consumer is less than
/// [`BACKLOG_DELIVERIES_MAX`] behind; false if the budget ended first.
fn backlog_allows(run: Run<'_>, progress: &Progress) -> bool {
    let queues = run.fanout.queues.len().max(1) as u64;
    let ahead_max = (BACKLOG_DELIVERIES_MAX / queues).max(1);
    loop {
        let slowest = progress
            .seen
            .iter()
            .map(|seen| seen.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let published = progress.published.load(Ordering::Acquire);
        if published.saturating_sub(slowest) < ahead_max {
            return true;
        }
        if progress.started.elapsed() >= run.budget.duration {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One publisher: flat out until the budget ends, or paced at its share of the
/// rate, each body carrying its intended publish time (so a slow server's delays
/// count: no coordinated omission).
fn publish(run: Run<'_>, progress: &Progress, thread: u64, threads: u64) -> Result<(), String> {
    let call = run.fanout.sns.as_ref().as_ref();
    let padding = "x".repeat(run.base.message_bytes);
    let interval = run
        .pace
        .map(|rate| Duration::from_secs_f64(threads as f64 / rate.max(1) as f64));
    let offset = interval.map(|i| i.mul_f64(thread as f64 / threads as f64));
    let started = progress.started;
    for seq in 0u32.. {
        let due = match (interval, offset) {
            (Some(interval), Some(offset)) => started + offset + interval * seq,
            _ => Instant::now(),
        };
        let over = due.duration_since(started) >= run.budget.duration;
        if over || run.budget.done(run.meter.bytes(), started) {
            break;
        }
        let flat_out = run.pace.is_none() && !run.fill;
        if flat_out && !backlog_allows(run, progress) {
            break;
        }
        if let Some(max) = run.publishes_max {
            if progress.reserved.fetch_add(1, Ordering::AcqRel) >= max {
                break;
            }
        }
        wait_until(due);
        let sent_ns = progress.started_unix_ns + due.duration_since(started).as_nanos() as u64;
        let body = format!("{} {thread}-{seq} {sent_ns} {padding}", run.tag);
        let request = json!({"TopicArn": run.fanout.topic, "Message": body});
        call("Publish", &request).map_err(|e| format!("Publish: {e}"))?;
        progress.published.fetch_add(1, Ordering::AcqRel);
    }
    Ok(())
}

/// Most receipt handles of one DeleteMessageBatch (SQS's limit).
const DELETE_BATCH_MAX: usize = 10;

/// One queue's consumer: receives and deletes until it has seen every message
/// published (each once, duplicates skipped), at most [`DRAIN_MAX`] after the
/// last publish. Receipts are deleted 10 to a DeleteMessageBatch, as a consumer
/// tuned for throughput does, and whatever is pending when a receive comes back
/// empty: a receive that returns one message does not cost a delete call of its
/// own, and the next receive is not held up behind one.
fn consume(run: Run<'_>, progress: &Progress, queue: usize) -> Result<Sample, String> {
    let call = run.fanout.sqs.as_ref().as_ref();
    let url = &run.fanout.queues[queue];
    let receive =
        json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": RECEIVE_WAIT_S});
    let tag = run.tag.to_string();
    let mut seen = HashSet::new();
    let mut sample = Sample::new();
    let mut receipts: Vec<Value> = Vec::new();
    loop {
        let done = progress.done.load(Ordering::Acquire);
        let published = progress.published.load(Ordering::Acquire);
        if done && seen.len() as u64 >= published {
            break;
        }
        if let Some(finished) = progress.finished_at.get() {
            if finished.elapsed() > DRAIN_MAX {
                return Err(format!(
                    "queue {url}: {} of {published} messages arrived within {DRAIN_MAX:?}",
                    seen.len()
                ));
            }
        }
        let mut response =
            call("ReceiveMessage", &receive).map_err(|e| format!("ReceiveMessage: {e}"))?;
        // Taken out of the answer, not copied: the consumer's cost per message
        // is part of what the shared cores spend.
        let messages = match response.get_mut("Messages").map(Value::take) {
            Some(Value::Array(messages)) if !messages.is_empty() => messages,
            _ => {
                delete_receipts(call, url, &mut receipts, 1)?;
                continue;
            }
        };
        let received_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        for mut message in messages {
            receipts.push(message["ReceiptHandle"].take());
            let body = message["Body"].as_str().unwrap_or_default();
            let envelope: Value;
            let body = match body.starts_with('{') {
                true => {
                    envelope = serde_json::from_str(body)
                        .map_err(|e| format!("a notification that is not JSON ({e}): {body}"))?;
                    envelope["Message"].as_str().unwrap_or_default()
                }
                false => body,
            };
            let mut words = body.split(' ');
            let (Some(body_tag), Some(id), Some(sent)) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            if body_tag != tag || !seen.insert(id.to_string()) {
                continue;
            }
            progress.seen[queue].store(seen.len() as u64, Ordering::Release);
            let sent: u64 = sent.parse().map_err(|_| format!("a bad body: {body}"))?;
            record_ns(
                &mut sample.latency_ns,
                Duration::from_nanos(received_ns.saturating_sub(sent)),
            );
            let bytes = run.base.message_bytes as u64;
            run.meter.add(bytes, 1);
            sample.bytes += bytes;
            sample.records += 1;
        }
        delete_receipts(call, url, &mut receipts, DELETE_BATCH_MAX)?;
    }
    delete_receipts(call, url, &mut receipts, 1)?;
    Ok(sample)
}

/// Deletes pending receipts in batches of [`DELETE_BATCH_MAX`] while at least
/// `batch_min` are pending.
fn delete_receipts(
    call: &Call,
    url: &str,
    receipts: &mut Vec<Value>,
    batch_min: usize,
) -> Result<(), String> {
    while receipts.len() >= batch_min.max(1) {
        let batch: Vec<Value> = receipts
            .drain(..receipts.len().min(DELETE_BATCH_MAX))
            .enumerate()
            .map(|(index, handle)| json!({"Id": index.to_string(), "ReceiptHandle": handle}))
            .collect();
        let delete = json!({"QueueUrl": url, "Entries": batch});
        call("DeleteMessageBatch", &delete).map_err(|e| format!("DeleteMessageBatch: {e}"))?;
    }
    Ok(())
}

//! Crash torture (issue 14): a real `shardlog serve` is killed with SIGKILL at a
//! random moment of each cycle under mixed load: three Kinesis producers
//! (PutRecord and PutRecords), a GetRecords reader, SubscribeToShard readers, a
//! SplitShard or MergeShards every ten cycles, and two Firehose delivery streams
//! delivering to local buckets (Direct PUT fed by PutRecordBatch, and one with the
//! Kinesis stream as source). 100 cycles by default; SHARDLOG_TORTURE_CYCLES sets
//! more for a long run.
//!
//! The server runs with 256 KiB segments, key compaction on, a per-shard size cap
//! of three segments and retention checked every 200 ms, so that segments seal,
//! compact and go during the run (retention by age stays 24 h, the shortest the
//! server accepts). Half of the Kinesis records share eight partition keys; the
//! others have their own.
//!
//! After each restart: every known record (acknowledged, or seen by a reader or
//! an earlier check) is there byte-exact under its sequence number and in its
//! shard, unless (a) a known record with the same partition key and a higher
//! sequence number in the same shard exists (compaction), or (b) it is older than
//! every record its shard holds (retention takes a prefix); sequence numbers are
//! never reused (one number, one record) and grow strictly per shard, for readers
//! across kills too; acknowledged reshards stand. At the end (a clean stop, a
//! clean restart, delivery awaited with a bound, a clean stop): every acknowledged
//! Direct PUT record is in exactly one object and none in two; no record of the
//! Kinesis stream is in two objects of the second delivery stream, every record
//! the stream still holds is in one, and every delivered record was acknowledged,
//! seen, found or sent in a call the kill cut (exactly once per acknowledged record
//! would be wrong: retention and compaction may remove a record before delivery
//! reads it); no temporary file of an interrupted object write is left in the
//! buckets.

mod common;
mod torture;

use common::{start_with, stop, Server};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use torture::firehose::{
    create_delivery_streams, delivered, Delivered, DIRECT_BUCKET, FROM_STREAM_BUCKET,
};
use torture::kinesis::{ok, read_everything, reshard, verify, Found, Reshard, STREAM};
use torture::load::{poll, produce_direct, produce_kinesis, Load};
use torture::model::{record_id, Model, Removal};
use torture::subscribe::subscribe_all;

/// Kinesis producers.
const PRODUCERS: usize = 3;
/// Shortest cycle with a reshard.
const RESHARD_CYCLE_MIN: Duration = Duration::from_millis(200);
/// Cycles between progress lines (seen with `--nocapture`, for long runs).
const PROGRESS_CYCLES: usize = 100;
/// Longest wait for the delivery streams to deliver everything at the end.
const DELIVERY_WAIT: Duration = Duration::from_secs(120);
/// How often the buckets are read while waiting.
const DELIVERY_POLL: Duration = Duration::from_millis(250);
/// `serve` options: small segments, compaction, a size cap of three segments and
/// a frequent retention check, so that all of them act within a cycle or two.
const SERVE_OPTIONS: [&str; 7] = [
    "--segment-bytes-max",
    "262144",
    "--retention-bytes-max",
    "786432",
    "--retention-check-interval-ms",
    "200",
    "--key-compaction",
];

fn start(data_dir: &Path) -> Server {
    start_with(data_dir, &SERVE_OPTIONS)
}

/// Creates the stream (two shards, 24 h retention), a stream consumer and the
/// delivery streams; returns the consumer's ARN.
fn set_up(server: &Server) -> String {
    let address = server.address;
    ok(
        address,
        "CreateStream",
        &json!({"StreamName": STREAM, "ShardCount": 2}),
    );
    ok(
        address,
        "DecreaseStreamRetentionPeriod",
        &json!({"StreamName": STREAM, "RetentionPeriodHours": 24}),
    );
    let summary = ok(
        address,
        "DescribeStreamSummary",
        &json!({"StreamName": STREAM}),
    );
    let stream_arn = &summary["StreamDescriptionSummary"]["StreamARN"];
    let consumer = ok(
        address,
        "RegisterStreamConsumer",
        &json!({"StreamARN": stream_arn, "ConsumerName": "torture"}),
    );
    create_delivery_streams(address);
    consumer["Consumer"]["ConsumerARN"]
        .as_str()
        .expect("a consumer ARN")
        .to_string()
}

/// The reshard of a cycle: a split at cycles 10, 30, ..., a merge at 20, 40, ...
fn reshard_of(cycle: usize) -> Option<Reshard> {
    match cycle % 20 {
        10 => Some(Reshard::Split),
        0 if cycle > 0 => Some(Reshard::Merge),
        _ => None,
    }
}

/// One cycle: the load runs until the server is killed `kill_after` in.
fn run_cycle(server: &mut Server, load: Load<'_>, consumer_arn: &str, kill_after: Duration) {
    std::thread::scope(|scope| {
        for producer in 0..PRODUCERS {
            scope.spawn(move || produce_kinesis(load, producer));
        }
        scope.spawn(move || produce_direct(load));
        scope.spawn(move || poll(load));
        scope.spawn(move || subscribe_all(load, consumer_arn));
        if let Some(kind) = reshard_of(load.cycle) {
            scope.spawn(move || {
                // Early in the cycle, so that producers write before and after.
                std::thread::sleep(kill_after / 4);
                reshard(load.address, kind, load.model);
            });
        }
        std::thread::sleep(kill_after);
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reap the killed server");
        load.stop.store(true, Ordering::Relaxed);
    });
}

/// Both buckets as they are now.
fn buckets(data_dir: &Path) -> (Delivered, Delivered) {
    let root = data_dir.join("buckets");
    (
        delivered(&root.join(DIRECT_BUCKET)),
        delivered(&root.join(FROM_STREAM_BUCKET)),
    )
}

/// Whether every acknowledged Direct PUT record and every record of the stream
/// has reached an object.
fn all_delivered(model: &Model, found: &Found, data_dir: &Path) -> bool {
    let (direct, from_stream) = buckets(data_dir);
    let direct_done = model
        .direct_acked
        .iter()
        .all(|id| direct.objects_of.contains_key(id));
    let stream_done = found.records.values().flatten().all(|(_, data)| {
        let id = record_id(data).expect("checked whole");
        from_stream.objects_of.contains_key(id)
    });
    direct_done && stream_done
}

/// The end: a clean stop and restart, delivery awaited, a clean stop (which
/// flushes what is left), then every object read and counted.
fn check_deliveries(server: Server, data_dir: &Path, model: &mut Model) -> (Delivered, Delivered) {
    assert!(stop(server), "the server stops cleanly");
    let server = start(data_dir);
    let found = read_everything(server.address);
    verify(model, &found, usize::MAX);
    model.assert_no_failures("after the clean restart");
    let deadline = Instant::now() + DELIVERY_WAIT;
    while !all_delivered(model, &found, data_dir) {
        assert!(
            Instant::now() < deadline,
            "the delivery streams did not deliver everything within {DELIVERY_WAIT:?}"
        );
        std::thread::sleep(DELIVERY_POLL);
    }
    assert!(stop(server), "the server stops cleanly after delivering");
    let (direct, from_stream) = buckets(data_dir);
    direct.assert_whole_and_once("Direct PUT");
    let lost: Vec<&String> = model
        .direct_acked
        .iter()
        .filter(|id| !direct.objects_of.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged Direct PUT records lost: {lost:?}"
    );
    from_stream.assert_whole_and_once("Kinesis-source");
    let allowed: BTreeSet<&str> = model
        .known
        .values()
        .filter_map(|record| record_id(&record.data))
        .chain(model.unanswered.iter().map(String::as_str))
        .collect();
    let strangers: Vec<&String> = from_stream
        .objects_of
        .keys()
        .filter(|id| !allowed.contains(id.as_str()))
        .collect();
    assert!(
        strangers.is_empty(),
        "Kinesis-source records never acknowledged, seen or sent: {strangers:?}"
    );
    (direct, from_stream)
}

/// Kill -9 at random moments under mixed load with Firehose delivering, short
/// retention and key compaction: nothing acknowledged is lost but what they
/// allow, no sequence number is reused or out of order, nothing is delivered twice.
#[test]
fn sigkill_under_mixed_load_loses_and_duplicates_nothing() {
    let cycles: usize = std::env::var("SHARDLOG_TORTURE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = start(&data_dir);
    let consumer_arn = set_up(&server);
    let model = Mutex::new(Model::default());
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    let mut found_last = 0;
    // Retention and compaction act once enough has been written, which takes more
    // cycles on a loaded machine: past the cycles asked, go on (up to four times as
    // many) until both have removed records.
    let mut cycle = 0;
    while cycle < cycles
        || (cycles >= 20 && cycle < 4 * cycles && !removed_both(&model.lock().unwrap()))
    {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut kill_after = Duration::from_millis(30 + seed % 250);
        if reshard_of(cycle).is_some() {
            // Time for the reshard to be acknowledged, mostly.
            kill_after = kill_after.max(RESHARD_CYCLE_MIN);
        }
        let stop_load = AtomicBool::new(false);
        let load = Load {
            address: server.address,
            cycle,
            stop: &stop_load,
            model: &model,
        };
        run_cycle(&mut server, load, &consumer_arn, kill_after);
        server = start(&data_dir);
        let found = read_everything(server.address);
        found_last = found.len();
        let mut model = model.lock().unwrap();
        verify(&mut model, &found, cycle);
        model.assert_no_failures(&format!("cycle {cycle}"));
        if (cycle + 1) % PROGRESS_CYCLES == 0 {
            eprintln!(
                "cycle {}: {} acknowledged, {} in the stream, {:?}",
                cycle + 1,
                model.acked.len(),
                found.len(),
                started.elapsed()
            );
        }
        cycle += 1;
    }
    let cycles = cycle;
    let cycles_elapsed = started.elapsed();
    let mut model = model.into_inner().unwrap();
    let (direct, from_stream) = check_deliveries(server, &data_dir, &mut model);
    assert!(
        model.acked.len() > cycles,
        "producers got work acknowledged: {} records in {cycles} cycles",
        model.acked.len()
    );
    assert!(
        model.polling.records > 0 && model.subscribed.records > 0,
        "both readers read"
    );
    assert!(
        cycles < 20 || model.reshards > 0,
        "a reshard was acknowledged"
    );
    assert!(
        cycles < 20 || removed_both(&model),
        "retention and compaction removed records"
    );
    report(
        cycles,
        cycles_elapsed,
        started,
        &model,
        found_last,
        &direct,
        &from_stream,
    );
}

/// Whether retention and key compaction have each removed a known record.
fn removed_both(model: &Model) -> bool {
    let removed_by = |why: Removal| model.removed.values().any(|w| *w == why);
    removed_by(Removal::Retention) && removed_by(Removal::Compaction)
}

/// The run's figures, on stderr (seen with `--nocapture`).
fn report(
    cycles: usize,
    cycles_elapsed: Duration,
    started: Instant,
    model: &Model,
    found_last: usize,
    direct: &Delivered,
    from_stream: &Delivered,
) {
    let removed_by = |why: Removal| model.removed.values().filter(|w| **w == why).count();
    eprintln!(
        "{cycles} kill cycles in {cycles_elapsed:?} ({:?} in all): Kinesis {} acknowledged, {} in the stream, \
         verified after every restart, {} known records removed by retention and {} by compaction; readers saw {} (GetRecords) and {} (SubscribeToShard); {} reshards; \
         Firehose Direct PUT {} acknowledged, {} delivered in {} objects; Kinesis source {} delivered in {} objects",
        started.elapsed(),
        model.acked.len(),
        found_last,
        removed_by(Removal::Retention),
        removed_by(Removal::Compaction),
        model.polling.records,
        model.subscribed.records,
        model.reshards,
        model.direct_acked.len(),
        direct.objects_of.len(),
        direct.objects,
        from_stream.objects_of.len(),
        from_stream.objects,
    );
}

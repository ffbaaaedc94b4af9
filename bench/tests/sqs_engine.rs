//! The engine-API SQS cases on small queues: each run moves messages, and the
//! receive + delete and backlog cases delete exactly what was queued.

use shardlog_bench::workloads::sqs_engine::{sqs_engine_cases, SqsEngineSettings};
use shardlog_bench::workloads::{Budget, Meter, WorkloadKind};
use shardlog_segment::Durability;
use std::time::Duration;

const MESSAGE_BYTES: usize = 64;

fn settings(backlog_messages: Vec<u64>) -> SqsEngineSettings {
    SqsEngineSettings {
        message_bytes: MESSAGE_BYTES,
        threads: 4,
        durability: Durability::Sync,
        backlog_messages,
    }
}

/// Runs every case of `kind` once within `budget`; the records each counted.
fn run(kind: WorkloadKind, settings: &SqsEngineSettings, budget: Budget) -> Vec<u64> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut cases = sqs_engine_cases(&[kind], settings, dir.path());
    assert!(!cases.is_empty(), "{} has cases", kind.name());
    cases
        .iter_mut()
        .map(|case| {
            let meter = Meter::new(&case.name, budget.volume_bytes, false);
            let sample = (case.run)(&budget, &meter).expect("the run succeeds");
            sample.records
        })
        .collect()
}

/// A receive + delete run deletes every message it queued, once: 1,000 of 64
/// bytes for a 64,000-byte budget, which the drain reaches before its time.
#[test]
fn receive_delete_drains_what_it_filled() {
    let budget = Budget {
        volume_bytes: 1_000 * MESSAGE_BYTES as u64,
        duration: Duration::from_secs(60),
    };
    let records = run(
        WorkloadKind::SqsEngineReceiveDelete,
        &settings(Vec::new()),
        budget,
    );
    assert_eq!(records, vec![1_000]);
}

/// Send and the round trip move messages within a short budget.
#[test]
fn send_and_round_trip_count_messages() {
    let budget = Budget {
        volume_bytes: 500 * MESSAGE_BYTES as u64,
        duration: Duration::from_secs(30),
    };
    for kind in [
        WorkloadKind::SqsEngineSend,
        WorkloadKind::SqsEngineRoundTrip,
    ] {
        let records = run(kind, &settings(Vec::new()), budget);
        assert!(records[0] >= 500, "{}: {records:?}", kind.name());
    }
}

/// Each backlog case fills its own queue and drains all of it when the time allows.
#[test]
fn backlog_cases_drain_their_own_fill() {
    let budget = Budget {
        volume_bytes: u64::MAX,
        duration: Duration::from_secs(60),
    };
    let records = run(
        WorkloadKind::SqsBacklog,
        &settings(vec![300, 1_200]),
        budget,
    );
    assert_eq!(records, vec![300, 1_200]);
}

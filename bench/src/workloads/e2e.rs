//! The put-to-visible measurement shared by the engine and HTTP end-to-end
//! workloads: a producer paced at a rate, each record carrying its intended send
//! time, and a consumer that records, for every record it receives, the time from
//! that intended send to now (so a stall delays the measurement, never hides it:
//! coordinated omission corrected).

use super::{payload, wait_until, Budget, Meter, Sample};
use crate::stats::record_ns;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the consumer waits for stragglers after the producer's last put.
const VISIBLE_GRACE: Duration = Duration::from_secs(10);
/// Smallest record: the intended send time and the record's index.
const STAMP_BYTES: usize = 16;

/// Records a run of `rate` records/s puts within the budget.
pub fn records_for(rate: u64, record_bytes: usize, budget: &Budget) -> u64 {
    let by_volume = budget.volume_bytes / record_bytes.max(STAMP_BYTES) as u64;
    (rate as f64 * budget.duration.as_secs_f64())
        .ceil()
        .min(by_volume as f64)
        .max(1.0) as u64
}

fn produce(
    put: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    origin: Instant,
    records_total: u64,
    rate: u64,
    record_bytes: usize,
    meter: &Meter,
) -> Result<(), String> {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut data = payload(record_bytes.max(STAMP_BYTES), 3);
    let mut due = Instant::now();
    for index in 0..records_total {
        wait_until(due);
        data[..8].copy_from_slice(&(due.duration_since(origin).as_nanos() as u64).to_le_bytes());
        data[8..16].copy_from_slice(&index.to_le_bytes());
        put(&data)?;
        meter.add(data.len() as u64, 1);
        due += interval;
    }
    Ok(())
}

fn consume(
    poll: &mut dyn FnMut() -> Result<Vec<Vec<u8>>, String>,
    origin: Instant,
    expected: u64,
    deadline: Instant,
    producer_failed: &AtomicBool,
) -> Result<Sample, String> {
    let mut sample = Sample::new();
    while sample.records < expected {
        if producer_failed.load(Ordering::Acquire) {
            return Err("the producer failed".into());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the consumer saw {} of {expected} records before its deadline",
                sample.records
            ));
        }
        let records = poll()?;
        let now_ns = origin.elapsed().as_nanos() as u64;
        for data in &records {
            let sent: [u8; 8] = data
                .get(..8)
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or("an e2e record shorter than its timestamp")?;
            let sent_ns = u64::from_le_bytes(sent);
            record_ns(
                &mut sample.latency_ns,
                Duration::from_nanos(now_ns.saturating_sub(sent_ns)),
            );
            sample.bytes += data.len() as u64;
        }
        sample.records += records.len() as u64;
    }
    Ok(sample)
}

/// Runs `put` at `rate` records/s for the budget on this thread while `poll`
/// (which returns the payloads of the records that became visible, waiting or
/// pausing as its API does) runs on another.
pub fn run(
    rate: u64,
    record_bytes: usize,
    budget: &Budget,
    meter: &Meter,
    mut put: impl FnMut(&[u8]) -> Result<(), String>,
    mut poll: impl FnMut() -> Result<Vec<Vec<u8>>, String> + Send,
) -> Result<Sample, String> {
    let records_total = records_for(rate, record_bytes, budget);
    let origin = Instant::now();
    let deadline = origin + budget.duration * 2 + VISIBLE_GRACE;
    let producer_failed = AtomicBool::new(false);
    let (produced, consumed) = std::thread::scope(|scope| {
        let consumer =
            scope.spawn(|| consume(&mut poll, origin, records_total, deadline, &producer_failed));
        let produced = produce(&mut put, origin, records_total, rate, record_bytes, meter);
        producer_failed.store(produced.is_err(), Ordering::Release);
        let consumed = consumer
            .join()
            .unwrap_or_else(|_| Err("the consumer panicked".into()));
        (produced, consumed)
    });
    produced?;
    let mut sample = consumed?;
    sample.elapsed = origin.elapsed();
    Ok(sample)
}

#[cfg(test)]
mod tests {
    //! The paced run delivers every record and measures each once.
    use super::*;
    use std::sync::mpsc;

    /// Records sent through a channel are all seen, each with one latency sample.
    #[test]
    fn every_record_is_measured_once() {
        let (sender, receiver) = mpsc::sync_channel::<Vec<u8>>(1024);
        let budget = Budget {
            volume_bytes: u64::MAX,
            duration: Duration::from_millis(50),
        };
        let meter = Meter::new("t", 0, false);
        let sample = run(
            2000,
            32,
            &budget,
            &meter,
            |data| sender.send(data.to_vec()).map_err(|e| e.to_string()),
            move || {
                let first = receiver
                    .recv_timeout(Duration::from_secs(5))
                    .map_err(|e| e.to_string())?;
                Ok(std::iter::once(first).chain(receiver.try_iter()).collect())
            },
        )
        .unwrap();
        assert_eq!(sample.records, 100);
        assert_eq!(sample.latency_ns.len(), 100);
        assert_eq!(sample.bytes, 100 * 32);
        assert_eq!(meter.bytes(), 100 * 32);
    }
}

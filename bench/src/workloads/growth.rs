//! The growth cases: one shard grown to each of `--growth-gib` sizes in turn (1
//! and 100 GiB by default), with PutRecords throughput and AT_SEQUENCE_NUMBER
//! seeks measured at each size, so that the large shard's figures can be set
//! beside the small one's (issue 16: within 10 %). The growing between sizes is
//! not measured; the measured appends add to the shard too.

use super::engine::{produce_all, EngineDir, EngineSettings, STREAM};
use super::seek::{one_record, seek_sequence_numbers};
use super::{context, Budget, Case, Figure, Meter, Params, Rng, Sample, WorkloadKind};
use shardlog_engine::seqno::SequenceNumber;
use shardlog_engine::IteratorStart;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Most sequence numbers sampled at each size (found by AT_TIMESTAMP lookups
/// spread over the shard's whole time span); at most one per seek of a repetition.
const SAMPLE_MAX: u64 = 10_000;
/// Longest the growing to one size may take.
const GROW_DURATION_MAX: Duration = Duration::from_secs(6 * 3600);

/// The shard being grown, shared by the cases of one run.
struct Grown {
    engine_dir: EngineDir,
    /// Payload bytes the shard holds.
    bytes: u64,
    /// The sample for the size reached last, and that size.
    sample: Option<(u64, Vec<SequenceNumber>)>,
}

/// An append and a seek case for each size of `sizes` (payload bytes, ascending),
/// over one shard of the first backend of `settings`.
pub fn growth_cases<'a>(
    settings: &'a EngineSettings,
    root: &'a Path,
    sizes: &'a [u64],
    lookups: u64,
) -> Vec<Case<'a>> {
    let backend = settings.backends[0];
    let shared: Rc<RefCell<Option<Grown>>> = Rc::new(RefCell::new(None));
    let rng = Rc::new(RefCell::new(Rng::new(0x960c)));
    let producers = settings.producers_for(1);
    let mut cases = Vec::new();
    for &size in sizes {
        let at = size_name(size);
        let grown = Rc::clone(&shared);
        let append = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
            let mut slot = grown.borrow_mut();
            let grown = grow(&mut slot, settings, root, backend, size)?;
            let engine = grown.engine_dir.engine();
            let sample = produce_all(engine, STREAM, settings, producers, budget, meter)?;
            grown.bytes += sample.bytes;
            Ok(sample)
        };
        let params = Params {
            shards: Some(1),
            ..settings.params(1, backend)
        };
        cases.push(Case {
            kind: WorkloadKind::Growth,
            name: format!("growth append 1 shard at {at}"),
            params: params.clone(),
            latency_of: "PutRecords call",
            baselines: &[],
            figure: Figure::Throughput,
            warmup: false,
            run: Box::new(append),
        });
        let grown = Rc::clone(&shared);
        let rng = Rc::clone(&rng);
        let seek = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
            let mut slot = grown.borrow_mut();
            let grown = grow(&mut slot, settings, root, backend, size)?;
            let rng = &mut rng.borrow_mut();
            if grown.sample.as_ref().map(|(size, _)| *size) != Some(size) {
                let count = lookups.clamp(1, SAMPLE_MAX) as usize;
                let sample = sample_sequence_numbers(grown.engine_dir.engine(), count, rng)?;
                grown.sample = Some((size, sample));
            }
            let (_, sample) = grown.sample.as_ref().expect("sampled above");
            let engine = grown.engine_dir.engine();
            seek_sequence_numbers(engine, sample, lookups, budget, meter, rng)
        };
        cases.push(Case {
            kind: WorkloadKind::Growth,
            name: format!("growth seek AT_SEQUENCE_NUMBER at {at}"),
            params,
            latency_of: "GetShardIterator + GetRecords(1)",
            baselines: &[],
            figure: Figure::Latency,
            warmup: true,
            run: Box::new(seek),
        });
    }
    cases
}

/// `bytes` in whole GiB, else whole MiB, else bytes.
fn size_name(bytes: u64) -> String {
    match bytes {
        b if b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b => format!("{b} bytes"),
    }
}

/// The shard, created on first use and grown (unmeasured) to at least `bytes`.
fn grow<'s>(
    slot: &'s mut Option<Grown>,
    settings: &EngineSettings,
    root: &Path,
    backend: shardlog_segment::BackendKind,
    bytes: u64,
) -> Result<&'s mut Grown, String> {
    if slot.is_none() {
        let engine_dir = settings.engine_dir(root.join("growth"), backend)?;
        engine_dir
            .engine()
            .create_stream(STREAM, Some(1), BTreeMap::new())
            .map_err(context("create_stream"))?;
        *slot = Some(Grown {
            engine_dir,
            bytes: 0,
            sample: None,
        });
    }
    let grown = slot.as_mut().expect("created above");
    if grown.bytes < bytes {
        let budget = Budget {
            volume_bytes: bytes - grown.bytes,
            duration: GROW_DURATION_MAX,
        };
        let meter = Meter::new("growing", budget.volume_bytes, false);
        let engine = grown.engine_dir.engine();
        let producers = settings.producers_for(1);
        let filled = produce_all(engine, STREAM, settings, producers, &budget, &meter)?;
        grown.bytes += filled.bytes;
        if grown.bytes < bytes {
            return Err(format!(
                "growing the shard to {bytes} bytes stopped at {} after {:?}",
                grown.bytes, GROW_DURATION_MAX
            ));
        }
    }
    Ok(grown)
}

/// Sequence numbers of records spread over the shard: the first record at or
/// after each of `count` random arrival times in its span.
fn sample_sequence_numbers(
    engine: &shardlog_engine::Engine,
    count: usize,
    rng: &mut Rng,
) -> Result<Vec<SequenceNumber>, String> {
    let (_, first_ms) = one_record(engine, IteratorStart::TrimHorizon)?;
    // Every record arrived by now.
    let last_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as u64;
    let started = Instant::now();
    let mut sample = Vec::with_capacity(count);
    while sample.len() < count && started.elapsed() < Duration::from_secs(600) {
        let at_ms = first_ms + rng.below(last_ms.saturating_sub(first_ms) + 1);
        if let Ok((sequence_number, _)) = one_record(engine, IteratorStart::AtTimestamp(at_ms)) {
            sample.push(sequence_number);
        }
    }
    if sample.is_empty() {
        return Err("no record found to seek to".into());
    }
    Ok(sample)
}

#[cfg(test)]
mod tests {
    //! The growth cases on a small scale: two sizes, each case run once.
    use super::*;
    use shardlog_segment::{BackendKind, Durability};

    /// The shard reaches each size before its cases measure, the appends move
    /// bytes and every seek finds the record it asked for.
    #[test]
    fn cases_grow_the_shard_and_seek_what_they_sampled() {
        let dir = tempfile::tempdir().unwrap();
        let settings = EngineSettings {
            shard_counts: vec![1],
            record_bytes: 1024,
            batch_records: 100,
            producers: Some(1),
            durability: Durability::None,
            backends: vec![BackendKind::Buffered],
            rate_records_per_s: None,
            scale_shards: 1,
            preallocate_bytes_max: None,
        };
        let sizes = [1 << 20, 3 << 20];
        let mut cases = growth_cases(&settings, dir.path(), &sizes, 50);
        let names: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "growth append 1 shard at 1 MiB",
                "growth seek AT_SEQUENCE_NUMBER at 1 MiB",
                "growth append 1 shard at 3 MiB",
                "growth seek AT_SEQUENCE_NUMBER at 3 MiB",
            ]
        );
        let budget = Budget {
            volume_bytes: 256 << 10,
            duration: Duration::from_secs(30),
        };
        for case in &mut cases {
            let meter = Meter::new(&case.name, budget.volume_bytes, false);
            let sample = (case.run)(&budget, &meter).unwrap();
            if case.figure == Figure::Throughput {
                assert!(sample.bytes >= budget.volume_bytes, "{}", case.name);
            } else {
                assert_eq!(sample.records, 50, "{}", case.name);
            }
        }
    }
}

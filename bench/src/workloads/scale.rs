//! The scale case: a stream of many shards (1,000 by default). First what each
//! idle shard costs (anonymous memory and open files, from before the stream's
//! creation to after one record was written to every shard), then PutRecords
//! across all of them, compared with the raw baselines like any append.

use super::engine::{check_puts, produce_all, put_case, EngineSettings, STREAM};
use super::{context, payload, Budget, Case, IdleShardCost, Meter, Sample, WorkloadKind};
use crate::cli::BATCH_RECORDS_MAX;
use crate::process::{open_files, rss_anon_bytes};
use shardlog_engine::{Engine, HashKey, PutRecord};
use std::collections::BTreeMap;
use std::path::Path;

/// One scale case per backend, each repetition in a fresh engine.
pub fn scale_cases<'a>(settings: &'a EngineSettings, root: &'a Path) -> Vec<Case<'a>> {
    let shards = settings.scale_shards;
    let producers = settings.producers_for(shards);
    settings
        .backends
        .iter()
        .map(|&backend| {
            let run = move |budget: &Budget, meter: &Meter| -> Result<Sample, String> {
                let dir = root.join(format!("scale-{shards}-{}", backend.name()));
                let engine_dir = settings.engine_dir(dir, backend)?;
                let engine = engine_dir.engine();
                let idle_shard = idle_shard_cost(engine, shards, settings.record_bytes)?;
                let mut sample = produce_all(engine, STREAM, settings, producers, budget, meter)?;
                sample.idle_shard = Some(idle_shard);
                Ok(sample)
            };
            let title = format!("scale {shards} shards");
            put_case(
                WorkloadKind::Scale,
                title,
                settings,
                shards,
                backend,
                Box::new(run),
            )
        })
        .collect()
}

/// Creates the stream with `shards` shards, writes one record of `record_bytes`
/// to each (so that each has its segment open, as a shard that took writes and
/// went quiet), and returns the growth of memory and open files per shard.
fn idle_shard_cost(
    engine: &Engine,
    shards: u32,
    record_bytes: usize,
) -> Result<IdleShardCost, String> {
    let memory_before = rss_anon_bytes()?;
    let files_before = open_files()?;
    engine
        .create_stream(STREAM, Some(shards), BTreeMap::new())
        .map_err(context("create_stream"))?;
    let first_hash_keys = first_hash_keys(engine)?;
    if first_hash_keys.len() != shards as usize {
        return Err(format!(
            "the stream has {} shards, not {shards}",
            first_hash_keys.len()
        ));
    }
    let data = payload(record_bytes, 0);
    for keys in first_hash_keys.chunks(BATCH_RECORDS_MAX) {
        let records: Vec<PutRecord<'_>> = keys
            .iter()
            .map(|key| PutRecord {
                partition_key: "idle",
                data: &data,
                explicit_hash_key: Some(*key),
            })
            .collect();
        let results = engine
            .put_records(STREAM, &records)
            .map_err(context("put_records"))?;
        check_puts(&results)?;
    }
    let per_shard = |after: u64, before: u64| (after as f64 - before as f64) / f64::from(shards);
    Ok(IdleShardCost {
        memory_bytes: per_shard(rss_anon_bytes()?, memory_before),
        open_files: per_shard(open_files()?, files_before),
    })
}

/// The first hash key of every shard of the bench stream, in shard order.
fn first_hash_keys(engine: &Engine) -> Result<Vec<HashKey>, String> {
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let (page, more) = engine
            .list_shards(STREAM, None, after, 1000)
            .map_err(context("list_shards"))?;
        after = page.last().map(|shard| shard.shard_id);
        keys.extend(
            page.into_iter()
                .map(|shard| HashKey(shard.hash_key_range.start)),
        );
        if !more || after.is_none() {
            return Ok(keys);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The idle-shard figures come from a stream whose every shard holds a record.
    use super::*;
    use crate::workloads::engine::scratch_engine;
    use shardlog_engine::{IteratorStart, ShardId};

    /// Every shard gets exactly one record, and each costs at least one open file
    /// (its segment) and some memory.
    #[test]
    fn every_shard_gets_one_record_and_costs_files() {
        let (_dir, engine_dir) = scratch_engine();
        let engine = engine_dir.engine();
        let cost = idle_shard_cost(engine, 50, 100).unwrap();
        for shard in 0..50 {
            let iterator = engine
                .get_shard_iterator(STREAM, ShardId(shard), IteratorStart::TrimHorizon)
                .unwrap();
            let records = engine.get_records(&iterator, 10).unwrap().records;
            assert_eq!(records.len(), 1, "shard {shard}");
        }
        assert!(cost.open_files >= 1.0, "{cost:?}");
        assert!(cost.memory_bytes.is_finite(), "{cost:?}");
    }
}

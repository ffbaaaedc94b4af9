//! `shardlog replay`: historical records of a stream from a data directory,
//! following the lineage from closed parents into their children.
//!
//! Shards are read one after the other in the order of their index: a child is
//! always created after its parents, so that order reads every parent (both, for a
//! merge) before its children. Reads go through the engine's read path: sealed
//! segments are mapped, so a replay from the page cache is bound by the output.

use super::output::{progress_bar, CliError, CliResult, OutRecord, RecordFormat, RecordWriter};
use super::Offline;
use shardlog_engine::seqno::{DecimalCursor, SequenceNumber};
use shardlog_engine::{Engine, IteratorStart, ShardDescription, ShardId, GET_RECORDS_MAX};
use shardlog_server::kinesis_errors::{read_error, Account, Worded};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Output buffer: large enough that a replay is bound by the disk or pipe, not
/// syscalls; small enough to stay in the CPU cache while records are copied in.
const OUTPUT_BUFFER_BYTES: usize = 256 << 10;
/// Shards listed per call.
const LIST_PAGE_MAX: usize = 10_000;

/// Replay historical records.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The data directory (the server must not be running on it).
    #[arg(long)]
    data_dir: PathBuf,
    /// The stream.
    #[arg(long)]
    stream: String,
    /// Start at this shard (and follow its children). Default: every shard, from
    /// the oldest (or the shard --from-seq belongs to).
    #[arg(long)]
    shard: Option<String>,
    /// Start at this sequence number (inclusive), in the shard it belongs to.
    #[arg(long, conflicts_with = "from_time")]
    from_seq: Option<String>,
    /// Start at the first record that arrived at or after this time (ms since the
    /// epoch or YYYY-MM-DDTHH:MM:SS[.mmm]Z), in every shard.
    #[arg(long, value_parser = super::output::parse_time_ms)]
    from_time: Option<u64>,
    /// Stop after this sequence number (inclusive): its shard stops there and that
    /// shard's children are not read.
    #[arg(long, conflicts_with = "to_time")]
    to_seq: Option<String>,
    /// Stop at records that arrived after this time (same forms as --from-time).
    #[arg(long, value_parser = super::output::parse_time_ms)]
    to_time: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: RecordFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// What to do about a data directory a server holds: replay has no --url, but
/// tail reads the same records through the server.
const IN_USE_HINT: &str = "stop the server first (replay reads the data directory itself and has no --url), \
or read the records through the server: shardlog tail --url URL --stream NAME --from trim-horizon --no-follow --format jsonl";

/// What a replay wrote.
struct Totals {
    records: u64,
    bytes: u64,
    shards: Vec<String>,
}

/// Runs `shardlog replay`.
pub fn run(args: ReplayArgs) -> CliResult {
    // Arguments first: a mistake is reported as one even while a server holds the
    // directory, and before recovery runs on it.
    for seq in [&args.from_seq, &args.to_seq].into_iter().flatten() {
        seq_of(seq)?;
    }
    let offline = Offline::open(&args.data_dir, false, IN_USE_HINT)?;
    let result = replay(&offline.engine, offline.identity.account(), &args);
    let closed = offline.close();
    let totals = result?;
    closed?;
    eprintln!(
        "replayed {} records ({} bytes of data) from {}",
        totals.records,
        totals.bytes,
        if totals.shards.is_empty() {
            "no shard".to_string()
        } else {
            totals.shards.join(", ")
        }
    );
    Ok(())
}

fn all_shards(
    engine: &Engine,
    account: Account<'_>,
    stream: &str,
) -> CliResult<Vec<ShardDescription>> {
    let mut shards: Vec<ShardDescription> = Vec::new();
    loop {
        let after = shards.last().map(|s| s.shard_id);
        let (page, more) = engine
            .list_shards(stream, None, after, LIST_PAGE_MAX)
            .map_err(|error| CliError::failed(error.worded(account).message))?;
        let empty = page.is_empty();
        shards.extend(page);
        if !more || empty {
            return Ok(shards);
        }
    }
}

fn parents(shard: &ShardDescription) -> impl Iterator<Item = ShardId> {
    shard
        .parent_shard_id
        .into_iter()
        .chain(shard.adjacent_parent_shard_id)
}

/// The shards to read, in index order: the starting shards and their descendants.
fn scope(shards: &[ShardDescription], args: &ReplayArgs) -> CliResult<Vec<ShardDescription>> {
    let listed: BTreeSet<ShardId> = shards.iter().map(|s| s.shard_id).collect();
    // The starting shard as asked for (its text, for the message), and as read.
    let start = match (&args.shard, &args.from_seq) {
        (Some(text), _) => Some((text.clone(), ShardId::parse(text))),
        (None, Some(seq)) => {
            let shard = ShardId(seq_of(seq)?.shard_index);
            Some((shard.to_string(), Some(shard)))
        }
        (None, None) => None,
    };
    let mut chosen: BTreeSet<ShardId> = match start {
        Some((text, shard)) => match shard.filter(|shard| listed.contains(shard)) {
            Some(shard) => BTreeSet::from([shard]),
            None => {
                return Err(CliError::failed(format!(
                    "stream {} has no shard {text}",
                    args.stream
                )))
            }
        },
        None => shards
            .iter()
            .filter(|s| parents(s).all(|p| !listed.contains(&p)))
            .map(|s| s.shard_id)
            .collect(),
    };
    let mut ordered: Vec<ShardDescription> = shards.to_vec();
    ordered.sort_by_key(|s| s.shard_id);
    let mut result = Vec::new();
    for shard in ordered {
        if chosen.contains(&shard.shard_id) || parents(&shard).any(|p| chosen.contains(&p)) {
            chosen.insert(shard.shard_id);
            result.push(shard);
        }
    }
    Ok(result)
}

fn seq_of(text: &str) -> CliResult<SequenceNumber> {
    SequenceNumber::parse(text)
        .map_err(|error| CliError::usage(format!("'{text}' is not a sequence number: {error}")))
}

/// One replay in progress: where records go and what was written.
struct Replayer<'a> {
    engine: &'a Engine,
    /// Who errors are worded for, as the server would answer the same read.
    account: Account<'a>,
    args: &'a ReplayArgs,
    out: std::io::BufWriter<Box<dyn Write>>,
    writer: RecordWriter,
    bar: indicatif::ProgressBar,
    totals: Totals,
}

fn replay(engine: &Engine, account: Account<'_>, args: &ReplayArgs) -> CliResult<Totals> {
    let shards = scope(&all_shards(engine, account, &args.stream)?, args)?;
    let from_seq = args.from_seq.as_deref().map(seq_of).transpose()?;
    let to_seq = args.to_seq.as_deref().map(seq_of).transpose()?;
    let end_shard = to_seq.as_ref().map(|end| ShardId(end.shard_index));
    if let Some(id) = end_shard {
        if !shards.iter().any(|s| s.shard_id == id) {
            return Err(CliError::usage(format!(
                "--to-seq belongs to {id}, which this replay does not read"
            )));
        }
    }
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|error| {
            CliError::failed(format!("cannot create {}: {error}", path.display()))
        })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let ids: Vec<String> = shards.iter().map(|s| s.shard_id.to_string()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut replayer = Replayer {
        engine,
        account,
        args,
        out: std::io::BufWriter::with_capacity(OUTPUT_BUFFER_BYTES, sink),
        writer: RecordWriter::new(args.format),
        bar: progress_bar(
            Some(log_bytes(&args.data_dir, &args.stream, &ids)),
            "replay",
        ),
        totals: Totals {
            records: 0,
            bytes: 0,
            shards: Vec::new(),
        },
    };
    // Shards whose replay stopped early: their descendants come after the end.
    let mut cut: BTreeSet<ShardId> = BTreeSet::new();
    for (i, shard) in shards.iter().enumerate() {
        if parents(shard).any(|p| cut.contains(&p)) {
            cut.insert(shard.shard_id);
            continue;
        }
        let start = match (from_seq, args.from_time) {
            // The first shard of the scope is the one the sequence number names.
            (Some(seq), _) if i == 0 => IteratorStart::AtSequenceNumber(seq),
            (_, Some(ms)) => IteratorStart::AtTimestamp(ms),
            _ => IteratorStart::TrimHorizon,
        };
        let end_seq = to_seq.filter(|_| end_shard == Some(shard.shard_id));
        if replayer.shard(shard, start, end_seq)? {
            cut.insert(shard.shard_id);
        }
        replayer.totals.shards.push(shard.shard_id.to_string());
    }
    replayer.bar.finish_and_clear();
    replayer.out.flush().map_err(CliError::output)?;
    Ok(replayer.totals)
}

impl Replayer<'_> {
    /// Replays one shard from `start`; whether it stopped before the shard's end.
    fn shard(
        &mut self,
        shard: &ShardDescription,
        start: IteratorStart,
        end_seq: Option<SequenceNumber>,
    ) -> CliResult<bool> {
        let account = self.account;
        let failed = |error: shardlog_engine::ReadError| {
            let error = read_error(&error, account);
            CliError::failed(format!("reading {}: {}", shard.shard_id, error.message))
        };
        let mut iterator = self
            .engine
            .get_shard_iterator(&self.args.stream, shard.shard_id, start)
            .map_err(failed)?;
        let shard_text = shard.shard_id.to_string();
        let mut cursor = DecimalCursor::new();
        loop {
            let batch = self
                .engine
                .get_records(&iterator, GET_RECORDS_MAX)
                .map_err(failed)?;
            let mut batch_bytes = 0;
            for record in &batch.records {
                let past_seq = end_seq.is_some_and(|end| record.sequence_number > end);
                let past_time = self
                    .args
                    .to_time
                    .is_some_and(|end| record.approximate_arrival_ms > end);
                if past_seq || past_time {
                    return Ok(true);
                }
                let sequence_number = cursor.format(record.sequence_number);
                let out_record = OutRecord {
                    shard_id: &shard_text,
                    sequence_number,
                    arrival_ms: record.approximate_arrival_ms,
                    partition_key: &record.partition_key,
                    data: &record.data,
                };
                self.writer
                    .write(&mut self.out, &out_record)
                    .map_err(CliError::output)?;
                self.totals.records += 1;
                self.totals.bytes += record.data.len() as u64;
                // About the record's size in the segment, for the progress bar.
                batch_bytes += (record.data.len() + record.partition_key.len()) as u64 + 12;
            }
            self.bar.inc(batch_bytes);
            match batch.next_shard_iterator {
                // The end of an open shard: nothing else writes to a locked data directory.
                Some(_) if batch.records.is_empty() => return Ok(false),
                Some(next) => iterator = next,
                // The end of a closed shard.
                None => return Ok(false),
            }
        }
    }
}

/// Bytes of the segment files of these shards, for the progress bar.
fn log_bytes(data_dir: &Path, stream: &str, shards: &[&str]) -> u64 {
    let Ok(generations) = std::fs::read_dir(data_dir.join("streams").join(stream)) else {
        return 0;
    };
    let mut total = 0;
    for generation in generations.flatten() {
        for shard in shards {
            let Ok(files) = std::fs::read_dir(generation.path().join(shard)) else {
                continue;
            };
            total += files
                .flatten()
                .filter(|f| f.file_name().to_string_lossy().ends_with(".log"))
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>();
        }
    }
    total
}

//! `shardlog tail`: follow a stream, every shard, through splits and merges.

use super::output::{write_record, CliError, CliResult, OutRecord, RecordFormat};
use super::stream::list_shards;
use super::{json_str, Api, Target};
use crate::client::ClientError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

/// Records asked for per GetRecords call.
const CALL_RECORDS_MAX: u32 = 10_000;
/// Pause after a throttled call.
const THROTTLE_PAUSE_MS: u64 = 1000;

/// Follow a stream like `tail -f`.
#[derive(clap::Args, Debug)]
pub struct TailArgs {
    #[command(flatten)]
    target: Target,
    /// The stream.
    #[arg(long)]
    stream: String,
    /// Where to start: `latest` (new records only) or `trim-horizon` (everything kept).
    #[arg(long, value_enum, default_value = "latest")]
    from: TailStart,
    /// Output format.
    #[arg(long, value_enum, default_value = "raw")]
    format: RecordFormat,
    /// Stop after this many records.
    #[arg(long)]
    max_records: Option<u64>,
    /// Stop when caught up instead of waiting for new records (always so with
    /// --data-dir, where nothing else can write).
    #[arg(long)]
    no_follow: bool,
    /// Pause between polls when caught up, ms (1..=60000).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    poll_ms: u64,
}

/// Where `tail` starts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum TailStart {
    /// After the newest record of each open shard.
    Latest,
    /// At the oldest record kept, parents before children.
    TrimHorizon,
}

/// The shards of a stream and how they descend from each other.
struct Lineage {
    /// Parents of each shard (present in the listing or not).
    parents: BTreeMap<String, Vec<String>>,
    /// Shards that are closed.
    closed: BTreeSet<String>,
}

impl Lineage {
    fn from_listing(shards: &[Value]) -> CliResult<Lineage> {
        let mut lineage = Lineage {
            parents: BTreeMap::new(),
            closed: BTreeSet::new(),
        };
        for shard in shards {
            let id = json_str(shard, "ShardId")?.to_string();
            let parents = ["ParentShardId", "AdjacentParentShardId"]
                .iter()
                .filter_map(|field| shard[*field].as_str().map(str::to_string))
                .collect();
            if shard["SequenceNumberRange"]["EndingSequenceNumber"].is_string() {
                lineage.closed.insert(id.clone());
            }
            lineage.parents.insert(id, parents);
        }
        Ok(lineage)
    }

    /// Shards none of whose parents are listed (they expired, or there never were any).
    fn roots(&self) -> Vec<String> {
        self.parents
            .iter()
            .filter(|(_, parents)| parents.iter().all(|p| !self.parents.contains_key(p)))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Runs `shardlog tail`.
pub fn run(args: TailArgs) -> CliResult {
    let api = Api::open(&args.target)?;
    let result = follow(&api, &args);
    let closed = api.close();
    result.and(closed)
}

fn follow(api: &Api, args: &TailArgs) -> CliResult {
    let follow = !args.no_follow && !api.is_offline();
    let lineage = Lineage::from_listing(&list_shards(api, &args.stream)?)?;
    let (starts, kind) = match args.from {
        TailStart::Latest => (
            lineage
                .parents
                .keys()
                .filter(|id| !lineage.closed.contains(*id))
                .cloned()
                .collect::<Vec<_>>(),
            "LATEST",
        ),
        TailStart::TrimHorizon => (lineage.roots(), "TRIM_HORIZON"),
    };
    let mut readers: BTreeMap<String, String> = BTreeMap::new();
    for shard in starts {
        readers.insert(
            shard.clone(),
            shard_iterator(api, &args.stream, &shard, kind)?,
        );
    }
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut waiting: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut printed = 0u64;
    loop {
        let mut got_any = false;
        let shards: Vec<String> = readers.keys().cloned().collect();
        for shard in shards {
            let iterator = readers[&shard].clone();
            let response = match api.call(
                "GetRecords",
                &json!({"ShardIterator": iterator, "Limit": CALL_RECORDS_MAX}),
            ) {
                Err(ClientError::Service { code, .. })
                    if code == "ProvisionedThroughputExceededException" =>
                {
                    std::thread::sleep(Duration::from_millis(THROTTLE_PAUSE_MS));
                    continue;
                }
                other => other?,
            };
            for record in response["Records"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let data = STANDARD
                    .decode(json_str(record, "Data")?)
                    .map_err(|error| {
                        CliError::failed(format!("record data is not base64: {error}"))
                    })?;
                let arrival = record["ApproximateArrivalTimestamp"]
                    .as_f64()
                    .unwrap_or(0.0);
                let out_record = OutRecord {
                    shard_id: &shard,
                    sequence_number: json_str(record, "SequenceNumber")?,
                    arrival_ms: (arrival * 1000.0).round() as u64,
                    partition_key: json_str(record, "PartitionKey")?,
                    data: &data,
                };
                write_record(&mut out, args.format, &out_record).map_err(CliError::output)?;
                printed += 1;
                got_any = true;
                if args.max_records.is_some_and(|max| printed >= max) {
                    return out.flush().map_err(CliError::output);
                }
            }
            match response["NextShardIterator"].as_str() {
                Some(next) => {
                    readers.insert(shard, next.to_string());
                }
                None => {
                    readers.remove(&shard);
                    finished.insert(shard.clone());
                    start_children(api, args, &response, &finished, &mut waiting, &mut readers)?;
                }
            }
        }
        out.flush().map_err(CliError::output)?;
        if readers.is_empty() || (!got_any && !follow) {
            return Ok(());
        }
        if !got_any {
            std::thread::sleep(Duration::from_millis(args.poll_ms));
        }
    }
}

/// Starts reading the children of a finished shard whose parents have all finished.
fn start_children(
    api: &Api,
    args: &TailArgs,
    response: &Value,
    finished: &BTreeSet<String>,
    waiting: &mut BTreeMap<String, Vec<String>>,
    readers: &mut BTreeMap<String, String>,
) -> CliResult {
    for child in response["ChildShards"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let id = json_str(child, "ShardId")?.to_string();
        let parents: Vec<String> = child["ParentShards"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
        waiting.insert(id, parents);
    }
    // A child whose other parent is not being read (tail started at LATEST after
    // it closed) is started too: that parent has nothing new to give.
    let ready: Vec<String> = waiting
        .iter()
        .filter(|(_, parents)| {
            parents.iter().all(|p| {
                finished.contains(p) || (!readers.contains_key(p) && !waiting.contains_key(p))
            })
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in ready {
        waiting.remove(&id);
        if !readers.contains_key(&id) && !finished.contains(&id) {
            let iterator = shard_iterator(api, &args.stream, &id, "TRIM_HORIZON")?;
            readers.insert(id, iterator);
        }
    }
    Ok(())
}

fn shard_iterator(api: &Api, stream: &str, shard: &str, kind: &str) -> CliResult<String> {
    let response = api.call(
        "GetShardIterator",
        &json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": kind}),
    )?;
    Ok(json_str(&response, "ShardIterator")?.to_string())
}

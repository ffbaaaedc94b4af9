//! `shardlog tail`: follow a stream, every shard, through splits and merges.

use super::output::{CliError, CliResult, OutRecord, RecordFormat, RecordWriter};
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
    let api = Api::open(&args.target, false)?;
    let result = follow(&api, &args);
    let closed = api.close();
    result.and(closed)
}

/// A tail in progress: the shards being read and where.
struct Follower<'a> {
    api: &'a Api,
    args: &'a TailArgs,
    /// Open readers: shard id → its next iterator.
    readers: BTreeMap<String, String>,
    /// Shards read to their end.
    finished: BTreeSet<String>,
    /// Children of finished shards waiting for their other parent: id → parents.
    waiting: BTreeMap<String, Vec<String>>,
    writer: RecordWriter,
    printed: u64,
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
    let mut follower = Follower {
        api,
        args,
        readers: BTreeMap::new(),
        finished: BTreeSet::new(),
        waiting: BTreeMap::new(),
        writer: RecordWriter::new(args.format),
        printed: 0,
    };
    for shard in starts {
        let iterator = shard_iterator(api, &args.stream, &shard, kind)?;
        follower.readers.insert(shard, iterator);
    }
    if follow && args.from == TailStart::Latest {
        // Nothing shows until a record arrives: say so, and how to see older ones.
        eprintln!(
            "tail: waiting for new records of {} (--from trim-horizon prints the records already kept first); Ctrl-C ends",
            args.stream
        );
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    loop {
        let mut got_any = false;
        let shards: Vec<String> = follower.readers.keys().cloned().collect();
        for shard in shards {
            match follower.read(&shard, &mut out)? {
                Read::Records => got_any = true,
                Read::Nothing => {}
                Read::Done => return out.flush().map_err(CliError::output),
            }
        }
        out.flush().map_err(CliError::output)?;
        if follower.readers.is_empty() || (!got_any && !follow) {
            return Ok(());
        }
        if !got_any {
            std::thread::sleep(Duration::from_millis(args.poll_ms));
        }
    }
}

/// What one GetRecords call of a tail gave.
enum Read {
    /// Records were printed.
    Records,
    /// No records (or the call was throttled).
    Nothing,
    /// --max-records were printed: stop.
    Done,
}

impl Follower<'_> {
    /// One GetRecords call on `shard`: prints its records, moves its iterator on,
    /// and at the end of a closed shard starts the children that are ready.
    fn read(&mut self, shard: &str, out: &mut impl Write) -> CliResult<Read> {
        let body = json!({"ShardIterator": self.readers[shard], "Limit": CALL_RECORDS_MAX});
        let response = match self.api.call("GetRecords", &body) {
            Err(ClientError::Service { code, .. })
                if code == "ProvisionedThroughputExceededException" =>
            {
                std::thread::sleep(Duration::from_millis(THROTTLE_PAUSE_MS));
                return Ok(Read::Nothing);
            }
            other => other?,
        };
        let records = response["Records"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for record in records {
            let data = STANDARD
                .decode(json_str(record, "Data")?)
                .map_err(|error| CliError::failed(format!("record data is not base64: {error}")))?;
            let arrival_secs = record["ApproximateArrivalTimestamp"]
                .as_f64()
                .unwrap_or(0.0);
            let out_record = OutRecord {
                shard_id: shard,
                sequence_number: json_str(record, "SequenceNumber")?,
                arrival_ms: (arrival_secs * 1000.0).round() as u64,
                partition_key: json_str(record, "PartitionKey")?,
                data: &data,
            };
            self.writer
                .write(out, &out_record)
                .map_err(CliError::output)?;
            self.printed += 1;
            if self.args.max_records.is_some_and(|max| self.printed >= max) {
                return Ok(Read::Done);
            }
        }
        match response["NextShardIterator"].as_str() {
            Some(next) => {
                self.readers.insert(shard.to_string(), next.to_string());
            }
            None => {
                self.readers.remove(shard);
                self.finished.insert(shard.to_string());
                self.start_children(&response)?;
            }
        }
        Ok(if records.is_empty() {
            Read::Nothing
        } else {
            Read::Records
        })
    }

    /// Starts reading the children of a finished shard whose parents have all finished.
    fn start_children(&mut self, response: &Value) -> CliResult {
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
            self.waiting.insert(id, parents);
        }
        // A child whose other parent is not being read (tail started at LATEST after
        // it closed) is started too: that parent has nothing new to give.
        let ready: Vec<String> = self
            .waiting
            .iter()
            .filter(|(_, parents)| {
                parents.iter().all(|p| {
                    self.finished.contains(p)
                        || (!self.readers.contains_key(p) && !self.waiting.contains_key(p))
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in ready {
            self.waiting.remove(&id);
            if !self.readers.contains_key(&id) && !self.finished.contains(&id) {
                let iterator = shard_iterator(self.api, &self.args.stream, &id, "TRIM_HORIZON")?;
                self.readers.insert(id, iterator);
            }
        }
        Ok(())
    }
}

fn shard_iterator(api: &Api, stream: &str, shard: &str, kind: &str) -> CliResult<String> {
    let response = api.call(
        "GetShardIterator",
        &json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": kind}),
    )?;
    Ok(json_str(&response, "ShardIterator")?.to_string())
}

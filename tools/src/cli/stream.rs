//! `shardlog stream create|delete|list|describe|split|merge|scale`.

use super::output::{print_json, CliError, CliResult};
use super::{json_str, Api, Target};
use serde_json::{json, Value};

/// Most shards listed per ListShards page.
const LIST_PAGE_MAX: u64 = 1000;
/// Most pages read (a bound: 10 000 pages of 1000 shards is far beyond any stream here).
const LIST_PAGES_MAX: usize = 10_000;

/// Stream administration.
#[derive(clap::Args, Debug)]
pub struct StreamArgs {
    #[command(flatten)]
    target: Target,
    /// Print the API's JSON response instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: StreamCommand,
}

#[derive(clap::Subcommand, Debug)]
enum StreamCommand {
    /// Create a stream.
    Create {
        /// Stream name.
        name: String,
        /// Number of shards (provisioned mode).
        #[arg(long, default_value_t = 1, conflicts_with = "on_demand")]
        shards: u32,
        /// On-demand capacity mode instead of a fixed shard count.
        #[arg(long)]
        on_demand: bool,
    },
    /// Delete a stream and its data.
    Delete {
        /// Stream name.
        name: String,
        /// Delete it even if it has registered consumers.
        #[arg(long)]
        force: bool,
    },
    /// List stream names.
    List,
    /// Describe a stream and all its shards (open and closed).
    Describe {
        /// Stream name.
        name: String,
    },
    /// Split a shard in two.
    Split {
        /// Stream name.
        name: String,
        /// The shard to split, e.g. shardId-000000000000.
        #[arg(long)]
        shard: String,
        /// The first hash key (decimal) of the upper child. Default: the middle of the shard's range.
        #[arg(long)]
        hash_key: Option<String>,
    },
    /// Merge two adjacent shards into one.
    Merge {
        /// Stream name.
        name: String,
        /// One shard.
        #[arg(long)]
        shard: String,
        /// The shard adjacent to it.
        #[arg(long)]
        adjacent: String,
    },
    /// Change the number of open shards (uniform scaling).
    Scale {
        /// Stream name.
        name: String,
        /// The target number of open shards.
        #[arg(long)]
        count: u32,
    },
}

/// Runs `shardlog stream ...`.
pub fn run(args: StreamArgs) -> CliResult {
    // Only `create` makes a new data directory; the others expect one.
    let create = matches!(args.command, StreamCommand::Create { .. });
    // Arguments first: a mistake is reported as one, before a data directory is
    // locked (or found in use) or a server asked.
    if let StreamCommand::Split {
        hash_key: Some(key),
        ..
    } = &args.command
    {
        key.parse::<u128>().map_err(|_| {
            CliError::usage(format!(
                "--hash-key '{key}' is not a hash key: give a decimal number from 0 to 2^128-1"
            ))
        })?;
    }
    let api = Api::open(&args.target, create)?;
    let result = run_on(&api, args.command, args.json);
    let closed = api.close();
    result.and(closed)
}

fn run_on(api: &Api, command: StreamCommand, as_json: bool) -> CliResult {
    let (response, text) = match command {
        StreamCommand::Create {
            name,
            shards,
            on_demand,
        } => create(api, &name, shards, on_demand)?,
        StreamCommand::Delete { name, force } => {
            let body = json!({"StreamName": name, "EnforceConsumerDeletion": force});
            (
                api.call("DeleteStream", &body)?,
                format!("deleted stream {name}"),
            )
        }
        StreamCommand::List => {
            let names = list_streams(api)?;
            let text = names.join("\n");
            (json!({ "StreamNames": names }), text)
        }
        StreamCommand::Describe { name } => describe(api, &name)?,
        StreamCommand::Split {
            name,
            shard,
            hash_key,
        } => {
            let hash_key = match hash_key {
                Some(key) => key,
                None => middle_hash_key(&list_shards(api, &name)?, &shard)?,
            };
            let body =
                json!({"StreamName": name, "ShardToSplit": shard, "NewStartingHashKey": hash_key});
            let response = api.call("SplitShard", &body)?;
            (
                response,
                format!("split {shard} of {name} at hash key {hash_key}"),
            )
        }
        StreamCommand::Merge {
            name,
            shard,
            adjacent,
        } => {
            let body = json!({"StreamName": name, "ShardToMerge": shard, "AdjacentShardToMerge": adjacent});
            let response = api.call("MergeShards", &body)?;
            (response, format!("merged {shard} and {adjacent} of {name}"))
        }
        StreamCommand::Scale { name, count } => {
            let body = json!({"StreamName": name, "TargetShardCount": count, "ScalingType": "UNIFORM_SCALING"});
            let response = api.call("UpdateShardCount", &body)?;
            (response, format!("{name} now has {count} open shards"))
        }
    };
    if as_json {
        print_json(&response)
    } else {
        if !text.is_empty() {
            crate::outln!("{text}")?;
        }
        Ok(())
    }
}

fn create(api: &Api, name: &str, shards: u32, on_demand: bool) -> CliResult<(Value, String)> {
    let body = if on_demand {
        json!({"StreamName": name, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}})
    } else {
        json!({"StreamName": name, "ShardCount": shards})
    };
    let response = api.call("CreateStream", &body)?;
    let shards = list_shards(api, name)?;
    let text = format!("created stream {name} with {} shards", shards.len());
    Ok((response, text))
}

/// DescribeStreamSummary with every shard (ListShards) added as `Shards`.
fn describe(api: &Api, name: &str) -> CliResult<(Value, String)> {
    let summary = api.call("DescribeStreamSummary", &json!({"StreamName": name}))?;
    let shards = list_shards(api, name)?;
    let text = describe_text(&summary, &shards);
    let mut response = summary;
    response["Shards"] = Value::Array(shards);
    Ok((response, text))
}

/// Every stream name, following pagination.
fn list_streams(api: &Api) -> CliResult<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for _ in 0..LIST_PAGES_MAX {
        let mut body = json!({"Limit": 100});
        if let Some(last) = names.last() {
            body["ExclusiveStartStreamName"] = json!(last);
        }
        let response = api.call("ListStreams", &body)?;
        let page = response["StreamNames"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        names.extend(page.iter().filter_map(|n| n.as_str().map(str::to_string)));
        if !response["HasMoreStreams"].as_bool().unwrap_or(false) || page.is_empty() {
            return Ok(names);
        }
    }
    Err(CliError::failed("ListStreams did not finish"))
}

/// Every shard of a stream (open and closed), following pagination.
pub fn list_shards(api: &Api, name: &str) -> CliResult<Vec<Value>> {
    let mut shards = Vec::new();
    let mut body = json!({"StreamName": name, "MaxResults": LIST_PAGE_MAX});
    for _ in 0..LIST_PAGES_MAX {
        let response = api.call("ListShards", &body)?;
        shards.extend(response["Shards"].as_array().cloned().unwrap_or_default());
        match response["NextToken"].as_str() {
            Some(token) => body = json!({"NextToken": token, "MaxResults": LIST_PAGE_MAX}),
            None => return Ok(shards),
        }
    }
    Err(CliError::failed("ListShards did not finish"))
}

fn describe_text(summary: &Value, shards: &[Value]) -> String {
    let s = &summary["StreamDescriptionSummary"];
    let mut text = format!(
        "stream {}  status {}  mode {}  retention {} h  open shards {}\n",
        s["StreamName"].as_str().unwrap_or("?"),
        s["StreamStatus"].as_str().unwrap_or("?"),
        s["StreamModeDetails"]["StreamMode"].as_str().unwrap_or("?"),
        s["RetentionPeriodHours"],
        s["OpenShardCount"],
    );
    text.push_str(
        "shard                 state   parents                                  hash keys\n",
    );
    for shard in shards {
        let parents: Vec<&str> = ["ParentShardId", "AdjacentParentShardId"]
            .iter()
            .filter_map(|field| shard[*field].as_str())
            .collect();
        let state = if shard["SequenceNumberRange"]["EndingSequenceNumber"].is_string() {
            "closed"
        } else {
            "open"
        };
        text.push_str(&format!(
            "{:<21} {:<7} {:<40} {}..{}\n",
            shard["ShardId"].as_str().unwrap_or("?"),
            state,
            if parents.is_empty() {
                "-".to_string()
            } else {
                parents.join(",")
            },
            shard["HashKeyRange"]["StartingHashKey"]
                .as_str()
                .unwrap_or("?"),
            shard["HashKeyRange"]["EndingHashKey"]
                .as_str()
                .unwrap_or("?"),
        ));
    }
    text.trim_end().to_string()
}

/// The hash key in the middle of `shard`'s range: the first key of the upper half.
fn middle_hash_key(shards: &[Value], shard: &str) -> CliResult<String> {
    let found = shards
        .iter()
        .find(|s| s["ShardId"].as_str() == Some(shard))
        .ok_or_else(|| CliError::failed(format!("no shard {shard} in this stream")))?;
    let key = |name: &str| -> CliResult<u128> {
        json_str(&found["HashKeyRange"], name)?
            .parse()
            .map_err(|_| CliError::failed(format!("shard {shard} has a bad {name}")))
    };
    let (start, end) = (key("StartingHashKey")?, key("EndingHashKey")?);
    if start == end {
        return Err(CliError::failed(format!(
            "shard {shard} covers a single hash key and cannot be split"
        )));
    }
    Ok((start + (end - start) / 2 + 1).to_string())
}

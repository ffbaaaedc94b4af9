//! `shardlog put`: records from stdin or files into a stream, through PutRecords:
//! the engine's own call on a data directory, the JSON action against a server.

use super::output::{print_json, progress_bar, CliError, CliResult};
use super::{Api, Target};
use crate::client::ClientError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use shardlog_engine::{HashKey, PutRecord};
use shardlog_server::kinesis_errors::{explicit_hash_key_error, put_error, record_failure};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::Duration;

/// Most records in one PutRecords call (Kinesis's limit).
const CALL_RECORDS_MAX: usize = 500;
/// Most payload bytes in one PutRecords call (Kinesis's limit is 5 MiB).
const CALL_BYTES_MAX: usize = 5 << 20;
/// Longest input line read, bytes: a record is at most 10 MiB, base64 in JSON lines
/// a third more.
const LINE_BYTES_MAX: usize = 16 << 20;
/// How often records that failed (throttled) are sent again before giving up.
const RETRIES_MAX: u32 = 8;
/// First pause before a retry; doubles each time.
const RETRY_PAUSE_MS: u64 = 50;

/// Put records into a stream.
#[derive(clap::Args, Debug)]
pub struct PutArgs {
    #[command(flatten)]
    target: Target,
    /// The stream.
    #[arg(long)]
    stream: String,
    /// Input files; standard input when none (or `-`).
    files: Vec<PathBuf>,
    /// How input is read: `lines` (each line is one record's data) or `jsonl`
    /// (each line an object: `data` text or `data_base64`, optional
    /// `partition_key` and `explicit_hash_key`).
    #[arg(long, value_enum, default_value = "lines")]
    input: InputFormat,
    /// Partition key of every record without its own. Default: the record's
    /// number in the input, which spreads records over the shards.
    #[arg(long)]
    partition_key: Option<String>,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    json: bool,
}

/// How `put` reads its input.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum InputFormat {
    /// One record per line (without the newline).
    Lines,
    /// One JSON object per line.
    Jsonl,
}

/// Runs `shardlog put`.
pub fn run(args: PutArgs) -> CliResult {
    let inputs = open_inputs(&args)?;
    let api = Api::open(&args.target, false)?;
    let result = put_all(&api, &args, inputs);
    let closed = api.close();
    let (records, bytes) = result?;
    closed?;
    if args.json {
        print_json(&json!({"stream": args.stream, "records": records, "bytes": bytes}))
    } else {
        eprintln!("put {records} records ({bytes} bytes) into {}", args.stream);
        Ok(())
    }
}

/// One record to put.
struct Entry {
    data: Vec<u8>,
    partition_key: String,
    explicit_hash_key: Option<String>,
}

struct Batch {
    entries: Vec<Entry>,
    bytes: usize,
    first_line: u64,
}

/// One input of a put: its name for messages, the reader, and its size when known.
struct Input {
    name: String,
    reader: Box<dyn Read>,
    bytes: Option<u64>,
}

/// Opens every input (standard input when no file, or `-`, is named), so that a
/// missing file is reported before the data directory is locked or the server asked.
fn open_inputs(args: &PutArgs) -> CliResult<Vec<Input>> {
    let stdin = || Input {
        name: "stdin".to_string(),
        reader: Box::new(std::io::stdin().lock()),
        bytes: None,
    };
    if args.files.is_empty() {
        return Ok(vec![stdin()]);
    }
    args.files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                return Ok(stdin());
            }
            let file = std::fs::File::open(path).map_err(|error| {
                CliError::failed(format!("cannot open {}: {error}", path.display()))
            })?;
            Ok(Input {
                name: path.display().to_string(),
                bytes: file.metadata().ok().map(|m| m.len()),
                reader: Box::new(file),
            })
        })
        .collect()
}

fn put_all(api: &Api, args: &PutArgs, inputs: Vec<Input>) -> CliResult<(u64, u64)> {
    let total_bytes: Option<u64> = inputs.iter().map(|input| input.bytes).sum();
    let mut putter = Putter {
        api,
        args,
        batch: Batch {
            entries: Vec::new(),
            bytes: 0,
            first_line: 1,
        },
        records: 0,
        bytes: 0,
        bar: progress_bar(total_bytes, "put"),
    };
    for input in inputs {
        putter.put_source(&input.name, BufReader::with_capacity(1 << 20, input.reader))?;
    }
    putter.bar.finish_and_clear();
    Ok((putter.records, putter.bytes))
}

/// A put in progress.
struct Putter<'a> {
    api: &'a Api,
    args: &'a PutArgs,
    batch: Batch,
    /// Records and payload bytes read so far.
    records: u64,
    bytes: u64,
    bar: indicatif::ProgressBar,
}

impl Putter<'_> {
    /// Puts every record of one input, in PutRecords calls of up to 500 records and 5 MiB.
    fn put_source(&mut self, name: &str, mut reader: impl BufRead) -> CliResult {
        let mut line = Vec::new();
        self.batch.first_line = 1;
        for line_number in 1u64.. {
            line.clear();
            let read = (&mut reader)
                .take(LINE_BYTES_MAX as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|error| CliError::failed(format!("reading {name}: {error}")))?;
            if read == 0 {
                break;
            }
            self.bar.inc(read as u64);
            if line.len() > LINE_BYTES_MAX {
                return Err(CliError::failed(format!(
                    "{name}:{line_number}: line is longer than {LINE_BYTES_MAX} bytes"
                )));
            }
            let content = line.strip_suffix(b"\n").unwrap_or(&line);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            let Some(entry) = entry_of(content, self.args, self.records)
                .map_err(|error| CliError::failed(format!("{name}:{line_number}: {error}")))?
            else {
                continue;
            };
            // Kinesis counts the partition key in the 5 MiB of a call.
            let size = entry.data.len() + entry.partition_key.len();
            let batch = &mut self.batch;
            if batch.entries.len() == CALL_RECORDS_MAX || batch.bytes + size > CALL_BYTES_MAX {
                flush(self.api, &self.args.stream, batch, name)?;
                batch.first_line = line_number;
            }
            self.records += 1;
            self.bytes += entry.data.len() as u64;
            batch.entries.push(entry);
            batch.bytes += size;
        }
        flush(self.api, &self.args.stream, &mut self.batch, name)
    }
}

/// The record of one input line (without its newline); `None` for a blank line
/// of JSON lines.
fn entry_of(content: &[u8], args: &PutArgs, number: u64) -> Result<Option<Entry>, String> {
    match args.input {
        InputFormat::Lines => Ok(Some(Entry {
            data: content.to_vec(),
            partition_key: default_key(args, number),
            explicit_hash_key: None,
        })),
        InputFormat::Jsonl if content.iter().all(u8::is_ascii_whitespace) => Ok(None),
        InputFormat::Jsonl => jsonl_entry(content, args, number).map(Some),
    }
}

/// The partition key of a record without its own.
fn default_key(args: &PutArgs, number: u64) -> String {
    args.partition_key
        .clone()
        .unwrap_or_else(|| number.to_string())
}

/// The record of one JSON line.
fn jsonl_entry(content: &[u8], args: &PutArgs, number: u64) -> Result<Entry, String> {
    let value: Value =
        serde_json::from_slice(content).map_err(|error| format!("not a JSON object: {error}"))?;
    let data = match (value.get("data"), value.get("data_base64")) {
        (Some(Value::String(text)), None) => text.as_bytes().to_vec(),
        (None, Some(Value::String(encoded))) => STANDARD
            .decode(encoded)
            .map_err(|error| format!("data_base64 is not base64: {error}"))?,
        _ => return Err("give exactly one of \"data\" (text) or \"data_base64\"".into()),
    };
    let partition_key = match value.get("partition_key") {
        Some(Value::String(key)) => key.clone(),
        Some(_) => return Err("partition_key must be a string".into()),
        None => default_key(args, number),
    };
    let explicit_hash_key = match value.get("explicit_hash_key") {
        Some(Value::String(hash)) => Some(hash.clone()),
        Some(_) => return Err("explicit_hash_key must be a decimal string".into()),
        None => None,
    };
    Ok(Entry {
        data,
        partition_key,
        explicit_hash_key,
    })
}

/// A service error as the client reports it.
fn service_error(error: shardlog_server::error::ApiError) -> ClientError {
    ClientError::Service {
        code: error.code.to_string(),
        message: error.message,
        status: error.status,
    }
}

/// One PutRecords call: for each entry, `None` if it was stored, else its error
/// code and message. On a data directory this is the engine's call (no JSON on
/// the way); on a server, the JSON action.
fn put_records(
    api: &Api,
    stream: &str,
    entries: &[Entry],
) -> Result<Vec<Option<(String, String)>>, ClientError> {
    if let Api::Local(offline) = api {
        let account = offline.identity.account();
        let records: Vec<PutRecord<'_>> = entries
            .iter()
            .map(|entry| {
                let explicit_hash_key = entry.explicit_hash_key.as_deref().map(|text| {
                    HashKey::parse(text)
                        .map_err(|error| service_error(explicit_hash_key_error(text, &error)))
                });
                Ok(PutRecord {
                    partition_key: &entry.partition_key,
                    data: &entry.data,
                    explicit_hash_key: explicit_hash_key.transpose()?,
                })
            })
            .collect::<Result<_, ClientError>>()?;
        let results = offline
            .engine
            .put_records(stream, &records)
            .map_err(|error| service_error(put_error(&error, account)))?;
        return Ok(results
            .into_iter()
            .map(|result| {
                result.err().map(|failure| {
                    let (code, message) = record_failure(&failure, account);
                    (code.to_string(), message)
                })
            })
            .collect());
    }
    let records: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let mut record = json!({
                "Data": STANDARD.encode(&entry.data),
                "PartitionKey": entry.partition_key,
            });
            if let Some(hash) = &entry.explicit_hash_key {
                record["ExplicitHashKey"] = json!(hash);
            }
            record
        })
        .collect();
    let response = api.call(
        "PutRecords",
        &json!({"StreamName": stream, "Records": records}),
    )?;
    let results = response["Records"].as_array().cloned().unwrap_or_default();
    if results.len() != entries.len() {
        return Err(ClientError::Decode(format!(
            "PutRecords answered {} results for {} records",
            results.len(),
            entries.len()
        )));
    }
    Ok(results
        .iter()
        .map(|result| {
            let code = result.get("ErrorCode").and_then(Value::as_str)?;
            let message = result["ErrorMessage"].as_str().unwrap_or_default();
            Some((code.to_string(), message.to_string()))
        })
        .collect())
}

/// Sends the batch, sending records that failed (throttled) again with a growing
/// pause, a bounded number of times.
fn flush(api: &Api, stream: &str, batch: &mut Batch, name: &str) -> CliResult {
    let mut pending = std::mem::take(&mut batch.entries);
    batch.bytes = 0;
    let mut pause_ms = RETRY_PAUSE_MS;
    for _ in 0..=RETRIES_MAX {
        if pending.is_empty() {
            return Ok(());
        }
        let results = put_records(api, stream, &pending).map_err(|error| {
            CliError::failed(format!(
                "putting the records from {name} line {} on: {}",
                batch.first_line,
                CliError::from(error).message
            ))
        })?;
        let failed: Vec<(Entry, (String, String))> = pending
            .into_iter()
            .zip(results)
            .filter_map(|(entry, result)| result.map(|failure| (entry, failure)))
            .collect();
        if let Some((_, (code, message))) = failed
            .iter()
            .find(|(_, (code, _))| code != "ProvisionedThroughputExceededException")
        {
            return Err(CliError::failed(format!(
                "a record from {name} line {} on failed: {code}: {message}",
                batch.first_line
            )));
        }
        pending = failed.into_iter().map(|(entry, _)| entry).collect();
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(pause_ms));
            pause_ms *= 2;
        }
    }
    Err(CliError::failed(format!(
        "{} records were still throttled after {RETRIES_MAX} retries",
        pending.len()
    )))
}

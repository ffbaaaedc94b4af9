//! `shardlog`: the one binary. `shardlog serve` runs the Kinesis-compatible server
//! over a data directory; the other subcommands (in `cli/`) administer streams,
//! put, tail and replay records, and inspect, verify and repair data directories.
//!
//! Exit codes: 0 success, 1 failure, 2 bad arguments, 3 damage found (verify, repair).
#![forbid(unsafe_code)]

mod cli;
mod client;

use clap::{Parser, Subcommand};
use cli::output::{CliError, EXIT_OK};
use shardlog_engine::{Engine, EngineConfig};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability};
use shardlog_server::{serve, ServerConfig};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "shardlog",
    version,
    about = "A log storage engine with the Kinesis API",
    after_help = "Exit codes: 0 success, 1 failure, 2 bad arguments, 3 damage found (verify, repair)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the Kinesis API (JSON and CBOR, HTTP/1.1 and h2c) over a data directory.
    Serve(ServeArgs),
    // The command line tools (cli/).
    /// Create, delete, list, describe, split, merge and scale streams.
    Stream(cli::stream::StreamArgs),
    /// Create, list, purge and delete SQS queues; send, receive and redrive messages (--url).
    Queue(cli::queue::QueueArgs),
    /// Put records from standard input or files into a stream.
    Put(cli::put::PutArgs),
    /// Follow a stream, every shard, through splits and merges (like tail -f).
    Tail(cli::tail::TailArgs),
    /// Replay historical records of a stream from a data directory.
    Replay(cli::replay::ReplayArgs),
    /// Show what a data directory or a segment file holds.
    Inspect(cli::inspect::InspectArgs),
    /// Check every checksum and index of a data directory (exit 3 on damage).
    Verify(cli::verify::VerifyArgs),
    /// Truncate torn tails and rebuild indexes of an offline data directory.
    Repair(cli::repair::RepairArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Benchmark the storage under a directory: raw device, engine and HTTP workloads.
    Bench(shardlog_bench::cli::BenchArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Where data lives.
    #[arg(long, env = "SHARDLOG_DATA_DIR", default_value = "shardlog-data")]
    data_dir: PathBuf,
    /// Address and port to listen on.
    #[arg(long, env = "SHARDLOG_LISTEN", default_value = "127.0.0.1:4567")]
    listen: SocketAddr,
    /// When appends are acknowledged: sync, interval:<ms> or none.
    #[arg(long, env = "SHARDLOG_DURABILITY", default_value = "sync", value_parser = parse_durability)]
    durability: Durability,
    /// Write backend: auto (io_uring where the kernel accepts it, else buffered),
    /// buffered or io_uring.
    #[arg(long, env = "SHARDLOG_BACKEND", default_value = "auto", value_parser = parse_backend)]
    backend: BackendKind,
    /// Region shown in ARNs.
    #[arg(long, env = "SHARDLOG_REGION", default_value = "us-east-1")]
    region: String,
    /// Account id shown in ARNs.
    #[arg(long, env = "SHARDLOG_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Enforce Kinesis's per-shard throughput quotas.
    #[arg(long, env = "SHARDLOG_SHARD_QUOTAS")]
    shard_quotas: bool,
    /// Credentials that requests must be signed with (AWS Signature V4), as
    /// ACCESS_KEY_ID:SECRET_ACCESS_KEY; repeat or separate with commas. Without
    /// any, requests are not authenticated.
    #[arg(long, env = "SHARDLOG_CREDENTIALS", value_delimiter = ',', value_parser = parse_credential)]
    credentials: Vec<(String, String)>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "SHARDLOG_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SHARDLOG_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Credentials in the AWS shared-credentials format (`aws_access_key_id` and
    /// `aws_secret_access_key` under any `[section]`), added to --credentials.
    #[arg(long, env = "SHARDLOG_CREDENTIALS_FILE")]
    credentials_file: Option<PathBuf>,
    /// How long shard iterators stay valid, ms (Kinesis: 300000). Only for tests
    /// of expiry.
    #[arg(
        long,
        env = "SHARDLOG_ITERATOR_TTL_MS",
        default_value_t = 300_000,
        hide = true
    )]
    iterator_ttl_ms: u64,
    /// How long a SubscribeToShard subscription lasts, ms (Kinesis: 300000). Only
    /// for tests of its end.
    #[arg(
        long,
        env = "SHARDLOG_SUBSCRIPTION_LIFETIME_MS",
        default_value_t = 300_000,
        hide = true
    )]
    subscription_lifetime_ms: u64,
    /// Roll each shard's active segment at this size, bytes (64 KiB to 64 GiB).
    /// Only for tests that need sealed segments from little data.
    #[arg(long, env = "SHARDLOG_SEGMENT_BYTES_MAX", default_value_t = 1 << 30, hide = true,
          value_parser = clap::value_parser!(u64).range(64 << 10..=64 << 30))]
    segment_bytes_max: u64,
    /// How often retention and key compaction run, ms (0: never). Only for tests.
    #[arg(
        long,
        env = "SHARDLOG_RETENTION_CHECK_INTERVAL_MS",
        default_value_t = 60_000,
        hide = true
    )]
    retention_check_interval_ms: u64,
    /// Cap each shard of every stream created at this many bytes: beyond it the
    /// oldest sealed segments go, whatever their age (a shardlog extension).
    #[arg(long, env = "SHARDLOG_RETENTION_BYTES_MAX", value_parser = clap::value_parser!(u64).range(1..))]
    retention_bytes_max: Option<u64>,
    /// Key compaction for every stream created: sealed segments keep only the
    /// newest record of each partition key (a shardlog extension).
    #[arg(long, env = "SHARDLOG_KEY_COMPACTION")]
    key_compaction: bool,
    /// How long an HTTP/1.1 client may take to send its request headers, and how
    /// long a keep-alive connection may wait for its next request, ms.
    #[arg(long, env = "SHARDLOG_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_ms: u64,
    /// How long a connection may stay open with no request in flight, ms.
    #[arg(long, env = "SHARDLOG_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// How long a client may take to send a whole request body, ms.
    #[arg(long, env = "SHARDLOG_BODY_READ_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout_ms: u64,
    /// A TOML file mapping Firehose destination buckets to S3-compatible stores
    /// (`[buckets.<name>]` with endpoint, region, access_key_id,
    /// secret_access_key, allow_http). Buckets not listed are written to
    /// `<data-dir>/buckets/<bucket>/`.
    #[arg(long, env = "SHARDLOG_FIREHOSE_BUCKETS")]
    firehose_buckets: Option<PathBuf>,
    /// A TOML file with any of these settings (keys as the long options, with
    /// underscores: data_dir, listen, durability, ...). Options and environment
    /// variables override it.
    #[arg(long, env = "SHARDLOG_CONFIG")]
    config: Option<PathBuf>,
}

/// Settings a config file may hold, with the environment variable each feeds.
const CONFIG_KEYS: [(&str, &str); 17] = [
    ("data_dir", "SHARDLOG_DATA_DIR"),
    ("listen", "SHARDLOG_LISTEN"),
    ("durability", "SHARDLOG_DURABILITY"),
    ("backend", "SHARDLOG_BACKEND"),
    ("region", "SHARDLOG_REGION"),
    ("account_id", "SHARDLOG_ACCOUNT_ID"),
    ("shard_quotas", "SHARDLOG_SHARD_QUOTAS"),
    ("credentials", "SHARDLOG_CREDENTIALS"),
    ("credentials_file", "SHARDLOG_CREDENTIALS_FILE"),
    ("tls_cert", "SHARDLOG_TLS_CERT"),
    ("tls_key", "SHARDLOG_TLS_KEY"),
    ("firehose_buckets", "SHARDLOG_FIREHOSE_BUCKETS"),
    ("header_read_timeout_ms", "SHARDLOG_HEADER_READ_TIMEOUT_MS"),
    ("idle_timeout_ms", "SHARDLOG_IDLE_TIMEOUT_MS"),
    ("body_read_timeout_ms", "SHARDLOG_BODY_READ_TIMEOUT_MS"),
    ("retention_bytes_max", "SHARDLOG_RETENTION_BYTES_MAX"),
    ("key_compaction", "SHARDLOG_KEY_COMPACTION"),
];

/// The settings of a TOML config file as (environment variable, value) pairs.
fn config_settings(text: &str) -> Result<Vec<(&'static str, String)>, String> {
    let table: toml::Table = text.parse().map_err(|error| format!("{error}"))?;
    let mut settings = Vec::new();
    for (key, value) in table {
        let (_, variable) = CONFIG_KEYS
            .iter()
            .find(|(name, _)| *name == key)
            .ok_or_else(|| format!("unknown setting '{key}'"))?;
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Boolean(flag) => flag.to_string(),
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("'{key}' must list strings"))
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            _ => return Err(format!("'{key}' has an unsupported type")),
        };
        settings.push((*variable, text));
    }
    Ok(settings)
}

/// Applies the config file named by `--config` or SHARDLOG_CONFIG as environment
/// variables that are not already set, so that options and the environment win.
/// Runs before any thread starts.
fn apply_config_file(args: &[String]) -> Result<(), String> {
    let from_args = args
        .windows(2)
        .find(|pair| pair[0] == "--config")
        .map(|pair| pair[1].clone())
        .or_else(|| {
            args.iter()
                .find_map(|arg| arg.strip_prefix("--config=").map(str::to_string))
        });
    let Some(path) = from_args.or_else(|| std::env::var("SHARDLOG_CONFIG").ok()) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read config {path}: {error}"))?;
    for (variable, value) in
        config_settings(&text).map_err(|error| format!("config {path}: {error}"))?
    {
        if std::env::var_os(variable).is_none() {
            std::env::set_var(variable, value);
        }
    }
    Ok(())
}

/// Key pairs from an AWS shared-credentials file.
fn read_credentials_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut key_id: Option<String> = None;
    let mut secret: Option<String> = None;
    let mut flush = |key_id: &mut Option<String>, secret: &mut Option<String>| match (
        key_id.take(),
        secret.take(),
    ) {
        (Some(id), Some(secret)) => {
            pairs.push((id, secret));
            Ok(())
        }
        (None, None) => Ok(()),
        _ => Err("a section has an access key id without a secret, or the reverse".to_string()),
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            flush(&mut key_id, &mut secret)?;
        } else if let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                "aws_access_key_id" => key_id = Some(value.trim().to_string()),
                "aws_secret_access_key" => secret = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    flush(&mut key_id, &mut secret)?;
    Ok(pairs)
}

fn parse_credential(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((key, secret)) if !key.is_empty() && !secret.is_empty() => {
            Ok((key.to_string(), secret.to_string()))
        }
        _ => Err("credentials look like ACCESS_KEY_ID:SECRET_ACCESS_KEY".into()),
    }
}

fn parse_durability(text: &str) -> Result<Durability, String> {
    Durability::parse(text).ok_or_else(|| format!("'{text}' is not sync, none or interval:<ms>"))
}

fn parse_backend(text: &str) -> Result<BackendKind, String> {
    BackendKind::parse(text).ok_or_else(|| format!("'{text}' is not auto, buffered or io_uring"))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down: finishing requests in flight, then syncing");
}

/// Takes an exclusive lock on `<data-dir>/LOCK`, so that a second server on the
/// same directory stops with a clear error instead of corrupting it.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is in use by another shardlog process",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(format!("cannot lock {}: {error}", path.display()))
        }
    }
}

fn run_serve(args: ServeArgs) -> Result<(), String> {
    let identity = shardlog_server::Identity {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
    };
    let mut config = EngineConfig::new(&args.data_dir);
    config.storage.durability = args.durability;
    config.storage.backend = args.backend;
    config.shard_quotas = args.shard_quotas;
    config.iterator_ttl_ms = args.iterator_ttl_ms;
    config.subscription_lifetime_ms = args.subscription_lifetime_ms;
    config.log.segment_bytes_max = args.segment_bytes_max;
    config.retention_check_interval_ms = args.retention_check_interval_ms;
    config.stream_retention_bytes_max = args.retention_bytes_max;
    config.stream_key_compaction = args.key_compaction;
    let mut credentials = args.credentials;
    if let Some(path) = &args.credentials_file {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        credentials.extend(
            read_credentials_file(&text).map_err(|error| format!("{}: {error}", path.display()))?,
        );
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let read = |path: &PathBuf| {
                std::fs::read(path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))
            };
            Some(shardlog_server::tls_config(&read(cert)?, &read(key)?)?)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // One process per data directory: held until this function returns.
    let _lock = lock_data_dir(&args.data_dir)?;
    let engine = Engine::open(RealFs::shared(), config)
        .map_err(|error| format!("cannot open {}: {error}", args.data_dir.display()))?;
    let firehose = open_firehose(&args.data_dir, args.firehose_buckets.as_deref(), &engine)?;
    // Queues share the engine's storage: one group commit for streams and queues.
    let sqs = shardlog_server::Sqs::open(
        engine.storage().clone(),
        &args.data_dir.join("queues"),
        &identity.region,
        &identity.account_id,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(
            %address,
            data_dir = %args.data_dir.display(),
            durability = %args.durability.name(),
            backend = engine.storage().backend().name(),
            backend_requested = args.backend.name(),
            "shardlog serving the Kinesis API"
        );
        if let Some(refusal) = engine.storage().backend_refusal() {
            tracing::warn!(%refusal, "the auto backend fell back to buffered writes");
        }
        // Topics deliver into the queues and delivery streams above, and link
        // notifications back to this address.
        let sns = shardlog_server::Sns::open(
            engine.storage().clone(),
            &args.data_dir.join("topics"),
            (
                &identity.region,
                &identity.account_id,
                &format!("{scheme}://{address}"),
            ),
            Some(sqs.clone()),
            Some(firehose.clone()),
        )?;
        let server_config = ServerConfig {
            credentials: credentials.into_iter().collect(),
            tls,
            firehose: Some(firehose.clone()),
            sqs: Some(sqs.clone()),
            identity,
            sns: Some(sns.clone()),
            header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            body_read_timeout: Duration::from_millis(args.body_read_timeout_ms),
            ..ServerConfig::default()
        };
        if server_config.credentials.is_empty() {
            tracing::warn!("no credentials configured: requests are not authenticated (any Authorization header, or none, is accepted)");
        } else {
            tracing::info!(keys = server_config.credentials.len(), "requests must carry a valid AWS Signature V4");
        }
        println!("listening on {scheme}://{address}");
        let served = serve(engine.clone(), listener, server_config, shutdown_signal())
            .await
            .map_err(|error| format!("server failed: {error}"));
        // Topics stop delivering before the queues and streams they deliver to close.
        served.and(sns.shutdown())
    });
    // Deliver what the delivery streams hold, then sync everything acknowledged
    // before exiting, whatever the server did.
    let flushed = firehose
        .shutdown()
        .map_err(|error| format!("firehose shutdown: {error}"));
    let queues_closed = sqs.shutdown();
    let closed = engine
        .shutdown()
        .map_err(|error| format!("shutdown: {error}"));
    served.and(flushed).and(queues_closed).and(closed)
}

/// The Firehose service over the same data directory (delivery streams in
/// `firehose/`, local buckets in `buckets/`), reading Kinesis sources from `engine`.
fn open_firehose(
    data_dir: &std::path::Path,
    buckets: Option<&std::path::Path>,
    engine: &Engine,
) -> Result<shardlog_firehose::Firehose, String> {
    let mut config = shardlog_firehose::FirehoseConfig::new(data_dir);
    config.storage = engine.config().storage;
    let mut destinations = shardlog_firehose::Destinations::local(&data_dir.join("buckets"));
    if let Some(path) = buckets {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        shardlog_firehose::s3::parse_buckets(&text)
            .and_then(|buckets| shardlog_firehose::s3::add_buckets(&mut destinations, &buckets))
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    shardlog_firehose::Firehose::open(config, Some(engine.clone()), destinations)
        .map_err(|error| format!("cannot open the delivery streams: {error}"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour escapes only for a person at a terminal (and never with NO_COLOR
        // set, https://no-color.org), not in files, pipes or journals.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let args: Vec<String> = std::env::args().collect();
    if let Err(message) = apply_config_file(&args) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => run_serve(args).map_err(CliError::failed),
        // The command line tools (cli/).
        Command::Stream(args) => cli::stream::run(args),
        Command::Queue(args) => cli::queue::run(args),
        Command::Put(args) => cli::put::run(args),
        Command::Tail(args) => cli::tail::run(args),
        Command::Replay(args) => cli::replay::run(args),
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Verify(args) => cli::verify::run(args),
        Command::Repair(args) => cli::repair::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut command = Cli::command();
            // Into memory first: clap_complete panics when a write fails.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "shardlog", &mut script);
            cli::output::write_stdout(format_args!("{}", String::from_utf8_lossy(&script)))
        }
        Command::Bench(args) => shardlog_bench::run(
            args,
            &|url, wire| {
                use shardlog_bench::workloads::http::{endpoint, Wire};
                let client = client::Client::new(url).map_err(|e| e.to_string())?;
                let client = client.unsigned_scope("kinesis");
                Ok(match wire {
                    Wire::Json => endpoint(client, client::Client::call, client::Client::send_json),
                    Wire::Cbor => {
                        endpoint(client, client::Client::call_cbor, client::Client::send_cbor)
                    }
                })
            },
            &|url| {
                use shardlog_bench::workloads::http::endpoint;
                client::Client::new(url)
                    .map(|c| c.unsigned_scope("sqs").per_thread_connections())
                    .map(|c| endpoint(c, client::Client::call_sqs, client::Client::send_sqs))
                    .map_err(|e| e.to_string())
            },
            &|url| {
                client::Client::new(url)
                    .map(|c| c.unsigned_scope("sns"))
                    .map(|c| shardlog_bench::workloads::http::caller(c, client::Client::call_sns))
                    .map_err(|e| e.to_string())
            },
        )
        .map_err(CliError::failed),
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(error) => {
            if !error.message.is_empty() {
                eprintln!("error: {}", error.message);
            }
            ExitCode::from(error.exit)
        }
    }
}

#[cfg(test)]
mod tests {
    //! Config files and credentials files.
    use super::*;

    /// Known keys map to their environment variables; unknown keys are errors.
    #[test]
    fn config_file_settings() {
        let settings = config_settings(
            "data_dir = \"/srv/data\"\nshard_quotas = true\ncredentials = [\"A:1\", \"B:2\"]\n",
        )
        .unwrap();
        assert!(settings.contains(&("SHARDLOG_DATA_DIR", "/srv/data".to_string())));
        assert!(settings.contains(&("SHARDLOG_SHARD_QUOTAS", "true".to_string())));
        assert!(settings.contains(&("SHARDLOG_CREDENTIALS", "A:1,B:2".to_string())));
        assert!(config_settings("nope = 1")
            .unwrap_err()
            .contains("unknown setting 'nope'"));
        assert!(config_settings("listen = [1]").is_err());
    }

    /// A data directory can be locked by one holder at a time.
    #[test]
    fn data_dir_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_data_dir(dir.path()).unwrap();
        let second = lock_data_dir(dir.path()).unwrap_err();
        assert!(
            second.contains("in use by another shardlog process"),
            "{second}"
        );
        drop(held);
        assert!(lock_data_dir(dir.path()).is_ok());
    }

    /// Every section with both keys gives a pair; a half section is an error.
    #[test]
    fn credentials_file_sections() {
        let text = "[default]\naws_access_key_id = AKID1\naws_secret_access_key = s1\n\n[other]\naws_access_key_id=AKID2\naws_secret_access_key=s2\n";
        assert_eq!(
            read_credentials_file(text).unwrap(),
            vec![
                ("AKID1".to_string(), "s1".to_string()),
                ("AKID2".to_string(), "s2".to_string())
            ]
        );
        assert!(read_credentials_file("[x]\naws_access_key_id = A\n").is_err());
    }
}

//! `shardlog`: the one binary. `shardlog serve` runs the Kinesis-compatible server
//! over a data directory.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use shardlog_engine::{Engine, EngineConfig};
use shardlog_segment::io::RealFs;
use shardlog_segment::{BackendKind, Durability};
use shardlog_server::{serve, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "shardlog",
    version,
    about = "A log storage engine with the Kinesis API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the Kinesis API (JSON and CBOR, HTTP/1.1 and h2c) over a data directory.
    Serve(ServeArgs),
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
    /// Write backend: buffered or io_uring.
    #[arg(long, env = "SHARDLOG_BACKEND", default_value = "buffered", value_parser = parse_backend)]
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
    BackendKind::parse(text).ok_or_else(|| format!("'{text}' is not buffered or io_uring"))
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

fn run_serve(args: ServeArgs) -> Result<(), String> {
    let mut config = EngineConfig::new(&args.data_dir);
    config.region = args.region;
    config.account_id = args.account_id;
    config.storage.durability = args.durability;
    config.storage.backend = args.backend;
    config.shard_quotas = args.shard_quotas;
    let credentials = args.credentials;
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
    let engine = Engine::open(RealFs::shared(), config)
        .map_err(|error| format!("cannot open {}: {error}", args.data_dir.display()))?;
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
            backend = args.backend.name(),
            "shardlog serving the Kinesis API"
        );
        let server_config = ServerConfig {
            credentials: credentials.into_iter().collect(),
            tls,
            ..ServerConfig::default()
        };
        if server_config.credentials.is_empty() {
            tracing::warn!("no credentials configured: requests are not authenticated (any Authorization header, or none, is accepted)");
        } else {
            tracing::info!(keys = server_config.credentials.len(), "requests must carry a valid AWS Signature V4");
        }
        println!("listening on {scheme}://{address}");
        serve(engine.clone(), listener, server_config, shutdown_signal())
            .await
            .map_err(|error| format!("server failed: {error}"))
    });
    // Sync everything acknowledged before exiting, whatever the server did.
    let closed = engine
        .shutdown()
        .map_err(|error| format!("shutdown: {error}"));
    served.and(closed)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => run_serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

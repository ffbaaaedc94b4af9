//! The subcommands other than `serve`: stream and queue administration, put, tail,
//! replay, inspect, verify, repair and completions.
//!
//! Commands that speak the Kinesis API (`stream`, `put`, `tail`) work either on a
//! data directory offline (`--data-dir`, the engine opened in this process under the
//! directory's LOCK) or against a server (`--url`); both paths send the same JSON
//! requests, so they behave the same. `replay` and `repair` work on a data
//! directory only and take its LOCK; `inspect` and `verify` only read files, see
//! [`scan`].

pub mod inspect;
pub mod output;
pub mod put;
pub mod queue;
pub mod queue_messages;
pub mod queue_scan;
pub mod repair;
pub mod replay;
pub mod scan;
pub mod stream;
pub mod tail;
pub mod topic_scan;
pub mod verify;

use crate::client::{Client, ClientError};
use output::{CliError, CliResult};
use shardlog_engine::{Engine, EngineConfig};
use shardlog_segment::io::RealFs;
use std::path::{Path, PathBuf};

/// Where a Kinesis-speaking command works: a data directory or a server.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Work on this data directory offline (the server must not be running on it).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Work against the shardlog (or Kinesis-compatible, unauthenticated) server at this URL,
    /// e.g. http://127.0.0.1:4567. Default: $SHARDLOG_URL, unless --data-dir is given.
    #[arg(long, global = true)]
    pub url: Option<String>,
}

/// The Kinesis API, answered by an engine in this process or by a server.
pub enum Api {
    /// A data directory opened in this process, locked while it is open.
    Local(Offline),
    /// A server.
    Remote(Client),
}

impl Api {
    /// Opens the target: the data directory (taking its lock; with `create`, a
    /// missing one is created) or a client of the URL.
    pub fn open(target: &Target, create: bool) -> CliResult<Api> {
        // The environment's URL applies only when no data directory is named.
        let from_env = std::env::var("SHARDLOG_URL")
            .ok()
            .filter(|url| !url.is_empty());
        let url = target
            .url
            .clone()
            .or(from_env.filter(|_| target.data_dir.is_none()));
        match (&target.data_dir, &url) {
            (Some(dir), None) => Ok(Api::Local(Offline::open(dir, create, IN_USE_HINT_API)?)),
            (None, Some(url)) => Ok(Api::Remote(
                Client::new(url).map_err(|error| CliError::usage(error.to_string()))?,
            )),
            (Some(_), Some(_)) => Err(CliError::usage("give --data-dir or --url, not both")),
            (None, None) => Err(CliError::usage(
                "say where to work: --data-dir DIR (offline) or --url URL (a running server, or SHARDLOG_URL)",
            )),
        }
    }

    /// Calls one Kinesis action with a JSON request; the JSON response.
    pub fn call(
        &self,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        match self {
            Api::Remote(client) => client.call(action, body),
            Api::Local(offline) => {
                let request = body.to_string();
                let response = shardlog_server::call_json(
                    &offline.engine,
                    &offline.identity,
                    action,
                    request.as_bytes(),
                )
                .map_err(|error| ClientError::Service {
                    code: error.code.to_string(),
                    message: error.message,
                    status: error.status,
                })?;
                serde_json::from_slice(&response)
                    .map_err(|error| ClientError::Decode(error.to_string()))
            }
        }
    }

    /// Whether this is a data directory (where nothing else can write meanwhile).
    pub fn is_offline(&self) -> bool {
        matches!(self, Api::Local(_))
    }

    /// Closes the data directory cleanly (everything synced), if one is open.
    pub fn close(self) -> CliResult {
        match self {
            Api::Local(offline) => offline.close(),
            Api::Remote(_) => Ok(()),
        }
    }
}

/// What to do about a data directory a server holds, for the commands that can
/// also work through the server.
pub const IN_USE_HINT_API: &str = "stop the server first, or use --url to work through it";

/// An engine opened on a data directory by this process, holding its LOCK.
pub struct Offline {
    /// The engine.
    pub engine: Engine,
    /// Who the offline answers are worded as: the server's default region and
    /// account (offline commands take no `--region`).
    pub identity: shardlog_server::Identity,
    _lock: std::fs::File,
}

impl Offline {
    /// Locks `dir` and opens the engine on it (running recovery). With `create`,
    /// a missing directory is created; without, it is an error. `in_use_hint`
    /// follows the message when another process holds the directory: what this
    /// command can do about it.
    pub fn open(dir: &Path, create: bool, in_use_hint: &str) -> CliResult<Offline> {
        if !create {
            check_data_dir(dir)?;
        }
        let lock = crate::lock_data_dir(dir)
            .map_err(|message| CliError::failed(format!("{message}; {in_use_hint}")))?;
        let mut config = EngineConfig::new(dir);
        // No retention or compaction thread: an offline command must not delete
        // data behind the reader's back.
        config.retention_check_interval_ms = 0;
        let engine = Engine::open(RealFs::shared(), config)
            .map_err(|error| CliError::failed(format!("cannot open {}: {error}", dir.display())))?;
        Ok(Offline {
            engine,
            identity: shardlog_server::Identity::default(),
            _lock: lock,
        })
    }

    /// Syncs and closes the engine, then releases the lock.
    pub fn close(self) -> CliResult {
        self.engine
            .shutdown()
            .map_err(|error| CliError::failed(format!("closing the data directory: {error}")))
    }
}

/// Fails unless `dir` is a shardlog data directory: one an engine has opened
/// (it holds ITERATOR_KEY, and MANIFEST once a stream was created).
pub fn check_data_dir(dir: &Path) -> CliResult {
    if dir.join("MANIFEST").exists() || dir.join("ITERATOR_KEY").exists() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{} is not a shardlog data directory (no MANIFEST or ITERATOR_KEY)",
        dir.display()
    )))
}

/// A string field of a JSON response, or a decode error naming it.
pub fn json_str<'a>(value: &'a serde_json::Value, name: &str) -> CliResult<&'a str> {
    value.get(name).and_then(|v| v.as_str()).ok_or_else(|| {
        CliError::failed(format!(
            "the response has no string field '{name}': {value}"
        ))
    })
}

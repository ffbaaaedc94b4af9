//! `shardlog repair`: truncate torn tails and rebuild indexes, offline, through
//! the same recovery that runs when a data directory is opened.

use super::output::{print_json, CliError, CliResult, EXIT_DAMAGE};
use super::scan::{shard_dirs, Damage};
use serde_json::json;
use shardlog_engine::EngineConfig;
use shardlog_segment::io::RealFs;
use shardlog_segment::Storage;
use std::path::PathBuf;

/// Truncate torn tails and rebuild indexes of an offline data directory.
#[derive(clap::Args, Debug)]
pub struct RepairArgs {
    /// The data directory (the server must not be running on it).
    #[arg(long)]
    data_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Repair even damage before the end of a shard's last segment, cutting the
    /// (acknowledged) records after it. Without it, repair refuses.
    #[arg(long)]
    force: bool,
}

/// Runs `shardlog repair`.
pub fn run(args: RepairArgs) -> CliResult {
    let shards = shard_dirs(&args.data_dir).map_err(CliError::failed)?;
    let _lock = crate::lock_data_dir(&args.data_dir)
        .map_err(|message| CliError::failed(format!("{message}; stop the server first")))?;
    let unrepairable: Vec<Damage> = super::verify::check(&args.data_dir)?
        .damage
        .into_iter()
        .filter(|damage| !damage.repairable)
        .collect();
    if !unrepairable.is_empty() && !args.force {
        for damage in &unrepairable {
            println!(
                "NOT REPAIRED {}: offset {}: {}",
                damage.path.display(),
                damage.offset,
                damage.problem
            );
        }
        return Err(CliError {
            exit: EXIT_DAMAGE,
            message: format!(
                "{} damaged structures are not a torn tail or an index: repairing them would drop acknowledged records (restore them from a copy, or repair --force to cut them)",
                unrepairable.len()
            ),
        });
    }
    let config = EngineConfig::new(&args.data_dir);
    let mut log_config = config.log;
    // As the engine opens logs, so that recovery sees the same limits.
    log_config.record_bytes_max = 10 << 20;
    let storage = Storage::open(RealFs::shared(), config.storage)
        .map_err(|error| CliError::failed(format!("cannot open storage: {error}")))?;
    let mut actions = Vec::new();
    let mut failures = Vec::new();
    for shard in &shards {
        match storage.open_log(&shard.path, log_config) {
            Ok((log, report)) => {
                drop(log);
                let mut done = Vec::new();
                if report.truncated_bytes > 0 {
                    done.push(format!(
                        "dropped {} bytes ({} batches, unacknowledged or torn) from the end",
                        report.truncated_bytes, report.dropped_batches
                    ));
                }
                done.extend(
                    report
                        .rebuilt_indexes
                        .iter()
                        .map(|p| format!("rebuilt {}", p.display())),
                );
                done.extend(
                    report
                        .removed_files
                        .iter()
                        .map(|p| format!("removed {}", p.display())),
                );
                for action in done {
                    actions.push(
                        json!({"stream": shard.stream, "shard": shard.shard, "action": action}),
                    );
                }
            }
            Err(error) => failures.push(json!({
                "stream": shard.stream,
                "shard": shard.shard,
                "error": error.to_string(),
            })),
        }
    }
    storage
        .shutdown()
        .map_err(|error| CliError::failed(format!("closing storage: {error}")))?;
    if args.json {
        print_json(&json!({"repaired": actions, "unrepairable": failures}))?;
    } else {
        for action in &actions {
            println!(
                "{} {}: {}",
                action["stream"].as_str().unwrap_or(""),
                action["shard"].as_str().unwrap_or(""),
                action["action"].as_str().unwrap_or("")
            );
        }
        for failure in &failures {
            println!(
                "CANNOT REPAIR {} {}: {}",
                failure["stream"].as_str().unwrap_or(""),
                failure["shard"].as_str().unwrap_or(""),
                failure["error"].as_str().unwrap_or("")
            );
        }
        if actions.is_empty() && failures.is_empty() {
            println!("{} shards checked: nothing to repair", shards.len());
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError {
            exit: EXIT_DAMAGE,
            message: format!(
                "{} shards have damage before their tail, which repair does not cut (it would drop acknowledged records)",
                failures.len()
            ),
        })
    }
}

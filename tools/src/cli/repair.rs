//! `shardlog repair`: truncate torn tails and rebuild indexes, offline, through
//! the same recovery that runs when a data directory is opened.

use super::output::{print_json, CliError, CliResult, EXIT_DAMAGE};
use super::scan::{shard_dirs, Damage, ShardDir};
use super::verify::{check, damage_json, print_damage};
use serde_json::{json, Value};
use shardlog_engine::EngineConfig;
use shardlog_segment::io::RealFs;
use shardlog_segment::Storage;
use std::path::{Path, PathBuf};

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
    shard_dirs(&args.data_dir).map_err(CliError::failed)?;
    let _lock = crate::lock_data_dir(&args.data_dir)
        .map_err(|message| CliError::failed(format!("{message}; stop the server first")))?;
    let layout = repair_layout(&args.data_dir)?;
    for line in &layout {
        eprintln!("{line}");
    }
    // Orphans moved aside are no longer shards of this data directory.
    let shards = shard_dirs(&args.data_dir).map_err(CliError::failed)?;
    if !args.force {
        let unrepairable: Vec<Damage> = check(&args.data_dir)?
            .damage
            .into_iter()
            .filter(|damage| !damage.repairable)
            .collect();
        if !unrepairable.is_empty() {
            if args.json {
                print_json(&json!({"not_repaired": damage_json(&unrepairable)}))?;
            } else {
                print_damage("NOT REPAIRED", &unrepairable)?;
            }
            return Err(damage_error(format!(
                "{} damaged structures are not a torn tail or an index: repairing them would drop acknowledged records (restore them from a copy, or repair --force to cut them)",
                unrepairable.len()
            )));
        }
    }
    let (actions, failures) = recover_all(&args.data_dir, &shards)?;
    // Recovery trusts a sealed segment through its sealed index: check everything
    // again so that damage it does not look at is reported, not hidden.
    let remaining = check(&args.data_dir)?.damage;
    if args.json {
        print_json(&json!({
            "repaired": actions,
            "unrepairable": failures,
            "remaining": damage_json(&remaining),
        }))?;
    } else {
        print_report(&actions, &failures, shards.len())?;
        print_damage("STILL DAMAGED", &remaining)?;
    }
    if !failures.is_empty() {
        return Err(damage_error(format!(
            "{} shards have damage recovery cannot cut without losing acknowledged records",
            failures.len()
        )));
    }
    if !remaining.is_empty() {
        return Err(damage_error(format!(
            "{} damaged structures remain after repair (restore them from a copy)",
            remaining.len()
        )));
    }
    Ok(())
}

fn damage_error(message: String) -> CliError {
    CliError {
        exit: EXIT_DAMAGE,
        message,
    }
}

fn print_report(actions: &[Value], failures: &[Value], shards: usize) -> CliResult {
    let field = |value: &Value, name: &str| value[name].as_str().unwrap_or("").to_string();
    for action in actions {
        let (stream, shard) = (field(action, "stream"), field(action, "shard"));
        crate::outln!("{stream} {shard}: {}", field(action, "action"))?;
    }
    for failure in failures {
        let (stream, shard) = (field(failure, "stream"), field(failure, "shard"));
        crate::outln!(
            "CANNOT REPAIR {stream} {shard}: {}",
            field(failure, "error")
        )?;
    }
    if actions.is_empty() && failures.is_empty() {
        crate::outln!("{shards} shards checked: nothing to repair")?;
    }
    Ok(())
}

/// Opens every shard's log, which runs recovery; what it did, and the shards it
/// could not open.
/// Rebuilds a MANIFEST that is missing beside stream data (from the shards' SHARD
/// files) and moves stream directories the MANIFEST does not name into
/// `<data-dir>/orphans/`. Returns what it did, a line each.
fn repair_layout(data_dir: &Path) -> CliResult<Vec<String>> {
    let fs = RealFs::shared();
    let mut done = Vec::new();
    if let Err(error) = shardlog_engine::manifest::load_data_dir(fs.as_ref(), data_dir) {
        if error.kind() == std::io::ErrorKind::InvalidData {
            // Rebuilding would lose retention, tags and consumers: the operator decides.
            return Err(CliError {
                exit: super::output::EXIT_DAMAGE,
                message: format!(
                    "the MANIFEST is damaged, repair leaves it alone: {error}\n\
                     hint: restore it from a backup, or move it aside and run repair again \
                     to rebuild it from the shards' SHARD files (retention, tags and \
                     consumers go back to their defaults)"
                ),
            });
        }
        if error.kind() != std::io::ErrorKind::NotFound {
            return Err(CliError::failed(format!(
                "cannot read the MANIFEST: {error}"
            )));
        }
        let (manifest, report) = shardlog_engine::layout::rebuild_manifest(fs.as_ref(), data_dir)
            .map_err(|error| {
            CliError::failed(format!("cannot rebuild the MANIFEST: {error}"))
        })?;
        shardlog_engine::manifest::store(fs.as_ref(), &data_dir.join("MANIFEST"), &manifest)
            .map_err(|error| CliError::failed(format!("cannot write the MANIFEST: {error}")))?;
        for (stream, shards) in &report.streams {
            done.push(format!(
                "rebuilt MANIFEST entry for stream {stream} ({shards} shards; retention, tags and consumers are back at their defaults)"
            ));
        }
        for (dir, why) in &report.skipped {
            done.push(format!("could not rebuild {}: {why}", dir.display()));
        }
    }
    let manifest = shardlog_engine::manifest::load_data_dir(fs.as_ref(), data_dir)
        .map_err(|error| CliError::failed(format!("cannot read the MANIFEST: {error}")))?;
    for orphan in shardlog_engine::layout::orphans(fs.as_ref(), data_dir, &manifest) {
        let relative = orphan
            .strip_prefix(data_dir.join("streams"))
            .unwrap_or(&orphan)
            .to_path_buf();
        let target = data_dir.join("orphans").join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| CliError::failed(format!("{}: {error}", parent.display())))?;
        }
        std::fs::rename(&orphan, &target)
            .map_err(|error| CliError::failed(format!("{}: {error}", orphan.display())))?;
        done.push(format!(
            "moved {} (not in the MANIFEST) to {}",
            orphan.display(),
            target.display()
        ));
    }
    Ok(done)
}

fn recover_all(data_dir: &Path, shards: &[ShardDir]) -> CliResult<(Vec<Value>, Vec<Value>)> {
    let config = EngineConfig::new(data_dir);
    let mut log_config = config.log;
    // As the engine opens logs, so that recovery sees the same limits.
    log_config.record_bytes_max = 10 << 20;
    let storage = Storage::open_in(RealFs::shared(), config.storage, data_dir)
        .map_err(|error| CliError::failed(format!("cannot open storage: {error}")))?;
    let (mut actions, mut failures) = (Vec::new(), Vec::new());
    for shard in shards {
        let report = match storage.open_log(&shard.path, log_config) {
            Ok((_log, report)) => report,
            Err(error) => {
                let error = error.to_string();
                failures
                    .push(json!({"stream": shard.stream, "shard": shard.shard, "error": error}));
                continue;
            }
        };
        let mut done = Vec::new();
        if report.truncated_bytes > 0 {
            done.push(format!(
                "dropped {} bytes ({} batches, unacknowledged or torn) from the end",
                report.truncated_bytes, report.dropped_batches
            ));
        }
        let paths = report.rebuilt_indexes.iter().map(|p| ("rebuilt", p));
        let removed = report.removed_files.iter().map(|p| ("removed", p));
        done.extend(
            paths
                .chain(removed)
                .map(|(verb, p)| format!("{verb} {}", p.display())),
        );
        for action in done {
            actions.push(json!({"stream": shard.stream, "shard": shard.shard, "action": action}));
        }
    }
    storage
        .shutdown()
        .map_err(|error| CliError::failed(format!("closing storage: {error}")))?;
    Ok((actions, failures))
}

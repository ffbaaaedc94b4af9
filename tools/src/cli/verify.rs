//! `shardlog verify`: every checksum and index of a data directory, and the cuts
//! recovery recorded (`TRUNCATIONS`), so that what an open dropped stays visible.

use super::output::{print_json, CliError, CliResult, EXIT_DAMAGE};
use super::scan::{scan_shard, shard_dirs, Damage};
use serde_json::json;
use shardlog_segment::io::RealFs;
use shardlog_segment::truncations::RecordedTruncation;
use std::path::{Path, PathBuf};

/// Check every checksum and index; exit 3 on damage.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The data directory.
    #[arg(long)]
    data_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Takes the data directory's LOCK if no process holds it (`None` if a server
/// does: the scan then reads alongside it, see [`super::scan`]).
pub fn lock_if_free(dir: &Path) -> CliResult<Option<std::fs::File>> {
    super::check_data_dir(dir)?;
    match crate::lock_data_dir(dir) {
        Ok(lock) => Ok(Some(lock)),
        Err(message) if message.contains("in use") => {
            eprintln!("note: {message}; reading alongside it (an append in flight may show as a torn tail)");
            Ok(None)
        }
        Err(message) => Err(CliError::failed(message)),
    }
}

/// What a verification found.
pub struct Findings {
    /// Segments checked.
    pub segments: usize,
    /// Batches verified.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Problems.
    pub damage: Vec<Damage>,
    /// Cuts recovery made at earlier opens, by shard directory, oldest first.
    pub truncations: Vec<(PathBuf, RecordedTruncation)>,
    /// Truncation records that could not be read (they only report: no damage).
    pub notes: Vec<String>,
}

/// Verifies every shard, every queue (message and state logs, and that the
/// state log replays) and every topic (its log and delivery positions) of a
/// data directory.
pub fn check(data_dir: &Path) -> CliResult<Findings> {
    let mut findings = Findings {
        segments: 0,
        batches: 0,
        records: 0,
        damage: Vec::new(),
        truncations: Vec::new(),
        notes: Vec::new(),
    };
    findings.damage.extend(check_manifest(data_dir));
    for shard in shard_dirs(data_dir).map_err(CliError::failed)? {
        match shardlog_segment::truncations::load(RealFs::shared().as_ref(), &shard.path) {
            Ok(cuts) => findings
                .truncations
                .extend(cuts.into_iter().map(|cut| (shard.path.clone(), cut))),
            Err(error) => findings.notes.push(error.to_string()),
        }
        for scan in scan_shard(&shard.path).map_err(CliError::failed)? {
            findings.add(scan);
        }
    }
    let (queues, damage, notes) = super::queue_scan::scan_queues(data_dir);
    findings.damage.extend(damage);
    findings.notes.extend(notes);
    for queue in queues {
        findings.damage.extend(queue.damage);
        for scan in queue.messages.into_iter().chain(queue.state) {
            findings.add(scan);
        }
    }
    let (topics, damage, notes) = super::topic_scan::scan_topics(data_dir);
    findings.damage.extend(damage);
    findings.notes.extend(notes);
    for topic in topics {
        findings.damage.extend(topic.damage);
        for scan in topic.segments {
            findings.add(scan);
        }
    }
    Ok(findings)
}

impl Findings {
    /// Counts a scanned segment and keeps its damage.
    fn add(&mut self, scan: super::scan::SegmentScan) {
        self.segments += 1;
        self.batches += scan.batches;
        self.records += scan.records;
        self.damage.extend(scan.damage);
    }
}

/// The MANIFEST must load (checksum, format) and every shard it lists must have
/// its directory.
fn check_manifest(data_dir: &Path) -> Vec<Damage> {
    let path = data_dir.join("MANIFEST");
    let damage = |path: PathBuf, problem: String| Damage {
        path,
        offset: 0,
        problem,
        repairable: false,
    };
    // A missing MANIFEST is an empty data directory only when no stream data is there.
    let manifest =
        match shardlog_engine::manifest::load_data_dir(RealFs::shared().as_ref(), data_dir) {
            Ok(manifest) => manifest,
            Err(error) => return vec![damage(path, error.to_string())],
        };
    let mut found = Vec::new();
    for stream in manifest.streams.values() {
        for shard in stream.shards.values() {
            let dir = data_dir
                .join("streams")
                .join(&stream.name)
                .join(stream.created_ms.to_string())
                .join(shardlog_engine::ShardId(shard.index).to_string());
            if !dir.is_dir() {
                let problem = format!(
                    "the MANIFEST lists shard {} of stream {}, whose directory is missing",
                    shard.index, stream.name
                );
                found.push(damage(dir, problem));
            }
        }
    }
    found
}

/// Damage as JSON objects: file, offset, problem, repairable.
pub fn damage_json(damage: &[Damage]) -> Vec<serde_json::Value> {
    damage
        .iter()
        .map(|d| {
            json!({
                "file": d.path.display().to_string(),
                "offset": d.offset,
                "problem": d.problem,
                "repairable": d.repairable,
            })
        })
        .collect()
}

/// Prints each problem as `<label> <file>: offset <n>: <problem>`.
pub fn print_damage(label: &str, damage: &[Damage]) -> CliResult {
    for d in damage {
        crate::outln!(
            "{label} {}: offset {}: {}",
            d.path.display(),
            d.offset,
            d.problem
        )?;
    }
    Ok(())
}

/// Recorded cuts as JSON objects: file, offset, bytes, batches, at_ms.
fn truncations_json(truncations: &[(PathBuf, RecordedTruncation)]) -> Vec<serde_json::Value> {
    truncations
        .iter()
        .map(|(dir, cut)| {
            json!({
                "file": dir.join(&cut.segment).display().to_string(),
                "offset": cut.offset,
                "bytes": cut.bytes,
                "batches": cut.batches,
                "at_ms": cut.at_ms,
            })
        })
        .collect()
}

/// Prints each recorded cut as `CUT <file>: offset <n>: <bytes> bytes (<batches>
/// batches) cut by recovery at <ms> ms`, and unreadable records as `NOTE` lines.
fn print_truncations(findings: &Findings) -> CliResult {
    for (dir, cut) in &findings.truncations {
        crate::outln!(
            "CUT {}: offset {}: {} bytes ({} batches) cut by recovery at {} ms since the epoch",
            dir.join(&cut.segment).display(),
            cut.offset,
            cut.bytes,
            cut.batches,
            cut.at_ms
        )?;
    }
    for note in &findings.notes {
        crate::outln!("NOTE {note}")?;
    }
    Ok(())
}

/// Runs `shardlog verify`.
pub fn run(args: VerifyArgs) -> CliResult {
    let _lock = lock_if_free(&args.data_dir)?;
    let findings = check(&args.data_dir)?;
    if args.json {
        let damage = damage_json(&findings.damage);
        print_json(&json!({
            "ok": findings.damage.is_empty(),
            "segments": findings.segments,
            "batches": findings.batches,
            "records": findings.records,
            "damage": damage,
            "truncations": truncations_json(&findings.truncations),
            "notes": findings.notes,
        }))?;
    } else {
        print_damage("DAMAGE", &findings.damage)?;
        print_truncations(&findings)?;
        crate::outln!(
            "{} segments, {} batches, {} records checked: {}",
            findings.segments,
            findings.batches,
            findings.records,
            if findings.damage.is_empty() {
                "ok".to_string()
            } else {
                format!("{} problems", findings.damage.len())
            }
        )?;
    }
    if findings.damage.is_empty() {
        Ok(())
    } else {
        Err(CliError {
            exit: EXIT_DAMAGE,
            message: format!(
                "{} damaged structures in {}",
                findings.damage.len(),
                args.data_dir.display()
            ),
        })
    }
}

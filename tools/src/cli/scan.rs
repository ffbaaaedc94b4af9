//! Read-only scans of a data directory's files, shared by `inspect` and `verify`.
//!
//! Every segment is read whole and every batch verified (magic, length, checksum,
//! record layout, position order, arrival-time order); each index entry must point
//! at the batch it names, and a sealed segment's indexes must carry a seal that
//! matches the segment. Nothing is written.
//!
//! Locking: these scans only read. Without a server they take the data
//! directory's LOCK for their duration, so that no server starts and runs recovery
//! (which may truncate the file being read) meanwhile. With a server running they
//! still work: sealed segments never change and the active segment only grows; an
//! append in flight may then show up as a torn tail, which the caller reports as such.

use shardlog_index::{Entry, IndexKind, IndexView, ENTRY_LEN, HEADER_LEN};
use shardlog_segment::batch::{read_header, BatchHeader};
use shardlog_segment::format::{
    parse_segment_file_name, segment_file_name, SegmentHeader, SEGMENT_HEADER_LEN,
};
use shardlog_segment::BatchView;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One problem found, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The damaged file.
    pub path: PathBuf,
    /// Byte offset in it of the damaged structure.
    pub offset: u64,
    /// What is wrong.
    pub problem: String,
    /// Whether `repair` fixes it without dropping acknowledged records: a torn
    /// tail of a shard's last segment, or an index (derived data).
    pub repairable: bool,
}

impl Damage {
    /// A problem with a file as a whole (missing, unreadable, not parsing),
    /// which `repair` does not fix.
    pub fn of_file(path: PathBuf, problem: String) -> Damage {
        Damage {
            path,
            offset: 0,
            problem,
            repairable: false,
        }
    }
}

/// What a scan of one segment and its indexes found.
#[derive(Debug, Clone, Default)]
pub struct SegmentScan {
    /// The `.log` file.
    pub path: PathBuf,
    /// Position of its first record (from its name).
    pub base_position: u64,
    /// Position after its last valid record.
    pub end_position: u64,
    /// Size of the `.log` file, bytes.
    pub file_bytes: u64,
    /// Bytes of valid batches (after the header).
    pub batch_bytes: u64,
    /// Valid batches.
    pub batches: u64,
    /// Records in them.
    pub records: u64,
    /// Arrival time of the first and last record, ms.
    pub arrival_ms: Option<(u64, u64)>,
    /// Creation time from the header, ms.
    pub created_ms: Option<u64>,
    /// Whether key compaction rewrote it.
    pub compacted: bool,
    /// Entries of the `.idx` and `.tix` files.
    pub index_entries: (usize, usize),
    /// Whether the indexes are sealed (the segment is complete).
    pub sealed: bool,
    /// Problems found.
    pub damage: Vec<Damage>,
}

/// A shard's directory: `streams/<stream>/<generation>/<shard-id>`.
#[derive(Debug, Clone)]
pub struct ShardDir {
    /// Stream name.
    pub stream: String,
    /// Shard id.
    pub shard: String,
    /// The directory.
    pub path: PathBuf,
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    Ok(paths)
}

/// Every shard directory under `data_dir`, sorted.
pub fn shard_dirs(data_dir: &Path) -> Result<Vec<ShardDir>, String> {
    let streams_dir = data_dir.join("streams");
    super::check_data_dir(data_dir).map_err(|error| error.message)?;
    let list = |dir: &Path| {
        sorted_entries(dir).map_err(|error| format!("cannot list {}: {error}", dir.display()))
    };
    let mut shards = Vec::new();
    if !streams_dir.exists() {
        return Ok(shards);
    }
    for stream in list(&streams_dir)?.into_iter().filter(|p| p.is_dir()) {
        for generation in list(&stream)?.into_iter().filter(|p| p.is_dir()) {
            for shard in list(&generation)?.into_iter().filter(|p| p.is_dir()) {
                shards.push(ShardDir {
                    stream: name_of(&stream),
                    shard: name_of(&shard),
                    path: shard,
                });
            }
        }
    }
    Ok(shards)
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Base positions of the segments in a shard directory, in order.
pub fn segment_bases(dir: &Path) -> Result<Vec<u64>, String> {
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot list {}: {error}", dir.display()))?
        .flatten()
        .filter_map(|entry| parse_segment_file_name(&entry.file_name().to_string_lossy(), "log"))
        .collect();
    bases.sort_unstable();
    Ok(bases)
}

/// Scans every segment of a shard, checking that each starts where the last ended.
pub fn scan_shard(dir: &Path) -> Result<Vec<SegmentScan>, String> {
    let bases = segment_bases(dir)?;
    let mut scans: Vec<SegmentScan> = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let mut scan = scan_segment(
            &dir.join(segment_file_name(*base, "log")),
            i + 1 == bases.len(),
        );
        if let Some(previous) = scans.last() {
            if previous.end_position != *base && previous.damage.is_empty() {
                scan.damage.push(Damage {
                    path: scan.path.clone(),
                    offset: 0,
                    repairable: false,
                    problem: format!(
                        "segment starts at position {base}, the previous one ends at {}",
                        previous.end_position
                    ),
                });
            }
        }
        scans.push(scan);
    }
    Ok(scans)
}

/// Scans one segment file and its indexes. `last`: it is the shard's active
/// segment, whose indexes need no seal.
pub fn scan_segment(path: &Path, last: bool) -> SegmentScan {
    let name = name_of(path);
    let base = parse_segment_file_name(&name, "log").unwrap_or(0);
    let mut scan = SegmentScan {
        path: path.to_path_buf(),
        base_position: base,
        end_position: base,
        ..SegmentScan::default()
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            scan.damage(0, format!("cannot read: {error}"));
            return scan;
        }
    };
    scan.file_bytes = bytes.len() as u64;
    let header = match SegmentHeader::decode(&bytes) {
        Ok(header) => header,
        Err(corruption) => {
            scan.damage(0, format!("segment header: {corruption}"));
            return scan;
        }
    };
    if header.base_position != base {
        let problem = format!(
            "header says position {}, the name {base}",
            header.base_position
        );
        scan.damage(0, problem);
    }
    scan.created_ms = Some(header.created_ms);
    scan.compacted = header.compacted_end.is_some();
    // In the last segment, a batch at or before the last index entry was synced
    // (entries are written only after their batch is): damage there is no torn tail.
    let synced_to = last_index_offset(&scan.path, base);
    let batches = scan_batches(&mut scan, &bytes, last, synced_to);
    if let Some(end) = header.compacted_end {
        scan.end_position = scan.end_position.max(end);
    }
    check_index(&mut scan, IndexKind::Position, &batches, last);
    check_index(&mut scan, IndexKind::Timestamp, &batches, last);
    scan
}

impl SegmentScan {
    fn damage(&mut self, offset: u64, problem: String) {
        self.damage.push(Damage {
            path: self.path.clone(),
            offset,
            problem,
            repairable: false,
        });
    }

    /// Damage in an index file, which repair rebuilds from the log.
    fn damage_in(&mut self, path: PathBuf, offset: u64, problem: String) {
        self.damage.push(Damage {
            path,
            offset,
            problem,
            repairable: true,
        });
    }
}

/// Verifies the batches; their headers by byte offset.
fn scan_batches(
    scan: &mut SegmentScan,
    bytes: &[u8],
    last: bool,
    synced_to: Option<u64>,
) -> HashMap<u64, BatchHeader> {
    let mut batches = HashMap::new();
    let mut offset = SEGMENT_HEADER_LEN;
    let mut position = scan.base_position;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let view = match BatchView::parse(rest) {
            Ok(view) => view,
            Err(corruption) => {
                let problem = match read_header(rest) {
                    _ if last && rest.iter().all(|b| *b == 0) => break,
                    Ok(header) => format!(
                        "batch of {} bytes (offsets {offset}..{}, positions {}..{}): {corruption}",
                        header.batch_len,
                        offset + header.batch_len,
                        header.base_position,
                        header.end_position()
                    ),
                    Err(_) => format!("batch: {corruption}"),
                };
                let at_end = read_header(rest).map_or(true, |h| h.batch_len >= rest.len());
                let synced = synced_to.is_some_and(|end| offset as u64 <= end);
                let hint = match (last, at_end && !synced) {
                    (true, true) => "; a torn tail: `shardlog repair` truncates it",
                    (true, false) => "; acknowledged data: `shardlog repair --force` would cut it and all after it",
                    (false, _) => "",
                };
                scan.damage(offset as u64, format!("{problem}{hint}"));
                scan.damage.last_mut().expect("just pushed").repairable = last && at_end && !synced;
                break;
            }
        };
        let header = view.header();
        let in_order =
            header.base_position == position || (scan.compacted && header.base_position > position);
        let backwards = scan
            .arrival_ms
            .is_some_and(|(_, last_ms)| header.first_arrival_ms < last_ms);
        if !in_order || backwards {
            let problem = if in_order {
                "arrival time goes backwards".to_string()
            } else {
                format!(
                    "batch starts at position {}, expected {position}",
                    header.base_position
                )
            };
            scan.damage(offset as u64, problem);
            break;
        }
        let first_ms = scan
            .arrival_ms
            .map_or(header.first_arrival_ms, |(first, _)| first);
        scan.arrival_ms = Some((first_ms, header.last_arrival_ms));
        scan.batches += 1;
        scan.records += u64::from(header.record_count);
        scan.batch_bytes += header.batch_len as u64;
        batches.insert(offset as u64, header);
        position = header.end_position();
        offset += header.batch_len;
    }
    scan.end_position = position;
    batches
}

/// Byte offset of the batch the last valid `.idx` entry names, if any.
fn last_index_offset(log: &Path, base: u64) -> Option<u64> {
    let bytes = std::fs::read(log.with_extension(IndexKind::Position.extension())).ok()?;
    let view = IndexView::parse(&bytes, IndexKind::Position, base).ok()?;
    view.last().map(|entry| entry.value)
}

/// Checks one index file against the batches found.
fn check_index(
    scan: &mut SegmentScan,
    kind: IndexKind,
    batches: &HashMap<u64, BatchHeader>,
    last: bool,
) {
    let path = scan.path.with_extension(kind.extension());
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => {
            scan.damage_in(
                path,
                0,
                format!("cannot read: {error} (`shardlog repair` rebuilds indexes)"),
            );
            return;
        }
    };
    let view = match IndexView::parse(&bytes, kind, scan.base_position) {
        Ok(view) => view,
        Err(error) => {
            scan.damage_in(path, 0, format!("index header: {error}"));
            return;
        }
    };
    let by_position: HashMap<u64, &BatchHeader> =
        batches.values().map(|h| (h.base_position, h)).collect();
    let entry_offset = |i: usize| (HEADER_LEN + i * ENTRY_LEN) as u64;
    for (i, entry) in view.iter().enumerate() {
        let matches = match kind {
            IndexKind::Position => batches
                .get(&entry.value)
                .is_some_and(|h| h.base_position == entry.key),
            IndexKind::Timestamp => by_position
                .get(&entry.value)
                .is_some_and(|h| h.first_arrival_ms == entry.key),
        };
        if !matches {
            let problem = format!(
                "entry {} -> {} names no batch of the segment",
                entry.key, entry.value
            );
            scan.damage_in(path.clone(), entry_offset(i), problem);
            return;
        }
    }
    if view.torn_bytes() > 0 {
        let after = entry_offset(view.len() + usize::from(view.seal().is_some()));
        let problem = format!(
            "{} bytes after the last valid entry fail their checksum or order",
            view.torn_bytes()
        );
        scan.damage_in(path.clone(), after, problem);
    }
    check_seal(scan, kind, &view, path, last);
    match kind {
        IndexKind::Position => scan.index_entries.0 = view.len(),
        IndexKind::Timestamp => scan.index_entries.1 = view.len(),
    }
}

/// The seal of a complete index must match the segment; only the shard's last
/// segment may have none.
fn check_seal(
    scan: &mut SegmentScan,
    kind: IndexKind,
    view: &IndexView<'_>,
    path: PathBuf,
    last: bool,
) {
    let seal_offset = (HEADER_LEN + view.len() * ENTRY_LEN) as u64;
    let expected_seal = match kind {
        IndexKind::Position => Entry {
            key: scan.end_position,
            value: scan.file_bytes,
        },
        IndexKind::Timestamp => Entry {
            key: scan.arrival_ms.map_or(0, |(_, l)| l),
            value: scan.end_position,
        },
    };
    match view.seal() {
        Some(seal) if seal != expected_seal && scan.damage.is_empty() => {
            let problem = format!(
                "seal {} -> {} does not match the segment ({} -> {})",
                seal.key, seal.value, expected_seal.key, expected_seal.value
            );
            scan.damage_in(path, seal_offset, problem);
        }
        Some(_) => scan.sealed = true,
        None if !last => scan.damage_in(
            path,
            seal_offset,
            "a sealed segment's index has no seal".into(),
        ),
        None => {}
    }
}

//! Sealed segments: immutable, memory-mapped, with complete index files; and the
//! batch scan that verifies a segment and rebuilds its indexes.

use crate::batch::{peek_header, BatchView};
use crate::error::{io_err, Corruption, Error, Result};
use crate::format::{segment_file_name, SegmentHeader, SEGMENT_HEADER_LEN};
use crate::io::{write_file_atomic, FileSystem, Mapped};
use crate::verified::VerifiedPrefix;
use shardlog_index::{Entry, IndexKind, IndexView, Sampler};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Touches every page of the segments' index mappings on a background thread, so
/// that the first lookups in a freshly sealed or opened segment do not each pay
/// the page faults; neither the committer nor opening waits for it.
///
/// Only the indexes (a few KiB per MiB of log): touching the log mapping too cost
/// a full read of every segment sealed (1 GiB by default) back from the device when
/// it was written with `O_DIRECT`, and a spinning thread on the CPU for each
/// (issue 16's profile: a quarter of the samples of a one-shard io_uring append).
/// A reader faults in the log pages it reads, with the kernel's readahead.
pub(crate) fn prefault_in_background(segments: Vec<Arc<SealedSegment>>) {
    const PAGE_BYTES: usize = 4096;
    let spawned = std::thread::Builder::new()
        .name("shardlog-prefault".into())
        .spawn(move || {
            let mut touched = 0u8;
            for segment in &segments {
                for map in [&segment.idx, &segment.tix] {
                    for byte in map.bytes().iter().step_by(PAGE_BYTES) {
                        touched ^= *byte;
                    }
                }
            }
            std::hint::black_box(touched);
        });
    // Without the thread, lookups only fault pages in themselves: nothing is lost.
    drop(spawned);
}

/// Facts about one segment, for retention and inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Position of its first record.
    pub base_position: u64,
    /// Position after its last record.
    pub end_position: u64,
    /// Arrival time of its first record (ms), if it has records.
    pub first_arrival_ms: Option<u64>,
    /// Arrival time of its last record (ms), if it has records.
    pub last_arrival_ms: Option<u64>,
    /// Size in bytes (acknowledged bytes for the active segment).
    pub bytes: u64,
    /// Creation time (ms).
    pub created_ms: u64,
    /// Whether it is sealed (immutable).
    pub sealed: bool,
}

/// Paths of a segment's three files.
#[derive(Debug, Clone)]
pub(crate) struct SegmentPaths {
    pub log: PathBuf,
    pub idx: PathBuf,
    pub tix: PathBuf,
}

impl SegmentPaths {
    pub(crate) fn new(dir: &Path, base_position: u64) -> Self {
        SegmentPaths {
            log: dir.join(segment_file_name(base_position, "log")),
            idx: dir.join(segment_file_name(
                base_position,
                IndexKind::Position.extension(),
            )),
            tix: dir.join(segment_file_name(
                base_position,
                IndexKind::Timestamp.extension(),
            )),
        }
    }
}

/// A sealed segment, mapped. Readers hold it through an `Arc`; removing the files
/// (retention) unlinks them and the mapping lives on until the last reader lets go.
#[derive(Debug)]
pub(crate) struct SealedSegment {
    pub paths: SegmentPaths,
    pub info: SegmentInfo,
    pub log: Arc<dyn Mapped>,
    idx: Arc<dyn Mapped>,
    tix: Arc<dyn Mapped>,
    /// What verifying each index found (entries, seal), so that lookups need not
    /// verify it again.
    idx_shape: (usize, Option<Entry>),
    tix_shape: (usize, Option<Entry>),
    /// The batches that this process has verified (see [`crate::verified`]).
    pub verified: VerifiedPrefix,
}

impl SealedSegment {
    /// The verified position index (verified when the segment was opened).
    pub(crate) fn position_index(&self) -> IndexView<'_> {
        IndexView::verified(self.idx.bytes(), self.idx_shape.0, self.idx_shape.1)
    }

    /// The verified timestamp index.
    pub(crate) fn time_index(&self) -> IndexView<'_> {
        IndexView::verified(self.tix.bytes(), self.tix_shape.0, self.tix_shape.1)
    }

    /// Byte offset of the batch holding `position`, or of an earlier batch.
    pub(crate) fn offset_for(&self, position: u64) -> u64 {
        self.position_index()
            .floor(position)
            .map_or(SEGMENT_HEADER_LEN as u64, |entry| entry.value)
    }
}

/// What a scan of batches found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Offset after the last valid batch.
    pub valid_end: u64,
    /// Position after the last valid batch.
    pub end_position: u64,
    pub first_arrival_ms: Option<u64>,
    pub last_arrival_ms: Option<u64>,
    pub batches: u64,
    /// Index entries for the valid batches.
    pub idx: Vec<Entry>,
    pub tix: Vec<Entry>,
    /// Where and why the scan stopped before the end of the bytes.
    pub stopped: Option<(u64, Corruption)>,
}

/// Verifies batches in `bytes` from `offset` on, expecting `position` first,
/// until the bytes end or a batch fails. `sampler` decides index entries.
/// With `allow_gaps` (a compacted segment) a batch may start after the expected
/// position, never before.
pub(crate) fn scan_batches(
    bytes: &[u8],
    mut offset: u64,
    mut position: u64,
    sampler: &mut Sampler,
    allow_gaps: bool,
) -> Scan {
    let mut scan = Scan {
        valid_end: offset,
        end_position: position,
        ..Scan::default()
    };
    while (offset as usize) < bytes.len() {
        let view = match BatchView::parse(&bytes[offset as usize..]) {
            Ok(view) => view,
            Err(corruption) => {
                scan.stopped = Some((offset, corruption));
                break;
            }
        };
        let header = view.header();
        let in_order =
            header.base_position == position || (allow_gaps && header.base_position > position);
        if !in_order {
            let reason = format!(
                "batch starts at position {}, expected {position}",
                header.base_position
            );
            scan.stopped = Some((offset, Corruption::InvalidField { reason }));
            break;
        }
        if scan
            .last_arrival_ms
            .is_some_and(|last| header.first_arrival_ms < last)
        {
            let reason = "arrival time goes backwards".to_string();
            scan.stopped = Some((offset, Corruption::InvalidField { reason }));
            break;
        }
        position = header.base_position;
        if sampler.should_index(offset) {
            scan.idx.push(Entry {
                key: position,
                value: offset,
            });
            scan.tix.push(Entry {
                key: header.first_arrival_ms,
                value: position,
            });
        }
        scan.first_arrival_ms.get_or_insert(header.first_arrival_ms);
        scan.last_arrival_ms = Some(header.last_arrival_ms);
        scan.batches += 1;
        position = header.end_position();
        offset += header.batch_len as u64;
        scan.valid_end = offset;
        scan.end_position = position;
    }
    scan
}

/// Counts the batches in the bytes that a truncation drops (for the report):
/// whole batches with a plausible header, plus one for any other non-zero bytes
/// (a torn batch). Zero bytes alone (`O_DIRECT` fill) count as none.
pub(crate) fn count_dropped_batches(bytes: &[u8], mut offset: usize) -> u64 {
    let mut count = 0;
    while offset < bytes.len() {
        match peek_header(&bytes[offset..]) {
            Ok(header) => {
                count += 1;
                offset += header.batch_len;
            }
            Err(_) => break,
        }
    }
    let rest = bytes.get(offset..).unwrap_or_default();
    count + u64::from(rest.iter().any(|byte| *byte != 0))
}

/// The complete index files of a segment, with their seals.
pub(crate) fn sealed_index_files(
    base_position: u64,
    idx: &[Entry],
    tix: &[Entry],
    end_position: u64,
    log_len: u64,
    last_arrival_ms: u64,
) -> (Vec<u8>, Vec<u8>) {
    let idx_bytes = shardlog_index::encode_file(
        IndexKind::Position,
        base_position,
        idx,
        Some(Entry {
            key: end_position,
            value: log_len,
        }),
    );
    let tix_bytes = shardlog_index::encode_file(
        IndexKind::Timestamp,
        base_position,
        tix,
        Some(Entry {
            key: last_arrival_ms,
            value: end_position,
        }),
    );
    (idx_bytes, tix_bytes)
}

/// Opens a sealed segment: verifies its header, and uses its index files if they
/// are complete and match, else verifies every batch and rebuilds them.
/// Returns the segment and whether its indexes were rebuilt.
pub(crate) fn open_sealed(
    fs: &dyn FileSystem,
    dir: &Path,
    base_position: u64,
    index_interval_bytes: u64,
) -> Result<(SealedSegment, bool)> {
    let paths = SegmentPaths::new(dir, base_position);
    let log = fs.map(&paths.log).map_err(io_err("map", &paths.log))?;
    let header = check_segment_header(log.bytes(), &paths.log, base_position)?;
    let log_len = log.bytes().len() as u64;
    let compacted = header.compacted_end.is_some();
    if let Some((idx, tix, info)) = try_indexes(fs, &paths, base_position, log_len, compacted) {
        let info = SegmentInfo {
            created_ms: header.created_ms,
            ..info
        };
        let segment = assemble(paths, info, log, idx, tix)?;
        return Ok((segment, false));
    }
    let mut sampler = Sampler::new(index_interval_bytes);
    let scan = scan_batches(
        log.bytes(),
        SEGMENT_HEADER_LEN as u64,
        base_position,
        &mut sampler,
        compacted,
    );
    if let Some((offset, corruption)) = scan.stopped {
        return Err(Error::Corrupt {
            path: paths.log.clone(),
            offset,
            corruption,
        });
    }
    let end_position = header.compacted_end.unwrap_or(scan.end_position);
    if scan.end_position > end_position {
        return Err(Error::Corrupt {
            path: paths.log.clone(),
            offset: scan.valid_end,
            corruption: Corruption::InvalidField {
                reason: "compacted segment holds records past its end".into(),
            },
        });
    }
    if scan.batches == 0 && !compacted {
        return Err(Error::Corrupt {
            path: paths.log.clone(),
            offset: SEGMENT_HEADER_LEN as u64,
            corruption: Corruption::InvalidField {
                reason: "a sealed segment holds no batch".into(),
            },
        });
    };
    let (idx_bytes, tix_bytes) = sealed_index_files(
        base_position,
        &scan.idx,
        &scan.tix,
        end_position,
        log_len,
        scan.last_arrival_ms.unwrap_or(0),
    );
    write_file_atomic(fs, &paths.idx, &idx_bytes).map_err(io_err("write index", &paths.idx))?;
    write_file_atomic(fs, &paths.tix, &tix_bytes).map_err(io_err("write index", &paths.tix))?;
    let info = SegmentInfo {
        base_position,
        end_position,
        first_arrival_ms: scan.first_arrival_ms,
        last_arrival_ms: scan.last_arrival_ms,
        bytes: log_len,
        created_ms: header.created_ms,
        sealed: true,
    };
    let segment = map_sealed(fs, paths, info, log)?;
    // The scan verified every batch.
    segment.verified.raise_to(log_len);
    Ok((segment, true))
}

/// Maps the index files of a segment whose log is already mapped.
pub(crate) fn map_sealed(
    fs: &dyn FileSystem,
    paths: SegmentPaths,
    info: SegmentInfo,
    log: Arc<dyn Mapped>,
) -> Result<SealedSegment> {
    let idx = fs.map(&paths.idx).map_err(io_err("map", &paths.idx))?;
    let tix = fs.map(&paths.tix).map_err(io_err("map", &paths.tix))?;
    assemble(paths, info, log, idx, tix)
}

/// A sealed segment from its mapped files, verifying both indexes once.
fn assemble(
    paths: SegmentPaths,
    info: SegmentInfo,
    log: Arc<dyn Mapped>,
    idx: Arc<dyn Mapped>,
    tix: Arc<dyn Mapped>,
) -> Result<SealedSegment> {
    let shape = |bytes: &[u8], kind, path: &Path| {
        IndexView::parse(bytes, kind, info.base_position)
            .map(|view| (view.len(), view.seal()))
            .map_err(|error| Error::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                corruption: Corruption::InvalidField {
                    reason: error.to_string(),
                },
            })
    };
    let idx_shape = shape(idx.bytes(), IndexKind::Position, &paths.idx)?;
    let tix_shape = shape(tix.bytes(), IndexKind::Timestamp, &paths.tix)?;
    Ok(SealedSegment {
        paths,
        info,
        log,
        idx,
        tix,
        idx_shape,
        tix_shape,
        verified: VerifiedPrefix::none(),
    })
}

pub(crate) fn check_segment_header(
    bytes: &[u8],
    path: &Path,
    base_position: u64,
) -> Result<SegmentHeader> {
    let header = SegmentHeader::decode(bytes).map_err(|corruption| Error::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        corruption,
    })?;
    if header.base_position != base_position {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            corruption: Corruption::InvalidField {
                reason: format!(
                    "header says base position {}, the file name {base_position}",
                    header.base_position
                ),
            },
        });
    }
    Ok(header)
}

type MappedIndexes = (Arc<dyn Mapped>, Arc<dyn Mapped>, SegmentInfo);

/// The index files of a sealed segment, if both are present, verify, carry a seal
/// and agree with the log's length.
fn try_indexes(
    fs: &dyn FileSystem,
    paths: &SegmentPaths,
    base_position: u64,
    log_len: u64,
    compacted: bool,
) -> Option<MappedIndexes> {
    let idx = fs.map(&paths.idx).ok()?;
    let tix = fs.map(&paths.tix).ok()?;
    let idx_view = IndexView::parse(idx.bytes(), IndexKind::Position, base_position).ok()?;
    let tix_view = IndexView::parse(tix.bytes(), IndexKind::Timestamp, base_position).ok()?;
    let idx_seal = idx_view.seal()?;
    let tix_seal = tix_view.seal()?;
    let first = idx_view.iter().next();
    let first_time = tix_view.iter().next();
    // A plain segment starts with a batch at its base; a compacted one may have
    // dropped it, or every record.
    let starts_right = match first {
        Some(first) => {
            first.value == SEGMENT_HEADER_LEN as u64 && (compacted || first.key == base_position)
        }
        None => compacted && log_len == SEGMENT_HEADER_LEN as u64,
    };
    let consistent = starts_right
        && first.is_some() == first_time.is_some()
        && idx_seal.value == log_len
        && tix_seal.value == idx_seal.key
        && idx_seal.key > base_position
        && idx_view.torn_bytes() == 0
        && tix_view.torn_bytes() == 0;
    if !consistent {
        return None;
    }
    let info = SegmentInfo {
        base_position,
        end_position: idx_seal.key,
        first_arrival_ms: first_time.map(|entry| entry.key),
        last_arrival_ms: first_time.map(|_| tix_seal.key),
        bytes: log_len,
        created_ms: 0,
        sealed: true,
    };
    Some((idx, tix, info))
}

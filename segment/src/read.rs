//! The read path: acknowledged batches from sealed (mapped) and active segments.

use crate::batch::{peek_header, read_header, BatchView, RecordView};
use crate::chunks::{Chunk, CLASS_MAX, CLASS_MIN, POOL};
use crate::error::Corruption;
use crate::error::{io_err, Error, Result};
use crate::format::{BATCH_HEADER_LEN, SEGMENT_HEADER_LEN};
use crate::io::{read_exact_at, FileHandle, Mapped};
use crate::log::Log;
use crate::sealed::SealedSegment;
use crate::verified::VerifiedPrefix;
use bytes::Bytes;
use bytestring::ByteString;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// Limits of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most records to return (at least 1).
    pub records_max: usize,
    /// Most payload bytes to return; the first record is returned even if larger.
    pub bytes_max: usize,
}

/// Bytes of one verified batch, borrowed from a mapping or owned.
#[derive(Debug, Clone)]
enum BatchBytes {
    Mapped(Arc<dyn Mapped>, Range<usize>),
    Owned(Arc<Chunk>, Range<usize>),
}

impl BatchBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            BatchBytes::Mapped(map, range) => &map.bytes()[range.clone()],
            BatchBytes::Owned(chunk, range) => &chunk.bytes()[range.clone()],
        }
    }

    /// The batch as shared `Bytes`, keeping its mapping or buffer alive.
    fn shared(&self) -> Bytes {
        match self {
            BatchBytes::Mapped(map, range) => {
                Bytes::from_owner(MappedOwner(Arc::clone(map))).slice(range.clone())
            }
            BatchBytes::Owned(chunk, range) => {
                Bytes::from_owner(OwnedChunk(Arc::clone(chunk))).slice(range.clone())
            }
        }
    }
}

struct MappedOwner(Arc<dyn Mapped>);

impl AsRef<[u8]> for MappedOwner {
    fn as_ref(&self) -> &[u8] {
        self.0.bytes()
    }
}

struct OwnedChunk(Arc<Chunk>);

impl AsRef<[u8]> for OwnedChunk {
    fn as_ref(&self) -> &[u8] {
        self.0.bytes()
    }
}

/// A verified batch and which of its records the read returns.
#[derive(Debug, Clone)]
struct ReadBatch {
    bytes: BatchBytes,
    skip: usize,
    take: usize,
}

/// The result of [`Log::read`]: verified records, in position order.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    batches: Vec<ReadBatch>,
    /// Position to read next.
    pub next_position: u64,
    /// Number of records returned.
    pub record_count: usize,
    /// Payload bytes returned.
    pub data_bytes: usize,
}

impl ReadResult {
    /// The records read.
    pub fn records(&self) -> impl Iterator<Item = RecordView<'_>> + '_ {
        self.batches.iter().flat_map(|batch| {
            let view = BatchView::trusted(batch.bytes.bytes());
            view.records_after(batch.skip).take(batch.take)
        })
    }

    /// The records with their payloads and partition keys shared (no copy: each
    /// holds the segment mapping or read buffer it points into).
    pub fn records_with_data(&self) -> impl Iterator<Item = SharedRecord> + '_ {
        self.batches.iter().flat_map(|batch| {
            let whole = batch.bytes.shared();
            let view = BatchView::trusted(batch.bytes.bytes());
            let base = view.bytes().as_ptr() as usize;
            view.records_after(batch.skip)
                .take(batch.take)
                .map(move |record| {
                    let share = |part: &[u8]| {
                        let start = part.as_ptr() as usize - base;
                        whole.slice(start..start + part.len())
                    };
                    let data = share(record.data);
                    let partition_key =
                        ByteString::try_from(share(record.partition_key.as_bytes()))
                            .expect("the bytes of a str are UTF-8");
                    SharedRecord {
                        position: record.position,
                        arrival_ms: record.arrival_ms,
                        data,
                        partition_key,
                    }
                })
        })
    }
}

/// A record of a [`ReadResult`] with its payload and partition key as shared
/// bytes (what a reader hands on; small enough to move without a `memcpy` call,
/// which a copy of the whole [`RecordView`] beside them took).
#[derive(Debug, Clone)]
pub struct SharedRecord {
    /// The record's position in its shard.
    pub position: u64,
    /// Arrival time, ms since the epoch.
    pub arrival_ms: u64,
    /// Its payload.
    pub data: Bytes,
    /// Its partition key.
    pub partition_key: ByteString,
}

/// Most segments one look-up under the log lock captures for a read: the one
/// holding the read's first position and the next, enough for nearly every read;
/// a read that runs past them looks up the next ones.
const SOURCES_PER_LOOKUP: usize = 2;

/// A segment to read from, captured under the log lock.
enum Source {
    Sealed(Arc<SealedSegment>),
    Active {
        path: PathBuf,
        read: Arc<dyn FileHandle>,
        offset: u64,
        acked_len: u64,
        /// Position after the segment's last acknowledged record when captured.
        end_position: u64,
        verified: Arc<VerifiedPrefix>,
    },
}

impl Source {
    /// Position after the segment's last record the read may return.
    fn end_position(&self) -> u64 {
        match self {
            Source::Sealed(segment) => segment.info.end_position,
            Source::Active { end_position, .. } => *end_position,
        }
    }
}

impl Log {
    /// Reads acknowledged records from `from` on, within `limits`.
    ///
    /// Every batch is verified (checksum and structure); a batch that fails is an
    /// error naming the file and offset. A reader keeps the segments it is reading
    /// readable even if retention removes them meanwhile; if retention removes the
    /// segments after them before the reader gets there, the read returns what it
    /// has (or, with nothing yet, that the position is trimmed).
    pub fn read(&self, from: u64, limits: ReadLimits) -> Result<ReadResult> {
        let mut out = ReadResult {
            next_position: from,
            ..ReadResult::default()
        };
        let records_max = limits.records_max.max(1);
        // Where the segments not yet looked at begin: past a compacted segment's
        // last record, `next_position` can stay below its end.
        let mut resume = from;
        loop {
            let sources = match self.sources(resume) {
                Ok(sources) => sources,
                Err(Error::PositionTrimmed { .. }) if out.record_count > 0 => return Ok(out),
                Err(error) => return Err(error),
            };
            let Some(last) = sources.last() else {
                return Ok(out);
            };
            resume = last.end_position();
            for source in sources {
                let done = match source {
                    Source::Sealed(segment) => {
                        read_sealed(&segment, &mut out, records_max, limits)?
                    }
                    Source::Active {
                        path,
                        read,
                        offset,
                        acked_len,
                        verified,
                        ..
                    } => read_active(
                        (&path, read.as_ref(), &verified),
                        offset..acked_len,
                        &mut out,
                        records_max,
                        limits,
                    )?,
                };
                if done {
                    return Ok(out);
                }
            }
        }
    }

    /// The segments a read from `from` starts with: at most [`SOURCES_PER_LOOKUP`],
    /// so that a read near the head of a deep log costs the same as one near its
    /// tail (taking every sealed segment from `from` on made each read, and each
    /// receive of a deep queue, cost time in proportion to the log's length).
    /// Empty when `from` is the acknowledged end.
    fn sources(&self, from: u64) -> Result<Vec<Source>> {
        let state = self.shared.lock();
        if let Some(cause) = &state.quarantined {
            return Err(Error::Quarantined {
                path: self.shared.dir.clone(),
                cause: cause.clone(),
            });
        }
        if from < state.first_position {
            return Err(Error::PositionTrimmed {
                requested: from,
                first: state.first_position,
            });
        }
        if from > state.acked_position {
            return Err(Error::PositionBeyondEnd {
                requested: from,
                end: state.acked_position,
            });
        }
        let mut sources = Vec::with_capacity(SOURCES_PER_LOOKUP);
        if from == state.acked_position {
            return Ok(sources);
        }
        let first_sealed = state
            .sealed
            .partition_point(|segment| segment.info.end_position <= from);
        for segment in state.sealed[first_sealed..].iter().take(SOURCES_PER_LOOKUP) {
            sources.push(Source::Sealed(Arc::clone(segment)));
        }
        if sources.len() == SOURCES_PER_LOOKUP {
            return Ok(sources);
        }
        if let Some(view) = &state.active {
            if view.acked_len > 0 && view.end_position > from {
                let offset = view
                    .index
                    .floor(from)
                    .map_or(SEGMENT_HEADER_LEN as u64, |entry| entry.value);
                sources.push(Source::Active {
                    path: view.paths.log.clone(),
                    read: Arc::clone(&view.read),
                    offset,
                    acked_len: view.acked_len,
                    end_position: view.end_position,
                    verified: Arc::clone(&view.verified),
                });
            }
        }
        Ok(sources)
    }

    /// The first position whose arrival time is at or after `arrival_ms`, or the end
    /// of the log if there is none.
    pub fn position_at_time(&self, arrival_ms: u64) -> Result<u64> {
        let state = self.shared.lock();
        let found = state
            .sealed
            .iter()
            .find(|segment| segment.info.last_arrival_ms.unwrap_or(0) >= arrival_ms);
        match (found, &state.active) {
            (Some(segment), _) => {
                let segment = Arc::clone(segment);
                let first = state.first_position;
                drop(state);
                time_in_sealed(&segment, arrival_ms).map(|p| p.max(first))
            }
            (None, Some(view)) => {
                let start = view
                    .time_index
                    .below(arrival_ms)
                    .map_or(view.base_position, |entry| entry.value);
                let offset = view
                    .index
                    .floor(start)
                    .map_or(SEGMENT_HEADER_LEN as u64, |entry| entry.value);
                let active = ActiveTime {
                    path: view.paths.log.clone(),
                    file: Arc::clone(&view.read),
                    range: offset..view.acked_len,
                    end_position: view.end_position,
                };
                drop(state);
                time_in_active(&active, arrival_ms)
            }
            (None, None) => Ok(state.acked_position),
        }
    }
}

/// What a timestamp search of the active segment needs, taken under the lock.
struct ActiveTime {
    path: PathBuf,
    file: Arc<dyn FileHandle>,
    range: Range<u64>,
    end_position: u64,
}

/// Largest batch buffer a reading thread keeps between timestamp searches of an
/// active segment; a larger batch is read into a buffer of its own.
const TIME_SEARCH_BUFFER_BYTES_MAX: usize = 1 << 20;

thread_local! {
    /// Reused across timestamp searches so that each one does not pay for a
    /// fresh, zeroed allocation (first-touch page faults are costly here).
    static TIME_SEARCH_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// As [`time_in_sealed`], in the acknowledged part of the active segment: batch
/// headers are read one at a time into a stack buffer, and only the batch whose
/// records straddle `arrival_ms` is read whole (into a reused buffer) and verified.
fn time_in_active(active: &ActiveTime, arrival_ms: u64) -> Result<u64> {
    let corrupt = |offset: u64, corruption| Error::Corrupt {
        path: active.path.clone(),
        offset,
        corruption,
    };
    let mut offset = active.range.start;
    while offset + BATCH_HEADER_LEN as u64 <= active.range.end {
        let mut header_bytes = [0u8; BATCH_HEADER_LEN];
        read_exact_at(active.file.as_ref(), &mut header_bytes, offset)
            .map_err(io_err("read", &active.path))?;
        let header = read_header(&header_bytes).map_err(|c| corrupt(offset, c))?;
        if offset + header.batch_len as u64 > active.range.end {
            return Err(corrupt(
                offset,
                Corruption::InvalidField {
                    reason: "batch length runs past the acknowledged end".into(),
                },
            ));
        }
        // Arrival times never decrease: the batch's first record is the answer.
        // The batch is verified when GetRecords reads it.
        if header.first_arrival_ms >= arrival_ms {
            return Ok(header.base_position);
        }
        if header.last_arrival_ms >= arrival_ms {
            if let Some(position) = position_in_batch(active, offset, header.batch_len, arrival_ms)?
            {
                return Ok(position);
            }
        }
        offset += header.batch_len as u64;
    }
    Ok(active.end_position)
}

/// The first position at or after `arrival_ms` among the records of the active
/// segment's batch at `offset`, read into the thread's reused buffer and verified.
fn position_in_batch(
    active: &ActiveTime,
    offset: u64,
    batch_len: usize,
    arrival_ms: u64,
) -> Result<Option<u64>> {
    TIME_SEARCH_BUFFER.with_borrow_mut(|buf| {
        buf.resize(batch_len, 0);
        let found = read_exact_at(active.file.as_ref(), buf, offset)
            .map_err(io_err("read", &active.path))
            .and_then(|()| {
                let view =
                    BatchView::parse_checksummed(buf).map_err(|corruption| Error::Corrupt {
                        path: active.path.clone(),
                        offset,
                        corruption,
                    })?;
                let found = view.records().find(|r| r.arrival_ms >= arrival_ms);
                Ok(found.map(|record| record.position))
            });
        if buf.len() > TIME_SEARCH_BUFFER_BYTES_MAX {
            *buf = Vec::new();
        }
        found
    })
}

/// The first position at or after `arrival_ms` in a sealed segment whose last
/// arrival is at or after it: from the timestamp index, batch headers are walked
/// without reading records until the batch that holds it, the only one verified
/// (a batch that starts at or after `arrival_ms` is verified by the read that
/// follows instead).
fn time_in_sealed(segment: &SealedSegment, arrival_ms: u64) -> Result<u64> {
    let bytes = segment.log.bytes();
    let start = segment
        .time_index()
        .below(arrival_ms)
        .map_or(segment.info.base_position, |entry| entry.value);
    let mut offset = segment.offset_for(start) as usize;
    let corrupt = |offset: usize, corruption| Error::Corrupt {
        path: segment.paths.log.clone(),
        offset: offset as u64,
        corruption,
    };
    while offset < bytes.len() {
        let header = peek_header(&bytes[offset..]).map_err(|c| corrupt(offset, c))?;
        // Arrival times never decrease: the batch's first record is the answer.
        if header.first_arrival_ms >= arrival_ms {
            return Ok(header.base_position);
        }
        if header.last_arrival_ms >= arrival_ms {
            let view =
                BatchView::parse_checksummed(&bytes[offset..]).map_err(|c| corrupt(offset, c))?;
            if let Some(record) = view.records().find(|r| r.arrival_ms >= arrival_ms) {
                return Ok(record.position);
            }
        }
        offset += header.batch_len;
    }
    Ok(segment.info.end_position)
}

/// Adds the records of one verified batch to `out`; returns whether a limit was hit.
fn take_batch(
    out: &mut ReadResult,
    bytes: BatchBytes,
    view: &BatchView<'_>,
    records_max: usize,
    limits: ReadLimits,
) -> bool {
    let header = view.header();
    let skip = out.next_position.saturating_sub(header.base_position) as usize;
    let mut take = 0;
    let mut limited = false;
    for record in view.records_after(skip) {
        let fits_bytes = out.data_bytes + record.data.len() <= limits.bytes_max;
        if out.record_count >= records_max || (!fits_bytes && out.record_count > 0) {
            limited = true;
            break;
        }
        out.record_count += 1;
        out.data_bytes += record.data.len();
        take += 1;
    }
    if take > 0 {
        out.batches.push(ReadBatch { bytes, skip, take });
        // Compacted segments skip positions: continue after the last record taken.
        out.next_position = header.base_position + (skip + take) as u64;
    }
    limited || out.record_count >= records_max
}

fn read_sealed(
    segment: &SealedSegment,
    out: &mut ReadResult,
    records_max: usize,
    limits: ReadLimits,
) -> Result<bool> {
    let bytes = segment.log.bytes();
    let mut offset = segment.offset_for(out.next_position) as usize;
    while offset < bytes.len() {
        let view = parse_batch_at(&bytes[offset..], offset as u64, &segment.verified).map_err(
            |corruption| Error::Corrupt {
                path: segment.paths.log.clone(),
                offset: offset as u64,
                corruption,
            },
        )?;
        let len = view.header().batch_len;
        if view.header().end_position() > out.next_position {
            let batch = BatchBytes::Mapped(Arc::clone(&segment.log), offset..offset + len);
            if take_batch(out, batch, &view, records_max, limits) {
                return Ok(true);
            }
        }
        offset += len;
    }
    Ok(false)
}

/// The batch at the start of `bytes`, which sits at `offset` in its segment: its
/// checksum is verified unless the segment's verified prefix holds it, and a batch
/// verified here extends that prefix (see [`crate::verified`]).
fn parse_batch_at<'a>(
    bytes: &'a [u8],
    offset: u64,
    verified: &VerifiedPrefix,
) -> std::result::Result<BatchView<'a>, Corruption> {
    let range = offset..offset + peek_header(bytes)?.batch_len as u64;
    if verified.covers(range.clone()) {
        return BatchView::parse_previously_verified(bytes);
    }
    let view = BatchView::parse_checksummed(bytes)?;
    verified.extend(range);
    Ok(view)
}

/// Reads acknowledged batches of the active segment with `pread`, a chunk at a
/// time, into recycled buffers (see [`crate::chunks`]).
fn read_active(
    (path, file, verified): (&PathBuf, &dyn FileHandle, &VerifiedPrefix),
    range: Range<u64>,
    out: &mut ReadResult,
    records_max: usize,
    limits: ReadLimits,
) -> Result<bool> {
    // Small first, so that a tail read of one record costs one small pread; then
    // doubling, so that a replay needs few.
    let mut chunk_bytes = CLASS_MIN as u64;
    let mut offset = range.start;
    while offset < range.end {
        // No more than the byte limit still allows, with room for keys and headers.
        let budget = limits.bytes_max.saturating_sub(out.data_bytes) as u64;
        let want = chunk_bytes.min(budget.saturating_add(budget / 4 + CLASS_MIN as u64));
        let mut len = want.min(range.end - offset) as usize;
        chunk_bytes = (chunk_bytes * 2).min(CLASS_MAX as u64);
        let mut chunk = POOL.chunk(len);
        read_exact_at(file, &mut chunk.bytes_mut()[..len], offset).map_err(io_err("read", path))?;
        // The first batch is longer than the chunk: read it whole.
        if let Some(first_len) = declared_len(&chunk.bytes()[..len]) {
            if first_len > len && offset + first_len as u64 <= range.end {
                len = first_len;
                chunk = POOL.chunk(len);
                read_exact_at(file, &mut chunk.bytes_mut()[..len], offset)
                    .map_err(io_err("read", path))?;
            }
        }
        let chunk = Arc::new(chunk);
        let bytes = &chunk.bytes()[..len];
        let mut at = 0usize;
        while at < len {
            // A batch cut by the end of the chunk is read with the next chunk.
            let rest = len - at;
            if rest < BATCH_HEADER_LEN || declared_len(&bytes[at..]).is_some_and(|n| n > rest) {
                break;
            }
            let view = parse_batch_at(&bytes[at..], offset + at as u64, verified).map_err(
                |corruption| Error::Corrupt {
                    path: path.clone(),
                    offset: offset + at as u64,
                    corruption,
                },
            )?;
            let batch_len = view.header().batch_len;
            if view.header().end_position() > out.next_position {
                let batch = BatchBytes::Owned(Arc::clone(&chunk), at..at + batch_len);
                if take_batch(out, batch, &view, records_max, limits) {
                    return Ok(true);
                }
            }
            at += batch_len;
        }
        if at == 0 {
            // Not even one batch fit: the declared length runs past the acknowledged end.
            return Err(Error::Corrupt {
                path: path.clone(),
                offset,
                corruption: Corruption::InvalidField {
                    reason: "batch length runs past the acknowledged end".into(),
                },
            });
        }
        offset += at as u64;
    }
    Ok(false)
}

/// The batch length declared at the start of `bytes`, if the length field is there.
fn declared_len(bytes: &[u8]) -> Option<usize> {
    (bytes.len() >= 12).then(|| crate::format::read_u32(bytes, 8) as usize)
}

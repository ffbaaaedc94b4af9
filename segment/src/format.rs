//! Byte layout constants of segment files and record batches (see `FORMAT.md`).

use crate::error::Corruption;

/// Magic bytes of a segment file header.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SHRDLSEG";
/// Magic bytes of a record batch.
pub const BATCH_MAGIC: [u8; 4] = *b"SLBT";
/// Current format version of segment headers and batches.
pub const FORMAT_VERSION: u8 = 1;

pub(crate) const SEG_MAGIC: usize = 0;
pub(crate) const SEG_VERSION: usize = SEG_MAGIC + 8;
pub(crate) const SEG_HEADER_LEN_FIELD: usize = SEG_VERSION + 2;
pub(crate) const SEG_FLAGS: usize = SEG_HEADER_LEN_FIELD + 2;
pub(crate) const SEG_BASE: usize = SEG_FLAGS + 4;
pub(crate) const SEG_CREATED: usize = SEG_BASE + 8;
pub(crate) const SEG_COMPACTED_END: usize = SEG_CREATED + 8;
pub(crate) const SEG_RESERVED: usize = SEG_COMPACTED_END + 8;
pub(crate) const SEG_CRC: usize = SEG_RESERVED + 20;
/// Segment header flag: the segment was rewritten by key compaction.
pub const SEGMENT_FLAG_COMPACTED: u32 = 1;
/// Length of the segment file header.
pub const SEGMENT_HEADER_LEN: usize = SEG_CRC + 4;
const _: () = assert!(SEGMENT_HEADER_LEN == 64);

pub(crate) const BATCH_MAGIC_AT: usize = 0;
pub(crate) const BATCH_CRC: usize = BATCH_MAGIC_AT + 4;
pub(crate) const BATCH_LEN: usize = BATCH_CRC + 4;
pub(crate) const BATCH_VERSION: usize = BATCH_LEN + 4;
pub(crate) const BATCH_FLAGS: usize = BATCH_VERSION + 1;
pub(crate) const BATCH_RESERVED0: usize = BATCH_FLAGS + 1;
pub(crate) const BATCH_BASE: usize = BATCH_RESERVED0 + 2;
pub(crate) const BATCH_COUNT: usize = BATCH_BASE + 8;
pub(crate) const BATCH_RESERVED1: usize = BATCH_COUNT + 4;
pub(crate) const BATCH_FIRST_MS: usize = BATCH_RESERVED1 + 4;
pub(crate) const BATCH_LAST_MS: usize = BATCH_FIRST_MS + 8;
/// Length of a record batch header.
pub const BATCH_HEADER_LEN: usize = BATCH_LAST_MS + 8;
const _: () = assert!(BATCH_HEADER_LEN == 48);

pub(crate) const REC_DELTA: usize = 0;
pub(crate) const REC_KEY_LEN: usize = REC_DELTA + 4;
pub(crate) const REC_FLAGS: usize = REC_KEY_LEN + 2;
pub(crate) const REC_RESERVED: usize = REC_FLAGS + 1;
pub(crate) const REC_DATA_LEN: usize = REC_RESERVED + 1;
/// Length of a record header (without the optional explicit hash key).
pub const RECORD_HEADER_LEN: usize = REC_DATA_LEN + 4;
const _: () = assert!(RECORD_HEADER_LEN == 12);
/// Length of the optional explicit hash key.
pub const EXPLICIT_HASH_KEY_LEN: usize = 16;
pub(crate) const REC_FLAG_HASH_KEY: u8 = 1;

/// Most characters a partition key may have (Kinesis's limit).
pub const PARTITION_KEY_CHARS_MAX: usize = 256;
/// Most bytes a partition key may take in UTF-8.
pub const PARTITION_KEY_BYTES_MAX: usize = 1024;
/// Most records one batch may hold.
pub const BATCH_RECORDS_MAX: usize = 65_536;

/// The fields of a segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Position of the first record in the segment.
    pub base_position: u64,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
    /// For a segment rewritten by key compaction: the position after the last
    /// record it held before (its records may skip positions, and it may hold none).
    pub compacted_end: Option<u64>,
}

impl SegmentHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut out = [0u8; SEGMENT_HEADER_LEN];
        out[SEG_MAGIC..SEG_VERSION].copy_from_slice(&SEGMENT_MAGIC);
        out[SEG_VERSION..SEG_HEADER_LEN_FIELD]
            .copy_from_slice(&u16::from(FORMAT_VERSION).to_le_bytes());
        out[SEG_HEADER_LEN_FIELD..SEG_FLAGS]
            .copy_from_slice(&(SEGMENT_HEADER_LEN as u16).to_le_bytes());
        out[SEG_BASE..SEG_CREATED].copy_from_slice(&self.base_position.to_le_bytes());
        out[SEG_CREATED..SEG_COMPACTED_END].copy_from_slice(&self.created_ms.to_le_bytes());
        if let Some(end) = self.compacted_end {
            out[SEG_FLAGS..SEG_BASE].copy_from_slice(&SEGMENT_FLAG_COMPACTED.to_le_bytes());
            out[SEG_COMPACTED_END..SEG_RESERVED].copy_from_slice(&end.to_le_bytes());
        }
        let crc = crc32fast::hash(&out[..SEG_CRC]);
        out[SEG_CRC..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and verifies a header.
    pub fn decode(bytes: &[u8]) -> Result<Self, Corruption> {
        if bytes.len() < SEGMENT_HEADER_LEN {
            return Err(Corruption::Truncated {
                needed: SEGMENT_HEADER_LEN as u64,
                available: bytes.len() as u64,
            });
        }
        if bytes[SEG_MAGIC..SEG_VERSION] != SEGMENT_MAGIC {
            return Err(Corruption::BadMagic);
        }
        let expected = read_u32(bytes, SEG_CRC);
        let actual = crc32fast::hash(&bytes[..SEG_CRC]);
        if expected != actual {
            return Err(Corruption::ChecksumMismatch { expected, actual });
        }
        let version = read_u16(bytes, SEG_VERSION);
        if version != u16::from(FORMAT_VERSION) {
            return Err(Corruption::InvalidField {
                reason: format!("segment format version {version} is not supported"),
            });
        }
        let header_len = read_u16(bytes, SEG_HEADER_LEN_FIELD);
        if usize::from(header_len) != SEGMENT_HEADER_LEN {
            return Err(Corruption::InvalidField {
                reason: format!("segment header length {header_len}"),
            });
        }
        let flags = read_u32(bytes, SEG_FLAGS);
        if flags & !SEGMENT_FLAG_COMPACTED != 0 {
            return Err(Corruption::InvalidField {
                reason: format!("segment flags {flags:#x}"),
            });
        }
        let base_position = read_u64(bytes, SEG_BASE);
        let compacted_end =
            (flags & SEGMENT_FLAG_COMPACTED != 0).then(|| read_u64(bytes, SEG_COMPACTED_END));
        if compacted_end.is_some_and(|end| end < base_position) {
            return Err(Corruption::InvalidField {
                reason: "compacted segment ends before it starts".into(),
            });
        }
        Ok(SegmentHeader {
            base_position,
            created_ms: read_u64(bytes, SEG_CREATED),
            compacted_end,
        })
    }
}

pub(crate) fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(buf)
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(buf)
}

pub(crate) fn read_u128(bytes: &[u8], at: usize) -> u128 {
    let mut buf = [0u8; 16];
    buf.copy_from_slice(&bytes[at..at + 16]);
    u128::from_le_bytes(buf)
}

/// File name of the segment whose first record has `base_position`.
pub fn segment_file_name(base_position: u64, extension: &str) -> String {
    format!("{base_position:020}.{extension}")
}

/// Parses a segment file name back into its base position.
pub fn parse_segment_file_name(name: &str, extension: &str) -> Option<u64> {
    let stem = name.strip_suffix(extension)?.strip_suffix('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

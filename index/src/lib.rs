//! Sparse indexes stored beside each shardlog segment.
//!
//! Two kinds share one file format (see `FORMAT.md` in this crate):
//! - the position index (`.idx`): first position of a batch → byte offset of the batch;
//! - the timestamp index (`.tix`): first arrival time of a batch → its first position.
//!
//! This crate knows bytes, not files: the segment layer reads and writes the files
//! through its own I/O seam and hands the (usually memory-mapped) bytes to
//! [`IndexView::parse`]. Lookups are binary searches over the verified entries.
#![forbid(unsafe_code)]

mod view;

pub use view::{IndexView, SparseIndex};

/// Magic bytes at the start of every index file.
pub const MAGIC: [u8; 4] = *b"SLIX";
/// Current format version.
pub const VERSION: u16 = 1;

/// Offsets of the header fields, chained so that a change to one moves the rest.
const HEADER_MAGIC: usize = 0;
const HEADER_VERSION: usize = HEADER_MAGIC + 4;
const HEADER_KIND: usize = HEADER_VERSION + 2;
const HEADER_BASE: usize = HEADER_KIND + 2;
const HEADER_RESERVED: usize = HEADER_BASE + 8;
const HEADER_CRC: usize = HEADER_RESERVED + 12;
/// Length of the index file header in bytes.
pub const HEADER_LEN: usize = HEADER_CRC + 4;
const _: () = assert!(HEADER_LEN == 32);

const ENTRY_KEY: usize = 0;
const ENTRY_VALUE: usize = ENTRY_KEY + 8;
const ENTRY_TAG: usize = ENTRY_VALUE + 8;
const ENTRY_CRC: usize = ENTRY_TAG + 4;
/// Length of one index entry in bytes.
pub const ENTRY_LEN: usize = ENTRY_CRC + 4;
const _: () = assert!(ENTRY_LEN == 24);

const TAG_ENTRY: u32 = 0;
const TAG_SEAL: u32 = 1;

/// Which index a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// `.idx`: batch first position → batch byte offset in the segment.
    Position,
    /// `.tix`: batch first arrival time (ms) → batch first position.
    Timestamp,
}

impl IndexKind {
    fn code(self) -> u16 {
        match self {
            IndexKind::Position => 1,
            IndexKind::Timestamp => 2,
        }
    }

    /// File extension used for this kind, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            IndexKind::Position => "idx",
            IndexKind::Timestamp => "tix",
        }
    }
}

/// One index entry: a key and the value it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Position (`.idx`) or arrival time in ms (`.tix`).
    pub key: u64,
    /// Byte offset (`.idx`) or position (`.tix`).
    pub value: u64,
}

/// Errors reading an index file. Any of them means: rebuild the index from the log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The file is shorter than its header.
    #[error("index file too short: {len} bytes, header needs {HEADER_LEN}")]
    TooShort {
        /// Length of the file in bytes.
        len: usize,
    },
    /// The magic bytes are wrong.
    #[error("index file has bad magic {found:02x?}")]
    BadMagic {
        /// The bytes found where the magic belongs.
        found: [u8; 4],
    },
    /// The header checksum does not verify.
    #[error("index header checksum mismatch: stored {expected:#010x}, computed {actual:#010x}")]
    HeaderChecksum {
        /// Stored checksum.
        expected: u32,
        /// Checksum computed over the header bytes.
        actual: u32,
    },
    /// The format version is not one this build reads.
    #[error("index format version {found} is not supported (this build reads {VERSION})")]
    UnsupportedVersion {
        /// Version found in the header.
        found: u16,
    },
    /// The file holds the other kind of index.
    #[error("index kind mismatch: expected {expected:?}, found code {found}")]
    KindMismatch {
        /// Kind the caller asked for.
        expected: IndexKind,
        /// Kind code found in the header.
        found: u16,
    },
    /// The file belongs to another segment.
    #[error("index belongs to segment base {found}, expected {expected}")]
    BaseMismatch {
        /// Base position the caller expected.
        expected: u64,
        /// Base position found in the header.
        found: u64,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Encodes the header of an index file.
pub fn encode_header(kind: IndexKind, segment_base_position: u64) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[HEADER_MAGIC..HEADER_VERSION].copy_from_slice(&MAGIC);
    out[HEADER_VERSION..HEADER_KIND].copy_from_slice(&VERSION.to_le_bytes());
    out[HEADER_KIND..HEADER_BASE].copy_from_slice(&kind.code().to_le_bytes());
    out[HEADER_BASE..HEADER_RESERVED].copy_from_slice(&segment_base_position.to_le_bytes());
    let crc = crc32fast::hash(&out[..HEADER_CRC]);
    out[HEADER_CRC..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Encodes an ordinary entry.
pub fn encode_entry(entry: Entry) -> [u8; ENTRY_LEN] {
    encode_tagged(entry, TAG_ENTRY)
}

/// Encodes the seal entry that marks an index as complete.
pub fn encode_seal(entry: Entry) -> [u8; ENTRY_LEN] {
    encode_tagged(entry, TAG_SEAL)
}

fn encode_tagged(entry: Entry, tag: u32) -> [u8; ENTRY_LEN] {
    let mut out = [0u8; ENTRY_LEN];
    out[ENTRY_KEY..ENTRY_VALUE].copy_from_slice(&entry.key.to_le_bytes());
    out[ENTRY_VALUE..ENTRY_TAG].copy_from_slice(&entry.value.to_le_bytes());
    out[ENTRY_TAG..ENTRY_CRC].copy_from_slice(&tag.to_le_bytes());
    let crc = crc32fast::hash(&out[..ENTRY_CRC]);
    out[ENTRY_CRC..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Encodes a whole index file: header, entries and, when given, the seal.
pub fn encode_file(
    kind: IndexKind,
    segment_base_position: u64,
    entries: &[Entry],
    seal: Option<Entry>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + (entries.len() + 1) * ENTRY_LEN);
    out.extend_from_slice(&encode_header(kind, segment_base_position));
    for entry in entries {
        out.extend_from_slice(&encode_entry(*entry));
    }
    if let Some(seal) = seal {
        out.extend_from_slice(&encode_seal(seal));
    }
    out
}

/// Decides which batches get an index entry: the first one, then the first batch
/// starting at least `interval_bytes` after the previously indexed one.
#[derive(Debug, Clone)]
pub struct Sampler {
    interval_bytes: u64,
    last_indexed_offset: Option<u64>,
}

impl Sampler {
    /// A sampler with an entry every `interval_bytes` (0: every batch).
    pub fn new(interval_bytes: u64) -> Self {
        Sampler {
            interval_bytes,
            last_indexed_offset: None,
        }
    }

    /// Whether the batch at `offset` gets an entry; records the decision.
    pub fn should_index(&mut self, offset: u64) -> bool {
        let take = match self.last_indexed_offset {
            None => true,
            Some(last) => offset >= last.saturating_add(self.interval_bytes),
        };
        if take {
            self.last_indexed_offset = Some(offset);
        }
        take
    }
}

pub(crate) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(buf)
}

pub(crate) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut buf = [0u8; 4];
    buf.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(buf)
}

pub(crate) fn read_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// Decoded entry fields, or `None` if the entry's checksum does not verify.
pub(crate) fn decode_entry(bytes: &[u8]) -> Option<(Entry, u32)> {
    debug_assert_eq!(bytes.len(), ENTRY_LEN);
    let stored = read_u32(bytes, ENTRY_CRC);
    if crc32fast::hash(&bytes[..ENTRY_CRC]) != stored {
        return None;
    }
    let entry = Entry {
        key: read_u64(bytes, ENTRY_KEY),
        value: read_u64(bytes, ENTRY_VALUE),
    };
    Some((entry, read_u32(bytes, ENTRY_TAG)))
}

pub(crate) fn check_header(bytes: &[u8], kind: IndexKind, base: u64) -> Result<()> {
    if bytes.len() < HEADER_LEN {
        return Err(Error::TooShort { len: bytes.len() });
    }
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&bytes[HEADER_MAGIC..HEADER_VERSION]);
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let expected = read_u32(bytes, HEADER_CRC);
    let actual = crc32fast::hash(&bytes[..HEADER_CRC]);
    if expected != actual {
        return Err(Error::HeaderChecksum { expected, actual });
    }
    let version = read_u16(bytes, HEADER_VERSION);
    if version != VERSION {
        return Err(Error::UnsupportedVersion { found: version });
    }
    let found_kind = read_u16(bytes, HEADER_KIND);
    if found_kind != kind.code() {
        return Err(Error::KindMismatch {
            expected: kind,
            found: found_kind,
        });
    }
    let found_base = read_u64(bytes, HEADER_BASE);
    if found_base != base {
        return Err(Error::BaseMismatch {
            expected: base,
            found: found_base,
        });
    }
    Ok(())
}

pub(crate) const SEAL_TAG: u32 = TAG_SEAL;
pub(crate) const ENTRY_TAG_VALUE: u32 = TAG_ENTRY;

//! The position floor: a small file, `<log-dir>/FLOOR`, that keeps a log's next
//! position durable on its own, so that positions (and the sequence numbers made
//! from them) are never handed out twice, whatever files retention removed.
//!
//! Written (atomically) before retention or expiry removes segments, with the end
//! position of the newest segment being removed. Recovery never starts a log below
//! it. Layout (little-endian, 20 bytes; see `FORMAT.md`):
//!
//! ```text
//! 0      4        8          16      20
//! | magic | version | position | crc32 |
//! ```
//! `magic` is `SLFL`, `version` 1, `crc32` covers the 16 bytes before it.

use crate::error::{io_err, Corruption, Error, Result};
use crate::io::{read_file, write_file_atomic, FileSystem};
use std::io;
use std::path::{Path, PathBuf};

/// The floor file's name inside a log directory.
pub const FLOOR_FILE_NAME: &str = "FLOOR";
const MAGIC: [u8; 4] = *b"SLFL";
const VERSION: u32 = 1;
const POSITION_OFFSET: usize = 8;
const CRC_OFFSET: usize = POSITION_OFFSET + 8;
const FLOOR_LEN: usize = CRC_OFFSET + 4;
const _: () = assert!(FLOOR_LEN == 20);

fn floor_path(dir: &Path) -> PathBuf {
    dir.join(FLOOR_FILE_NAME)
}

/// Encodes a floor of `position`.
pub(crate) fn encode(position: u64) -> [u8; FLOOR_LEN] {
    let mut bytes = [0u8; FLOOR_LEN];
    bytes[..4].copy_from_slice(&MAGIC);
    bytes[4..POSITION_OFFSET].copy_from_slice(&VERSION.to_le_bytes());
    bytes[POSITION_OFFSET..CRC_OFFSET].copy_from_slice(&position.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..CRC_OFFSET]);
    bytes[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// Decodes a floor file's bytes.
pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<u64, Corruption> {
    if bytes.len() != FLOOR_LEN {
        return Err(Corruption::Truncated {
            needed: FLOOR_LEN as u64,
            available: bytes.len() as u64,
        });
    }
    let stored = u32::from_le_bytes(bytes[CRC_OFFSET..].try_into().expect("4 bytes"));
    let actual = crc32fast::hash(&bytes[..CRC_OFFSET]);
    if stored != actual {
        return Err(Corruption::ChecksumMismatch {
            expected: stored,
            actual,
        });
    }
    if bytes[..4] != MAGIC {
        return Err(Corruption::BadMagic);
    }
    let version = u32::from_le_bytes(bytes[4..POSITION_OFFSET].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(Corruption::InvalidField {
            reason: format!("floor version {version} is not supported"),
        });
    }
    Ok(u64::from_le_bytes(
        bytes[POSITION_OFFSET..CRC_OFFSET]
            .try_into()
            .expect("8 bytes"),
    ))
}

/// The log's floor: 0 when it never had one. A damaged floor is an error: guessing
/// low could reuse positions.
pub(crate) fn load(fs: &dyn FileSystem, dir: &Path) -> Result<u64> {
    let path = floor_path(dir);
    match read_file(fs, &path) {
        Ok(bytes) => decode(&bytes).map_err(|corruption| Error::Corrupt {
            path,
            offset: 0,
            corruption,
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(error) => Err(io_err("read", path)(error)),
    }
}

/// Makes `position` the log's floor, durably, before anything below it is removed.
pub(crate) fn store(fs: &dyn FileSystem, dir: &Path, position: u64) -> Result<()> {
    let path = floor_path(dir);
    write_file_atomic(fs, &path, &encode(position)).map_err(io_err("write", path))
}

#[cfg(test)]
mod tests {
    //! The floor round-trips and refuses damaged bytes.
    use super::*;
    use crate::io::MemFs;

    /// What is stored loads back; no file is floor 0; a flipped bit is an error.
    #[test]
    fn round_trip_missing_and_damaged() {
        let fs = MemFs::new();
        let dir = Path::new("/log");
        fs.create_dir_all(dir).unwrap();
        assert_eq!(load(fs.as_ref(), dir).unwrap(), 0);
        store(fs.as_ref(), dir, 1_234_567).unwrap();
        assert_eq!(load(fs.as_ref(), dir).unwrap(), 1_234_567);
        let good = encode(42);
        for at in 0..FLOOR_LEN {
            let mut bad = good;
            bad[at] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip at byte {at} went unnoticed");
        }
        assert!(decode(&good[..19]).is_err());
    }
}

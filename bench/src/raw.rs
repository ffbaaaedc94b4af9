//! Raw-device baselines: what the disk does without shardlog, measured on the same
//! file system and volume as the runs they are compared with.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Block size of the raw baselines.
pub const RAW_BLOCK_BYTES: usize = 1 << 20;
const ALIGNMENT: usize = 4096;

/// A measured write of `bytes` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Bytes written.
    pub bytes: u64,
    /// Wall time, sync included.
    pub elapsed: Duration,
}

impl Throughput {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }
}

/// A heap buffer of `len` bytes whose start is 4 KiB aligned, without unsafe code:
/// over-allocate and start the slice at the first aligned byte.
pub struct AlignedBlock {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBlock {
    /// A block filled with a non-zero pattern (so no layer can skip zero pages).
    pub fn new(len: usize) -> Self {
        let storage: Vec<u8> = (0..len + ALIGNMENT)
            .map(|i| (i.wrapping_mul(31) % 251) as u8 | 1)
            .collect();
        let start = storage.as_ptr().align_offset(ALIGNMENT);
        assert!(start < ALIGNMENT, "alignment offset within the slack");
        AlignedBlock {
            storage,
            start,
            len,
        }
    }

    /// The aligned bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

fn write_sequential(file: &File, block: &[u8], total_bytes: u64) -> io::Result<Throughput> {
    let started = Instant::now();
    let mut offset = 0u64;
    while offset < total_bytes {
        let len = (total_bytes - offset).min(block.len() as u64) as usize;
        file.write_all_at(&block[..len], offset)?;
        offset += len as u64;
    }
    file.sync_data()?;
    Ok(Throughput {
        bytes: total_bytes,
        elapsed: started.elapsed(),
    })
}

/// Sequential `O_DIRECT` write of `total_bytes` (rounded down to whole 1 MiB
/// blocks) into a new file at `path`, from one reused aligned buffer, then one
/// `fdatasync`. The file is removed afterwards.
pub fn direct_write(path: &Path, total_bytes: u64) -> io::Result<Throughput> {
    let total_bytes = total_bytes / RAW_BLOCK_BYTES as u64 * RAW_BLOCK_BYTES as u64;
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    let block = AlignedBlock::new(RAW_BLOCK_BYTES);
    let result = write_sequential(&file, block.bytes(), total_bytes);
    std::fs::remove_file(path)?;
    result
}

/// The same sequential `O_DIRECT` write as [`direct_write`], submitted through
/// shardlog's io_uring backend one 1 MiB write at a time: what the ring itself costs.
pub fn direct_write_io_uring(path: &Path, total_bytes: u64) -> io::Result<Throughput> {
    use shardlog_segment::backend::{Uring, WriteBackend, WriteOp};
    use shardlog_segment::io::{FileSystem, OpenOptions as SegmentOpen, RealFs};
    let total_bytes = total_bytes / RAW_BLOCK_BYTES as u64 * RAW_BLOCK_BYTES as u64;
    let file = RealFs.open(path, SegmentOpen::CREATE.with_direct(true))?;
    file.set_len(0)?;
    let mut ring = Uring::new()?;
    let block = AlignedBlock::new(RAW_BLOCK_BYTES);
    let started = Instant::now();
    let mut offset = 0u64;
    while offset < total_bytes {
        let op = WriteOp {
            file: file.as_ref(),
            offset,
            data: block.bytes(),
        };
        ring.write_all(&[op]).pop().unwrap_or(Ok(()))?;
        offset += RAW_BLOCK_BYTES as u64;
    }
    ring.sync_all(&[Arc::clone(&file)])
        .pop()
        .unwrap_or(Ok(()))?;
    let elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(path)?;
    Ok(Throughput {
        bytes: total_bytes,
        elapsed,
    })
}

/// Sequential buffered write of `total_bytes` in 1 MiB `pwrite`s into a new file,
/// then one `fdatasync`. The file is removed afterwards.
pub fn buffered_write(path: &Path, total_bytes: u64) -> io::Result<Throughput> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let block = AlignedBlock::new(RAW_BLOCK_BYTES);
    let result = write_sequential(&file, block.bytes(), total_bytes);
    std::fs::remove_file(path)?;
    result
}

#[cfg(test)]
mod tests {
    //! The baselines write what they claim and clean up after themselves.
    use super::*;

    /// Both baselines report the volume asked for and leave no file behind.
    #[test]
    fn baselines_write_the_volume_and_clean_up() {
        let dir = tempfile_dir();
        let path = dir.join("raw.bin");
        let direct = direct_write(&path, 3 * RAW_BLOCK_BYTES as u64 + 5).unwrap();
        assert_eq!(direct.bytes, 3 * RAW_BLOCK_BYTES as u64);
        assert!(!path.exists());
        let buffered = buffered_write(&path, 1000).unwrap();
        assert_eq!(buffered.bytes, 1000);
        assert!(!path.exists());
        assert!(buffered.mb_per_s() > 0.0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The aligned block starts on a 4 KiB boundary and holds no zero byte.
    #[test]
    fn aligned_block_is_aligned_and_non_zero() {
        let block = AlignedBlock::new(8192);
        assert_eq!(block.bytes().as_ptr() as usize % ALIGNMENT, 0);
        assert_eq!(block.bytes().len(), 8192);
        assert!(block.bytes().iter().all(|b| *b != 0));
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("shardlog-raw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

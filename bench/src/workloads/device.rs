//! Raw-device baselines within a [`Budget`]: what the file system and disk under
//! `--dir` do without shardlog, measured in the same run as the engine.

use super::cache::{make_cold, WARM};
use super::{context, Budget, Case, Figure, Meter, Params, RunFn, Sample, WorkloadKind};
use crate::raw::{AlignedBlock, RAW_BLOCK_BYTES};
use crate::stats::record_ns;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

/// Bytes of each write of the fdatasync latency baseline: one file-system block.
pub const SYNC_BLOCK_BYTES: usize = 4096;

/// How a write baseline writes.
#[derive(Debug, Clone, Copy)]
struct WriteShape {
    /// Open with `O_DIRECT`.
    direct: bool,
    /// Bytes per write.
    block_bytes: usize,
    /// `fdatasync` after every write (each sample is write + sync) rather than
    /// once at the end.
    sync_each: bool,
}

/// Sequential 1 MiB writes, one `fdatasync` at the end (included in the time).
const SEQUENTIAL: WriteShape = WriteShape {
    direct: false,
    block_bytes: RAW_BLOCK_BYTES,
    sync_each: false,
};

/// 4 KiB appended then `fdatasync`ed, again and again.
const SYNC_EACH: WriteShape = WriteShape {
    direct: false,
    block_bytes: SYNC_BLOCK_BYTES,
    sync_each: true,
};

/// Writes blocks into a new file until the budget is spent, syncing as `shape`
/// says. The file is removed afterwards.
fn write_baseline(
    path: &Path,
    shape: WriteShape,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if shape.direct {
        options.custom_flags(libc::O_DIRECT);
    }
    let file = options
        .open(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let block = AlignedBlock::new(shape.block_bytes);
    let mut sample = Sample::new();
    let started = Instant::now();
    while !budget.done(sample.bytes, started) {
        let begun = Instant::now();
        file.write_all_at(block.bytes(), sample.bytes)
            .map_err(context("write"))?;
        if shape.sync_each {
            file.sync_data().map_err(context("fdatasync"))?;
        }
        record_ns(&mut sample.latency_ns, begun.elapsed());
        sample.bytes += shape.block_bytes as u64;
        sample.records += 1;
        meter.add(shape.block_bytes as u64, 1);
    }
    file.sync_data().map_err(context("fdatasync"))?;
    sample.elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(path).map_err(|e| format!("removing {}: {e}", path.display()))?;
    Ok(sample)
}

/// A file written once for the read baselines, removed when dropped.
pub struct ReadFile {
    path: PathBuf,
    len_bytes: u64,
}

impl ReadFile {
    /// Writes `len_bytes` (whole 1 MiB blocks, at least one) to `path` and syncs it.
    pub fn create(path: PathBuf, len_bytes: u64) -> Result<ReadFile, String> {
        let file = File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        let block = AlignedBlock::new(RAW_BLOCK_BYTES);
        let blocks = len_bytes.div_ceil(RAW_BLOCK_BYTES as u64).max(1);
        for index in 0..blocks {
            file.write_all_at(block.bytes(), index * RAW_BLOCK_BYTES as u64)
                .map_err(context("write"))?;
        }
        file.sync_all().map_err(context("fsync"))?;
        Ok(ReadFile {
            path,
            len_bytes: blocks * RAW_BLOCK_BYTES as u64,
        })
    }

    /// Reads the file sequentially in 1 MiB `pread`s within the budget.
    pub fn read(&self, budget: &Budget, meter: Option<&Meter>) -> Result<Sample, String> {
        let file =
            File::open(&self.path).map_err(|e| format!("opening {}: {e}", self.path.display()))?;
        let mut buffer = vec![0u8; RAW_BLOCK_BYTES];
        let mut sample = Sample::new();
        let started = Instant::now();
        while sample.bytes < self.len_bytes && !budget.done(sample.bytes, started) {
            let begun = Instant::now();
            let read = file
                .read_at(&mut buffer, sample.bytes)
                .map_err(context("read"))?;
            if read == 0 {
                break;
            }
            record_ns(&mut sample.latency_ns, begun.elapsed());
            sample.bytes += read as u64;
            sample.records += 1;
            if let Some(meter) = meter {
                meter.add(read as u64, 1);
            }
        }
        sample.elapsed = started.elapsed();
        Ok(sample)
    }
}

impl Drop for ReadFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A sequential read of the shared read file (created in `dir` on first use),
/// made cold first or read once before to make it warm.
fn read_baseline(
    read_file: &std::cell::OnceCell<ReadFile>,
    dir: &Path,
    read_bytes: u64,
    cold: bool,
    budget: &Budget,
    meter: &Meter,
) -> Result<Sample, String> {
    if read_file.get().is_none() {
        let created = ReadFile::create(dir.join("raw-read.bin"), read_bytes)?;
        let _ = read_file.set(created);
    }
    let file = read_file.get().expect("created above");
    let label = if cold {
        make_cold(std::slice::from_ref(&file.path))
    } else {
        // Bring every page in before measuring.
        let whole = Budget {
            volume_bytes: u64::MAX,
            duration: budget.duration * 4,
        };
        file.read(&whole, None)?;
        WARM
    };
    let mut sample = file.read(budget, Some(meter))?;
    sample.cache = Some(label.to_string());
    Ok(sample)
}

/// The cases of one raw workload, writing under `dir`; `read_file` is shared by
/// the cold and warm reads (created on first use with `read_bytes`).
pub fn cases<'a>(
    kind: WorkloadKind,
    dir: &'a Path,
    read_file: Rc<std::cell::OnceCell<ReadFile>>,
    read_bytes: u64,
) -> Vec<Case<'a>> {
    let case = |name: &str, latency_of: &'static str, figure, run| Case {
        kind,
        name: name.to_string(),
        params: Params::default(),
        latency_of,
        baselines: &[],
        figure,
        warmup: true,
        run,
    };
    let reader = move |cold: bool| -> RunFn<'a> {
        let read_file = Rc::clone(&read_file);
        Box::new(move |budget: &Budget, meter: &Meter| {
            read_baseline(&read_file, dir, read_bytes, cold, budget, meter)
        })
    };
    let writer = move |file: &'static str, shape: WriteShape| -> RunFn<'a> {
        Box::new(move |b: &Budget, m: &Meter| write_baseline(&dir.join(file), shape, b, m))
    };
    let (name, latency_of, figure, run) = match kind {
        WorkloadKind::RawDirectWrite => (
            "raw O_DIRECT write 1 MiB + fdatasync",
            "1 MiB write",
            Figure::Throughput,
            writer(
                "raw-direct.bin",
                WriteShape {
                    direct: true,
                    ..SEQUENTIAL
                },
            ),
        ),
        WorkloadKind::RawBufferedWrite => (
            "raw buffered write 1 MiB + fdatasync",
            "1 MiB write",
            Figure::Throughput,
            writer("raw-buffered.bin", SEQUENTIAL),
        ),
        WorkloadKind::RawFdatasync => (
            "raw 4 KiB write + fdatasync",
            "write + fdatasync",
            Figure::Latency,
            writer("raw-sync.bin", SYNC_EACH),
        ),
        WorkloadKind::RawReadCold | WorkloadKind::RawReadWarm => (
            if kind == WorkloadKind::RawReadCold {
                "raw sequential read 1 MiB, cold"
            } else {
                "raw sequential read 1 MiB, warm"
            },
            "1 MiB read",
            Figure::Throughput,
            reader(kind == WorkloadKind::RawReadCold),
        ),
        _ => return Vec::new(),
    };
    vec![case(name, latency_of, figure, run)]
}

#[cfg(test)]
mod tests {
    //! The baselines move what the budget allows and clean up.
    use super::*;
    use std::time::Duration;

    fn budget(volume_bytes: u64) -> Budget {
        Budget {
            volume_bytes,
            duration: Duration::from_secs(60),
        }
    }

    /// Writes stop at the volume (whole blocks) and leave no file behind.
    #[test]
    fn writes_respect_the_volume_and_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let meter = Meter::new("t", 0, false);
        let path = dir.path().join("w");
        let sample = write_baseline(&path, SEQUENTIAL, &budget(3 << 20), &meter).unwrap();
        assert_eq!(sample.bytes, 3 << 20);
        assert!(!path.exists());
        let sample = write_baseline(&path, SYNC_EACH, &budget(5 * 4096), &meter).unwrap();
        assert_eq!(sample.records, 5);
        assert_eq!(sample.latency_ns.len(), 5);
        assert!(!path.exists());
        assert_eq!(meter.bytes(), (3 << 20) + 5 * 4096);
    }

    /// The read file is read whole once and removed on drop.
    #[test]
    fn read_file_reads_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let file = ReadFile::create(path.clone(), 2 << 20).unwrap();
        let sample = file.read(&budget(u64::MAX), None).unwrap();
        assert_eq!(sample.bytes, 2 << 20);
        drop(file);
        assert!(!path.exists());
    }
}

//! Storage: the file system, the write backend and the committer shared by many logs.

use crate::active::finish_active_files;
use crate::backend::BackendKind;
use crate::committer::{CommitQueue, Committer, LogRegistry};
use crate::config::{LogConfig, StorageConfig};
use crate::error::{Error, Result};
use crate::io::FileSystem;
use crate::io::DIRECT_IO_ALIGNMENT;
use crate::log::{Log, LogShared, LogState};
use crate::recovery::{recover, RecoveryReport};
use crate::sealed::{SealedSegment, SegmentInfo};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, Weak};

/// Opens logs that share one file system, one write backend and one committer
/// (so that appends to many logs are written and synced together).
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Arc<StorageInner>,
}

#[derive(Debug)]
struct StorageInner {
    fs: Arc<dyn FileSystem>,
    config: StorageConfig,
    alignment: usize,
    direct: bool,
    queue: Arc<CommitQueue>,
    committer: Mutex<Committer>,
    logs: LogRegistry,
}

impl Storage {
    /// Starts storage over `fs` with the given backend and durability policy.
    pub fn open(fs: Arc<dyn FileSystem>, config: StorageConfig) -> Result<Storage> {
        config.validate()?;
        let (alignment, direct) = match config.backend {
            BackendKind::Buffered => (1, false),
            BackendKind::IoUring => (DIRECT_IO_ALIGNMENT, true),
        };
        let logs: LogRegistry = Arc::new(Mutex::new(HashMap::new()));
        let committer = Committer::start(config.backend, config.durability, Arc::clone(&logs))?;
        Ok(Storage {
            inner: Arc::new(StorageInner {
                fs,
                config,
                alignment,
                direct,
                queue: committer.queue(),
                committer: Mutex::new(committer),
                logs,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StorageConfig {
        &self.inner.config
    }

    /// The file system.
    pub fn fs(&self) -> &Arc<dyn FileSystem> {
        &self.inner.fs
    }

    /// Opens (creating if needed) the log in `dir`, recovering it first.
    pub fn open_log(
        &self,
        dir: impl AsRef<Path>,
        config: LogConfig,
    ) -> Result<(Log, RecoveryReport)> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let mut logs = self.inner.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.retain(|_, log| log.upgrade().is_some_and(|log| !log.lock().closed));
        if logs.contains_key(&dir) {
            return Err(Error::AlreadyOpen { path: dir });
        }
        let recovered = recover(
            &self.inner.fs,
            &dir,
            &config,
            self.inner.alignment,
            self.inner.direct,
        )?;
        let state = LogState {
            next_position: recovered.next_position,
            acked_position: recovered.next_position,
            first_position: recovered.first_position,
            last_arrival_ms: recovered.last_arrival_ms,
            stages: recovered.stage.into_iter().collect(),
            staged_bytes: 0,
            in_flight: 0,
            enqueued: false,
            tail: recovered.tail,
            spare: Vec::new(),
            sealed: recovered.sealed,
            active: recovered.view,
            failed: None,
            closed: false,
            wakeups: 0,
        };
        let shared = Arc::new(LogShared {
            dir: dir.clone(),
            config,
            fs: Arc::clone(&self.inner.fs),
            alignment: self.inner.alignment,
            direct: self.inner.direct,
            state: Mutex::new(state),
            changed: Condvar::new(),
            writer: Mutex::new(recovered.writer),
            committer: Arc::clone(&self.inner.queue),
            compaction: Mutex::new(()),
        });
        logs.insert(dir, Arc::downgrade(&shared));
        Ok((Log { shared }, recovered.report))
    }

    /// Closes every open log (syncing it) and stops the committer. Appends after
    /// this fail with [`Error::Closed`].
    pub fn shutdown(&self) -> Result<()> {
        let logs: Vec<Arc<LogShared>> = {
            let logs = self.inner.logs.lock().unwrap_or_else(|p| p.into_inner());
            logs.values().filter_map(Weak::upgrade).collect()
        };
        let mut first_error = None;
        for shared in logs {
            if let Err(error) = (Log { shared }).close() {
                first_error.get_or_insert(error);
            }
        }
        self.inner
            .committer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stop();
        first_error.map_or(Ok(()), Err)
    }
}

impl Log {
    /// Waits for appends in flight, syncs the active segment, writes out its index,
    /// and refuses further appends. Reads keep working. A failed log closes without
    /// touching its files (reopen it to recover).
    pub fn close(&self) -> Result<()> {
        let shared = &self.shared;
        let mut state = shared.lock();
        state.closed = true;
        // Wait until the committer holds nothing of this log, failed or not, so
        // that no file of it is touched after close returns.
        while state.in_flight > 0
            || (state.failed.is_none() && (state.staged_bytes > 0 || state.enqueued))
        {
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        let failed = state.failed.clone();
        drop(state);
        shared.changed.notify_all();
        if failed.is_some() {
            return Ok(());
        }
        let mut writer = shared.lock_writer();
        if let Some(active) = writer.active.as_mut() {
            if let Err(error) = finish_active_files(shared, active) {
                shared.lock().failed = Some(error.to_string());
                return Err(error);
            }
        }
        Ok(())
    }
}

impl Log {
    /// Removes sealed segments from the oldest on while `remove` says so (retention).
    /// Files are unlinked, never truncated: a reader that holds a removed segment
    /// keeps reading it until it lets go. Returns what was removed.
    pub fn remove_oldest_segments(
        &self,
        mut remove: impl FnMut(&SegmentInfo) -> bool,
    ) -> Result<Vec<SegmentInfo>> {
        let shared = &self.shared;
        let removed: Vec<Arc<SealedSegment>> = {
            let mut state = shared.lock();
            let count = state
                .sealed
                .iter()
                .take_while(|segment| remove(&segment.info))
                .count();
            let removed: Vec<_> = state.sealed.drain(..count).collect();
            if let Some(last) = removed.last() {
                state.first_position = last.info.end_position;
            }
            removed
        };
        for segment in &removed {
            let paths = &segment.paths;
            for path in [&paths.log, &paths.idx, &paths.tix] {
                shared.fs.remove_file(path).map_err(|source| Error::Io {
                    op: "remove",
                    path: path.clone(),
                    source,
                })?;
            }
        }
        if !removed.is_empty() {
            shared
                .fs
                .sync_dir(&shared.dir)
                .map_err(|source| Error::Io {
                    op: "sync directory",
                    path: shared.dir.clone(),
                    source,
                })?;
        }
        Ok(removed.iter().map(|segment| segment.info).collect())
    }
}

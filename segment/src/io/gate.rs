//! A gate that holds chosen file operations while it is closed: for tests that
//! freeze a commit at one point (a sync held while readers look, a write held
//! while a reshard runs) and check what others see meanwhile.

use super::{FileOp, Interpose, OpenOptions};
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

/// Open or closed; a held operation waits until it opens.
#[derive(Debug, Default)]
pub struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
    /// Operations that found it closed.
    held: Mutex<u64>,
}

impl Gate {
    /// A new, open gate.
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// Closes the gate; the returned guard opens it again when dropped, so
    /// that a test that fails while it is closed unwinds instead of waiting for
    /// held operations forever. Drop it before anything that waits for them.
    pub fn close(self: &Arc<Self>) -> Opener {
        self.set_closed(true);
        Opener(Arc::clone(self))
    }

    /// Opens the gate: held operations go on.
    pub fn open(&self) {
        self.set_closed(false);
    }

    /// How many operations found the gate closed so far.
    pub fn held(&self) -> u64 {
        *self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_closed(&self, closed: bool) {
        *self.closed.lock().unwrap_or_else(|p| p.into_inner()) = closed;
        self.opened.notify_all();
    }

    /// Waits while the gate is closed.
    pub fn pass(&self) {
        let closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        if *closed {
            *self.held.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        }
        drop(
            self.opened
                .wait_while(closed, |closed| *closed)
                .unwrap_or_else(|p| p.into_inner()),
        );
    }
}

/// Opens its gate when dropped (see [`Gate::close`]).
#[must_use = "the gate opens again when this is dropped"]
#[derive(Debug)]
pub struct Opener(Arc<Gate>);

impl Drop for Opener {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// [`Interpose`] hooks holding one kind of operation on the files a predicate
/// picks at a [`Gate`].
pub struct HoldAtGate {
    gate: Arc<Gate>,
    op: FileOp,
    picks: Box<dyn Fn(&Path) -> bool + Send + Sync>,
}

impl HoldAtGate {
    /// Holds `op` on the files `picks` chooses at `gate`.
    pub fn new(
        gate: &Arc<Gate>,
        op: FileOp,
        picks: impl Fn(&Path) -> bool + Send + Sync + 'static,
    ) -> HoldAtGate {
        HoldAtGate {
            gate: Arc::clone(gate),
            op,
            picks: Box::new(picks),
        }
    }
}

impl fmt::Debug for HoldAtGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HoldAtGate")
            .field("gate", &self.gate)
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

impl Interpose for HoldAtGate {
    fn hooks_files(&self, _options: OpenOptions) -> bool {
        true
    }

    fn before_file(&self, op: FileOp, path: &Path) -> io::Result<()> {
        if op == self.op && (self.picks)(path) {
            self.gate.pass();
        }
        Ok(())
    }
}

/// Whether `path` is a segment file (`.log`) in a directory named `dir`.
pub fn is_segment_in(path: &Path, dir: &str) -> bool {
    path.extension().is_some_and(|e| e == "log")
        && path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|name| name == dir)
}

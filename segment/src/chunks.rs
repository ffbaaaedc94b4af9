//! Recycled read buffers for the active segment's read path.
//!
//! Reads of the active segment `pread` into owned buffers that the records
//! returned then share. A fresh buffer costs a page fault per 4 KiB on its first
//! touch, which on some machines (virtual machines especially) is slower than the
//! read itself: a replay from the page cache spent most of its time there. So a
//! buffer goes back to a process-wide pool when the last record that shares it is
//! dropped, and the next read takes it from there, its pages already resident.
//!
//! Buffers come in power-of-two sizes from [`CLASS_MIN`] to [`CLASS_MAX`]; a
//! larger request gets a buffer of its own that is not pooled. The pool keeps at
//! most [`POOL_BYTES_MAX`] bytes; buffers beyond that are freed.

use std::sync::Mutex;

/// Smallest pooled buffer.
pub(crate) const CLASS_MIN: usize = 64 << 10;
/// Largest pooled buffer.
pub(crate) const CLASS_MAX: usize = 8 << 20;
const CLASSES: usize = (CLASS_MAX / CLASS_MIN).trailing_zeros() as usize + 1;
/// Most bytes of free buffers the pool keeps.
const POOL_BYTES_MAX: usize = 64 << 20;

/// Free buffers by class.
pub(crate) struct Pool {
    free: Mutex<Free>,
}

struct Free {
    by_class: [Vec<Vec<u8>>; CLASSES],
    bytes: usize,
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            free: Mutex::new(Free {
                by_class: [const { Vec::new() }; CLASSES],
                bytes: 0,
            }),
        }
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Free> {
        // The lists hold no invariant a panic elsewhere could break.
        self.free
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// A buffer whose length is at least `len`.
    pub(crate) fn chunk(&'static self, len: usize) -> Chunk {
        let Some(class) = class_of(len) else {
            return Chunk {
                buf: vec![0; len],
                pool: self,
            };
        };
        let reused = {
            let mut free = self.free();
            let buf = free.by_class[class].pop();
            if let Some(buf) = &buf {
                free.bytes -= buf.len();
            }
            buf
        };
        let buf = reused.unwrap_or_else(|| vec![0; CLASS_MIN << class]);
        Chunk { buf, pool: self }
    }

    fn give_back(&self, buf: &mut Vec<u8>) {
        let len = buf.len();
        // Only buffers of a class size are pooled (an unpooled one may be any length).
        let Some(class) = class_of(len).filter(|class| CLASS_MIN << class == len) else {
            return;
        };
        let mut free = self.free();
        if free.bytes + len <= POOL_BYTES_MAX {
            free.bytes += len;
            free.by_class[class].push(std::mem::take(buf));
        }
    }
}

/// The process's pool.
pub(crate) static POOL: Pool = Pool::new();

/// The class of a buffer of at least `len` bytes, if one is that large.
fn class_of(len: usize) -> Option<usize> {
    let size = len.max(CLASS_MIN).checked_next_power_of_two()?;
    (size <= CLASS_MAX).then(|| (size / CLASS_MIN).trailing_zeros() as usize)
}

/// A read buffer of at least the length asked for; its contents are whatever the
/// last user left (callers read into it before looking). It returns to the pool
/// when dropped.
pub(crate) struct Chunk {
    buf: Vec<u8>,
    pool: &'static Pool,
}

impl Chunk {
    /// The whole buffer.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The whole buffer, to read into.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk")
            .field("len", &self.buf.len())
            .finish()
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.pool.give_back(&mut self.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_to_powers_of_two() {
        assert_eq!(class_of(0), Some(0));
        assert_eq!(class_of(1), Some(0));
        assert_eq!(class_of(CLASS_MIN), Some(0));
        assert_eq!(class_of(CLASS_MIN + 1), Some(1));
        assert_eq!(class_of(CLASS_MAX), Some(CLASSES - 1));
        assert_eq!(class_of(CLASS_MAX + 1), None);
        assert_eq!(class_of(usize::MAX), None);
    }

    #[test]
    fn buffers_are_long_enough_and_come_back() {
        let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
        for len in [
            1,
            CLASS_MIN - 1,
            CLASS_MIN + 1,
            3 << 20,
            CLASS_MAX,
            CLASS_MAX + 7,
        ] {
            let chunk = pool.chunk(len);
            assert!(chunk.bytes().len() >= len);
            if len > CLASS_MAX {
                assert_eq!(chunk.bytes().len(), len, "an unpooled buffer is exact");
            } else {
                assert!(chunk.bytes().len() < 2 * len.max(CLASS_MIN));
            }
        }
        // A dropped buffer is what the next request of its class gets.
        let mut chunk = pool.chunk(2 << 20);
        chunk.bytes_mut()[..8].copy_from_slice(b"recycled");
        drop(chunk);
        assert_eq!(&pool.chunk(2 << 20).bytes()[..8], b"recycled");
        // Past the pool's limit, buffers are freed rather than kept.
        let pool: &'static Pool = Box::leak(Box::new(Pool::new()));
        let held: Vec<Chunk> = (0..POOL_BYTES_MAX / CLASS_MAX + 2)
            .map(|_| pool.chunk(CLASS_MAX))
            .collect();
        drop(held);
        assert!(pool.free().bytes <= POOL_BYTES_MAX);
        assert_eq!(
            pool.free().by_class[CLASSES - 1].len(),
            POOL_BYTES_MAX / CLASS_MAX
        );
    }
}

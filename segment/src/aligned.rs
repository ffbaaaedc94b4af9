//! A growable byte buffer whose start is aligned to 4 KiB, for `O_DIRECT` writes.

use crate::io::DIRECT_IO_ALIGNMENT;
use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::Mutex;

/// A byte buffer aligned to [`DIRECT_IO_ALIGNMENT`] whose capacity is a multiple of it.
///
/// Invariant: `ptr` points to an allocation of `capacity` bytes made with
/// `layout(capacity)`, all of them initialized (zeroed at allocation), and
/// `len <= capacity`.
pub(crate) struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    capacity: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like Vec<u8>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only allow reads of initialized bytes.
unsafe impl Sync for AlignedBuf {}

fn layout(capacity: usize) -> Layout {
    Layout::from_size_align(capacity, DIRECT_IO_ALIGNMENT).expect("buffer layout must be valid")
}

fn round_up(value: usize) -> usize {
    value.div_ceil(DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT
}

impl AlignedBuf {
    /// An empty buffer with room for at least `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = round_up(capacity.max(1));
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout(capacity)) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout(capacity));
        };
        AlignedBuf {
            ptr,
            len: 0,
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// The first `len` bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `capacity >= len` bytes are allocated and initialized.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The whole capacity, initialized, for writes that round up to a block.
    fn full_mut(&mut self) -> &mut [u8] {
        // SAFETY: all `capacity` bytes are allocated and initialized; we hold `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.capacity) }
    }

    fn full(&self) -> &[u8] {
        // SAFETY: as in `full_mut`, shared.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.capacity) }
    }

    /// Ensures room for `additional` more bytes, keeping the contents.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let needed = self.len + additional;
        if needed <= self.capacity {
            return;
        }
        let mut grown = AlignedBuf::with_capacity(needed.max(self.capacity * 2));
        grown.full_mut()[..self.len].copy_from_slice(self.as_slice());
        grown.len = self.len;
        *self = grown;
    }

    /// Appends `count` bytes and returns them for the caller to fill.
    pub(crate) fn extend_uninit(&mut self, count: usize) -> &mut [u8] {
        self.reserve(count);
        let start = self.len;
        self.len += count;
        &mut self.full_mut()[start..start + count]
    }

    /// Appends a copy of `bytes`.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.extend_uninit(bytes.len()).copy_from_slice(bytes);
    }

    /// The first `len` bytes of the contents, to overwrite in place.
    pub(crate) fn prefix_mut(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= self.len);
        &mut self.full_mut()[..len]
    }

    /// The contents padded with zeros to a multiple of `alignment` (which divides
    /// the buffer's own alignment): what an `O_DIRECT` write sends.
    pub(crate) fn padded(&mut self, alignment: usize) -> &[u8] {
        assert!(alignment > 0 && DIRECT_IO_ALIGNMENT.is_multiple_of(alignment));
        let padded_len = self.len.div_ceil(alignment) * alignment;
        let len = self.len;
        self.full_mut()[len..padded_len].fill(0);
        &self.full()[..padded_len]
    }
}

/// Bytes of idle staging buffers a [`BufferPool`] keeps for reuse; beyond this a
/// returned buffer is freed. Enough for the buffers of a few commit rounds of a
/// dozen busy logs (what makes reuse pay: a fresh buffer is page-faulted and
/// zeroed), small next to what a thousand idle logs would hold if each kept its own.
pub(crate) const POOL_BYTES_MAX: usize = 32 << 20;

/// Buffers a [`BufferPool`] keeps at most, whatever their size.
const POOL_BUFFERS_MAX: usize = 256;

/// Smaller buffers are freed rather than kept: allocating them again costs little,
/// and they would crowd out the large ones whose reuse saves page faults.
const POOL_BUFFER_BYTES_MIN: usize = 64 << 10;

/// Staging buffers shared by every log of a storage: a log takes one when it stages
/// a round and gives it back once the round is written, so that memory follows the
/// logs that are writing, not the number of logs.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    idle: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    buffers: Vec<AlignedBuf>,
    bytes: usize,
}

impl BufferPool {
    /// An empty buffer with room for at least `capacity` bytes: the most recently
    /// returned one that is large enough, else a new one.
    pub(crate) fn take(&self, capacity: usize) -> AlignedBuf {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let found = idle
            .buffers
            .iter()
            .rposition(|buf| buf.capacity() >= capacity);
        let Some(index) = found else {
            drop(idle);
            return AlignedBuf::with_capacity(capacity);
        };
        let mut buf = idle.buffers.swap_remove(index);
        idle.bytes -= buf.capacity();
        drop(idle);
        buf.clear();
        buf
    }

    /// Keeps `buf` for reuse, or frees it when it is small or the pool is full.
    pub(crate) fn give(&self, buf: AlignedBuf) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let fits = buf.capacity() >= POOL_BUFFER_BYTES_MIN
            && idle.bytes + buf.capacity() <= POOL_BYTES_MAX
            && idle.buffers.len() < POOL_BUFFERS_MAX;
        if fits {
            idle.bytes += buf.capacity();
            idle.buffers.push(buf);
        }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `with_capacity` with this very layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout(self.capacity)) }
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! The buffer stays aligned, keeps its bytes when it grows and pads with zeros.
    use super::*;

    #[test]
    fn grows_aligned_and_pads_with_zeros() {
        let mut buf = AlignedBuf::with_capacity(10);
        assert_eq!(buf.capacity(), DIRECT_IO_ALIGNMENT);
        buf.extend_from_slice(&[7u8; 5000]);
        assert_eq!(buf.as_slice().as_ptr() as usize % DIRECT_IO_ALIGNMENT, 0);
        assert!(buf.as_slice().iter().all(|b| *b == 7));
        buf.clear();
        buf.extend_from_slice(&[1u8; 3]);
        let padded = buf.padded(DIRECT_IO_ALIGNMENT);
        assert_eq!(padded.len(), DIRECT_IO_ALIGNMENT);
        assert_eq!(&padded[..3], &[1, 1, 1]);
        assert!(padded[3..].iter().all(|b| *b == 0));
        assert_eq!(buf.padded(1).len(), 3);
    }

    /// The pool hands back a returned buffer that is large enough, allocates when
    /// none is, and keeps no more than its byte bound.
    #[test]
    fn pool_reuses_large_enough_buffers_within_its_bound() {
        let pool = BufferPool::default();
        let mut buf = pool.take(100_000);
        buf.extend_from_slice(&[9u8; 10]);
        let address = buf.as_slice().as_ptr();
        pool.give(buf);
        let small_enough = pool.take(50_000);
        assert_eq!(small_enough.as_slice().as_ptr(), address);
        assert_eq!(small_enough.len(), 0, "a reused buffer comes back empty");
        pool.give(small_enough);
        let larger = pool.take(200_000);
        assert!(larger.capacity() >= 200_000);
        assert_ne!(larger.as_slice().as_ptr(), address);
        for _ in 0..(POOL_BYTES_MAX / (1 << 20)) + 4 {
            pool.give(AlignedBuf::with_capacity(1 << 20));
        }
        let idle = pool.idle.lock().unwrap();
        assert!(idle.bytes <= POOL_BYTES_MAX, "{} bytes kept", idle.bytes);
        assert_eq!(
            idle.bytes,
            idle.buffers.iter().map(AlignedBuf::capacity).sum::<usize>()
        );
    }
}

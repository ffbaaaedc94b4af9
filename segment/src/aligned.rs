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

/// Large buffers a [`BufferPool`] keeps at most.
const POOL_BUFFERS_MAX: usize = 256;

/// Buffers from this size up are large: kept in one list and handed out most
/// recent first, whatever their size, as a log's stage that grows while staging
/// copies what it holds (a larger buffer than asked for saves that copy, and a new
/// one costs page faults). Smaller ones are kept by size class.
const POOL_LARGE_BYTES_MIN: usize = 64 << 10;

/// Small buffers a [`BufferPool`] keeps at most, of each class.
const POOL_SMALL_PER_CLASS_MAX: usize = 1024;

/// Classes of small buffers: class `k` holds those of `2^(k + 12)` bytes up to
/// twice that (every capacity is a whole number of 4 KiB blocks).
const POOL_SMALL_CLASSES: usize = 4;
const _: () = assert!(DIRECT_IO_ALIGNMENT == 1 << 12);
const _: () = assert!(POOL_LARGE_BYTES_MIN == DIRECT_IO_ALIGNMENT << POOL_SMALL_CLASSES);

/// Staging buffers shared by every log of a storage: a log takes one when it stages
/// a round and gives it back once the round is written, so that memory follows the
/// logs that are writing, not the number of logs.
///
/// Small buffers are kept as well as large ones: 1,000 shards written together
/// stage a round of about 16 KiB each, and freeing those for fresh (zeroed) ones
/// at every round cost about a tenth of such a run's CPU (docs/benchmarks.md,
/// issue 16, session 34).
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    idle: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    large: Vec<AlignedBuf>,
    small: [Vec<AlignedBuf>; POOL_SMALL_CLASSES],
    bytes: usize,
}

/// The class of a small buffer of `capacity` bytes.
fn class_of(capacity: usize) -> usize {
    (capacity / DIRECT_IO_ALIGNMENT).ilog2() as usize
}

/// The first class whose every buffer holds `capacity` bytes (at most the number
/// of classes: none does).
fn class_for(capacity: usize) -> usize {
    let blocks = capacity.div_ceil(DIRECT_IO_ALIGNMENT).max(1);
    (blocks.next_power_of_two().ilog2() as usize).min(POOL_SMALL_CLASSES)
}

impl BufferPool {
    /// An empty buffer with room for at least `capacity` bytes: for a small
    /// capacity, the most recent of the smallest class sure to hold it or of the
    /// next; else (or if those have none) the most recently returned large one that
    /// holds it; else a new one.
    pub(crate) fn take(&self, capacity: usize) -> AlignedBuf {
        self.take_from(capacity, 2, true)
    }

    /// [`BufferPool::take`] from the first small class only (less than four times
    /// `capacity`, and one block for a block or less), never a large buffer: for an
    /// idle log's stage, which must stay small.
    pub(crate) fn take_small(&self, capacity: usize) -> AlignedBuf {
        self.take_from(capacity, 1, false)
    }

    fn take_from(&self, capacity: usize, classes: usize, large: bool) -> AlignedBuf {
        let capacity = capacity.max(1);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let first = class_for(capacity);
        let mut found = idle
            .small
            .iter_mut()
            .skip(first)
            .take(classes)
            .find_map(Vec::pop);
        if found.is_none() && large {
            let index = idle
                .large
                .iter()
                .rposition(|buf| buf.capacity() >= capacity);
            found = index.map(|index| idle.large.swap_remove(index));
        }
        let Some(mut buf) = found else {
            drop(idle);
            return AlignedBuf::with_capacity(capacity);
        };
        idle.bytes -= buf.capacity();
        drop(idle);
        buf.clear();
        buf
    }

    /// Keeps `buf` for reuse, or frees it when the pool is full.
    pub(crate) fn give(&self, buf: AlignedBuf) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.bytes + buf.capacity() > POOL_BYTES_MAX {
            return;
        }
        let capacity = buf.capacity();
        let list = if capacity >= POOL_LARGE_BYTES_MIN {
            Some(&mut idle.large).filter(|list| list.len() < POOL_BUFFERS_MAX)
        } else {
            Some(&mut idle.small[class_of(capacity)])
                .filter(|list| list.len() < POOL_SMALL_PER_CLASS_MAX)
        };
        if let Some(list) = list {
            list.push(buf);
            idle.bytes += capacity;
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
        let kept: Vec<&AlignedBuf> = idle.small.iter().flatten().chain(&idle.large).collect();
        assert_eq!(
            idle.bytes,
            kept.iter().map(|buf| buf.capacity()).sum::<usize>()
        );
    }

    /// Small buffers are kept too, each in its class: a take gets one that is
    /// large enough, never a smaller one, and the most recent of its class.
    #[test]
    fn pool_keeps_small_buffers_by_size_class() {
        let pool = BufferPool::default();
        let sizes = [4096, 8192, 12288, 16384, 20480, 32768, 40960];
        let addresses: Vec<usize> = sizes
            .iter()
            .map(|&size| {
                let buf = AlignedBuf::with_capacity(size);
                let address = buf.ptr.as_ptr() as usize;
                pool.give(buf);
                address
            })
            .collect();
        // 12,288 and 16,384 fit 9,000 bytes, but only 16,384's class (and up) is
        // sure to: the most recent of the first class with any is 20,480.
        let buf = pool.take(9_000);
        assert!(buf.capacity() >= 9_000);
        assert_eq!(buf.ptr.as_ptr() as usize, addresses[4]);
        let buf = pool.take(4096);
        assert_eq!(buf.ptr.as_ptr() as usize, addresses[0]);
        for want in [1, 5000, 16384, 30000, 40000, 50000] {
            let buf = pool.take(want);
            assert!(buf.capacity() >= want, "{want}: {}", buf.capacity());
            assert_eq!(buf.len(), 0);
        }
        // An idle stage's buffer is never a large one, even when only that is kept.
        pool.give(AlignedBuf::with_capacity(1 << 20));
        assert_eq!(pool.take_small(100).capacity(), DIRECT_IO_ALIGNMENT);
        assert_eq!(pool.take(100).capacity(), 1 << 20);
    }
}

//! Request-body buffers kept between requests.
//!
//! A PutRecords body is about 0.5 to 5 MB. Collected into a fresh `Vec`, it
//! was grown by doubling (each step a `realloc` copying what was read so far)
//! into memory the allocator had just handed back to the kernel, so every
//! page faulted in again: a server profile showed 6 to 7 % of its CPU there,
//! more than the body's one necessary copy out of hyper's frames. A buffer
//! kept from an earlier request has its pages in place and its capacity grown.
//!
//! Shared by every connection rather than held by each: an HTTP/2 connection
//! has requests in flight together, and an idle connection holds nothing.

use std::sync::Mutex;

/// How many buffers are kept at most: one per request in flight for a few
/// producers; more requests at once allocate, as before.
const BODY_BUFFERS_KEPT_MAX: usize = 16;

/// The largest capacity kept, bytes: a 1,000-record PutRecords of 1 KiB records
/// in JSON fits; a buffer grown beyond it for a rare large body is freed, so
/// that idle buffers hold at most 16 x 2 MiB.
const BODY_BUFFER_BYTES_KEPT_MAX: usize = 2 << 20;

/// The kept buffers (each empty, its capacity what a request grew it to).
#[derive(Debug, Default)]
pub(crate) struct BodyBuffers(Mutex<Vec<Vec<u8>>>);

impl BodyBuffers {
    /// An empty buffer for a body of `expected_bytes` (its length as announced,
    /// 0 if not): a kept one that holds it without growing, else a new one of
    /// that capacity. A kept buffer too small is freed rather than grown, as
    /// growing it would copy its whole old capacity.
    pub(crate) fn take(&self, expected_bytes: usize) -> Vec<u8> {
        let mut kept = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        match kept
            .iter()
            .position(|buffer| buffer.capacity() >= expected_bytes)
        {
            Some(index) => kept.swap_remove(index),
            None => {
                kept.pop();
                drop(kept);
                Vec::with_capacity(expected_bytes)
            }
        }
    }

    /// Keeps `buffer` for a later request, unless it is larger than kept
    /// buffers may be or enough are kept already.
    pub(crate) fn give_back(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() > BODY_BUFFER_BYTES_KEPT_MAX {
            return;
        }
        buffer.clear();
        let mut kept = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        if kept.len() < BODY_BUFFERS_KEPT_MAX {
            kept.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer given back is handed out again, emptied, with its allocation.
    #[test]
    fn a_buffer_given_back_is_reused() {
        let buffers = BodyBuffers::default();
        let mut buffer = buffers.take(1000);
        assert!(buffer.capacity() >= 1000);
        buffer.extend_from_slice(&[7; 1000]);
        let address = buffer.as_ptr();
        buffers.give_back(buffer);
        let again = buffers.take(500);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), address);
    }

    /// A kept buffer too small for the announced body is not grown, and buffers
    /// beyond the kept size or count are not kept.
    #[test]
    fn what_is_kept_is_bounded() {
        let buffers = BodyBuffers::default();
        buffers.give_back(Vec::with_capacity(100));
        let larger = buffers.take(4096);
        assert!(larger.capacity() >= 4096);
        assert!(buffers.0.lock().unwrap().is_empty());
        buffers.give_back(Vec::with_capacity(BODY_BUFFER_BYTES_KEPT_MAX + 1));
        assert!(buffers.0.lock().unwrap().is_empty());
        for _ in 0..BODY_BUFFERS_KEPT_MAX + 3 {
            buffers.give_back(Vec::with_capacity(64));
        }
        assert_eq!(buffers.0.lock().unwrap().len(), BODY_BUFFERS_KEPT_MAX);
    }
}

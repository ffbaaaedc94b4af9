//! How much of a segment this process has already verified, so that a replay
//! checks each batch's CRC once, not on every read.
//!
//! A read verifies the checksum of every batch it returns unless the batch lies in
//! its segment's verified prefix: the batches from the segment's first one up to
//! the watermark, each of which a read (or the scan that rebuilt the indexes) of
//! this process has checked, from the same page cache, since the log was opened.
//! Re-checking them on every read cost about a quarter of a replay from the page
//! cache (issue 16's profile), for no new protection against the cases checksums
//! are there for: a torn or damaged write is caught by recovery and by the first
//! read, and damage on the device after that is what `shardlog verify` (a scrub of
//! every batch) finds. Kafka brokers do the same: they check CRCs when a batch is
//! written and recovered, not on every fetch. The watermark lives in memory only:
//! every open of a log verifies again.
//!
//! The prefix grows only from its end, batch by batch, in position order, so it
//! always ends on a batch boundary; a read that starts past it verifies as before
//! and leaves it where it was (a replay from the start, the case that matters,
//! extends it).

use crate::format::SEGMENT_HEADER_LEN;
use std::sync::atomic::{AtomicU64, Ordering};

/// The end offset of a segment's verified prefix.
#[derive(Debug)]
pub(crate) struct VerifiedPrefix {
    end: AtomicU64,
}

impl VerifiedPrefix {
    /// A prefix ending at `end`.
    pub(crate) fn new(end: u64) -> VerifiedPrefix {
        VerifiedPrefix {
            end: AtomicU64::new(end),
        }
    }

    /// The empty prefix of a segment nothing has verified yet: it ends where the
    /// first batch starts.
    pub(crate) fn none() -> VerifiedPrefix {
        VerifiedPrefix::new(SEGMENT_HEADER_LEN as u64)
    }

    /// Where the verified prefix ends.
    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Whether the batch at `range` lies wholly inside the verified prefix.
    pub(crate) fn covers(&self, range: std::ops::Range<u64>) -> bool {
        range.end <= self.end()
    }

    /// Records that the batch at `range` verified: the prefix grows when the batch
    /// starts where it ends (otherwise a batch between them is unverified).
    pub(crate) fn extend(&self, range: std::ops::Range<u64>) {
        // Losing the race to another reader that verified the same batch is fine:
        // the prefix then already ends at or past this batch.
        let _ =
            self.end
                .compare_exchange(range.start, range.end, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// Moves the end to `end` if that is further: for bytes verified elsewhere
    /// (the same file's prefix verified while it was the active segment).
    pub(crate) fn raise_to(&self, end: u64) {
        self.end.fetch_max(end, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    //! The prefix grows only from its end.
    use super::*;

    /// A batch verified past the end leaves a gap and does not extend the prefix;
    /// one that starts at the end does.
    #[test]
    fn grows_only_from_its_end() {
        let prefix = VerifiedPrefix::new(64);
        prefix.extend(100..200);
        assert_eq!(prefix.end(), 64);
        assert!(!prefix.covers(100..200));
        prefix.extend(64..100);
        prefix.extend(100..200);
        assert_eq!(prefix.end(), 200);
        assert!(prefix.covers(100..200));
        assert!(!prefix.covers(150..250));
        prefix.raise_to(150);
        assert_eq!(prefix.end(), 200);
    }
}

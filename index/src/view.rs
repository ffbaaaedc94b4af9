//! Lookups over a verified index: on mapped bytes ([`IndexView`]) or in memory
//! ([`SparseIndex`], for the segment being written).

use crate::{
    check_header, decode_entry, Entry, IndexKind, Result, ENTRY_LEN, ENTRY_TAG_VALUE, HEADER_LEN,
    SEAL_TAG,
};

/// A verified index over borrowed bytes (usually a memory map).
///
/// Construction checks every entry once; lookups are `O(log n)` binary searches
/// that read keys straight from the bytes.
#[derive(Debug, Clone, Copy)]
pub struct IndexView<'a> {
    entries: &'a [u8],
    seal: Option<Entry>,
    torn_bytes: usize,
}

impl<'a> IndexView<'a> {
    /// Verifies `bytes` as an index of `kind` for the segment starting at
    /// `segment_base_position`.
    ///
    /// A bad header is an error. Entries are taken up to the first one that fails
    /// its checksum, decreases the key, or follows the seal; the rest is reported by
    /// [`IndexView::torn_bytes`].
    pub fn parse(bytes: &'a [u8], kind: IndexKind, segment_base_position: u64) -> Result<Self> {
        check_header(bytes, kind, segment_base_position)?;
        let body = &bytes[HEADER_LEN..];
        let mut valid = 0usize;
        let mut seal = None;
        let mut previous_key = None;
        for chunk in body.chunks_exact(ENTRY_LEN) {
            let Some((entry, tag)) = decode_entry(chunk) else {
                break;
            };
            if previous_key.is_some_and(|previous| entry.key < previous) {
                break;
            }
            match tag {
                ENTRY_TAG_VALUE => {
                    valid += 1;
                    previous_key = Some(entry.key);
                }
                SEAL_TAG => {
                    seal = Some(entry);
                    break;
                }
                _ => break,
            }
        }
        let consumed = (valid + usize::from(seal.is_some())) * ENTRY_LEN;
        Ok(IndexView {
            entries: &body[..valid * ENTRY_LEN],
            seal,
            torn_bytes: body.len() - consumed,
        })
    }

    /// The view [`IndexView::parse`] returned for the same `bytes`, rebuilt without
    /// checking every entry again: `entries` and `seal` are what that parse found.
    /// For mapped index files that are immutable once verified. Panics if `bytes`
    /// is too short for `entries`.
    pub fn verified(bytes: &'a [u8], entries: usize, seal: Option<Entry>) -> Self {
        let body = &bytes[HEADER_LEN..];
        let entries_len = entries * ENTRY_LEN;
        let consumed = entries_len + usize::from(seal.is_some()) * ENTRY_LEN;
        assert!(
            consumed <= body.len(),
            "index shorter than when it was verified"
        );
        IndexView {
            entries: &body[..entries_len],
            seal,
            torn_bytes: body.len() - consumed,
        }
    }

    /// Number of (non-seal) entries.
    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY_LEN
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `index`. Panics if out of range.
    pub fn get(&self, index: usize) -> Entry {
        let at = index * ENTRY_LEN;
        Entry {
            key: crate::read_u64(self.entries, at),
            value: crate::read_u64(self.entries, at + 8),
        }
    }

    fn key(&self, index: usize) -> u64 {
        crate::read_u64(self.entries, index * ENTRY_LEN)
    }

    /// The seal entry, present when the index is complete.
    pub fn seal(&self) -> Option<Entry> {
        self.seal
    }

    /// Bytes after the verified entries (and seal) that did not verify.
    pub fn torn_bytes(&self) -> usize {
        self.torn_bytes
    }

    /// The last entry, if any.
    pub fn last(&self) -> Option<Entry> {
        self.len().checked_sub(1).map(|index| self.get(index))
    }

    /// The last entry whose key is `<= key`.
    pub fn floor(&self, key: u64) -> Option<Entry> {
        let count = partition_point(self.len(), |index| self.key(index) <= key);
        count.checked_sub(1).map(|index| self.get(index))
    }

    /// The last entry whose key is `< key`.
    pub fn below(&self, key: u64) -> Option<Entry> {
        let count = partition_point(self.len(), |index| self.key(index) < key);
        count.checked_sub(1).map(|index| self.get(index))
    }

    /// All entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        (0..self.len()).map(|index| self.get(index))
    }
}

/// Number of leading indexes in `0..len` for which `pred` holds (pred must be
/// true then false along the range).
fn partition_point(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0usize, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if pred(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}

/// An in-memory index for the segment being written, with the same lookups.
#[derive(Debug, Clone, Default)]
pub struct SparseIndex {
    entries: Vec<Entry>,
}

impl SparseIndex {
    /// An empty index.
    pub fn new() -> Self {
        SparseIndex::default()
    }

    /// Builds an index from a verified view.
    pub fn from_view(view: &IndexView<'_>) -> Self {
        SparseIndex {
            entries: view.iter().collect(),
        }
    }

    /// Appends an entry. Keys must not decrease: a decreasing key is a bug in the caller.
    pub fn push(&mut self, entry: Entry) {
        if let Some(last) = self.entries.last() {
            assert!(
                entry.key >= last.key,
                "index keys must not decrease: {} after {}",
                entry.key,
                last.key
            );
        }
        self.entries.push(entry);
    }

    /// The entries in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last entry whose key is `<= key`.
    pub fn floor(&self, key: u64) -> Option<Entry> {
        let count = self.entries.partition_point(|entry| entry.key <= key);
        count.checked_sub(1).map(|index| self.entries[index])
    }

    /// The last entry whose key is `< key`.
    pub fn below(&self, key: u64) -> Option<Entry> {
        let count = self.entries.partition_point(|entry| entry.key < key);
        count.checked_sub(1).map(|index| self.entries[index])
    }
}

#[cfg(test)]
mod tests {
    //! Index file round trips, torn tails and lookups against a linear reference.
    use super::*;
    use crate::{encode_entry, encode_file, encode_header, Error};
    use proptest::prelude::*;

    fn sorted_entries(raw: Vec<(u64, u64)>) -> Vec<Entry> {
        let mut entries: Vec<Entry> = raw
            .into_iter()
            .map(|(key, value)| Entry { key, value })
            .collect();
        entries.sort();
        entries
    }

    proptest! {
        /// Lookups over the encoded file agree with a linear scan of the entries.
        #[test]
        fn lookups_match_linear_scan(raw in proptest::collection::vec((0u64..1000, any::<u64>()), 0..200), probe in 0u64..1100) {
            let entries = sorted_entries(raw);
            let bytes = encode_file(IndexKind::Timestamp, 7, &entries, None);
            let view = IndexView::parse(&bytes, IndexKind::Timestamp, 7).unwrap();
            prop_assert_eq!(view.len(), entries.len());
            prop_assert_eq!(view.torn_bytes(), 0);
            let floor = entries.iter().rev().find(|e| e.key <= probe).copied();
            let below = entries.iter().rev().find(|e| e.key < probe).copied();
            prop_assert_eq!(view.floor(probe), floor);
            prop_assert_eq!(view.below(probe), below);
            let sparse = SparseIndex::from_view(&view);
            prop_assert_eq!(sparse.floor(probe), floor);
            prop_assert_eq!(sparse.below(probe), below);
        }

        /// Cutting the file anywhere inside the entries keeps exactly the whole entries before the cut.
        #[test]
        fn torn_tail_keeps_whole_entries(count in 1usize..40, cut_seed in any::<usize>()) {
            let entries: Vec<Entry> = (0..count as u64).map(|i| Entry { key: i * 10, value: i * 4096 }).collect();
            let bytes = encode_file(IndexKind::Position, 0, &entries, Some(Entry { key: count as u64 * 10, value: 1 }));
            let cut = HEADER_LEN + cut_seed % (bytes.len() - HEADER_LEN + 1);
            let view = IndexView::parse(&bytes[..cut], IndexKind::Position, 0).unwrap();
            let whole = (cut - HEADER_LEN) / ENTRY_LEN;
            prop_assert_eq!(view.len(), whole.min(count));
            prop_assert_eq!(view.seal().is_some(), whole > count);
            prop_assert_eq!(view.torn_bytes(), (cut - HEADER_LEN) % ENTRY_LEN);
        }
    }

    /// A view rebuilt from what `parse` found answers like the parsed one.
    #[test]
    fn verified_view_matches_parsed() {
        let entries: Vec<Entry> = (0..50)
            .map(|i| Entry {
                key: i * 3,
                value: i,
            })
            .collect();
        let bytes = encode_file(
            IndexKind::Position,
            0,
            &entries,
            Some(Entry { key: 150, value: 9 }),
        );
        let parsed = IndexView::parse(&bytes, IndexKind::Position, 0).unwrap();
        let rebuilt = IndexView::verified(&bytes, parsed.len(), parsed.seal());
        for probe in 0..160 {
            assert_eq!(rebuilt.floor(probe), parsed.floor(probe));
            assert_eq!(rebuilt.below(probe), parsed.below(probe));
        }
        assert_eq!(rebuilt.seal(), Some(Entry { key: 150, value: 9 }));
    }

    /// A flipped bit in an entry ends the verified prefix at that entry.
    #[test]
    fn flipped_bit_ends_prefix() {
        let entries: Vec<Entry> = (0..10)
            .map(|i| Entry {
                key: i,
                value: i * 100,
            })
            .collect();
        let mut bytes = encode_file(IndexKind::Position, 0, &entries, None);
        bytes[HEADER_LEN + 4 * ENTRY_LEN + 9] ^= 0x10;
        let view = IndexView::parse(&bytes, IndexKind::Position, 0).unwrap();
        assert_eq!(view.len(), 4);
        assert_eq!(view.torn_bytes(), 6 * ENTRY_LEN);
    }

    /// Zero-filled space after the entries is not mistaken for entries.
    #[test]
    fn zero_fill_is_not_an_entry() {
        let mut bytes = encode_header(IndexKind::Position, 3).to_vec();
        bytes.extend_from_slice(&encode_entry(Entry { key: 3, value: 64 }));
        bytes.extend_from_slice(&[0u8; 4 * ENTRY_LEN]);
        let view = IndexView::parse(&bytes, IndexKind::Position, 3).unwrap();
        assert_eq!(view.len(), 1);
    }

    /// Header problems are errors that say what is wrong.
    #[test]
    fn bad_headers_are_rejected() {
        let good = encode_header(IndexKind::Position, 5);
        assert_eq!(
            IndexView::parse(&good[..10], IndexKind::Position, 5).unwrap_err(),
            Error::TooShort { len: 10 }
        );
        assert!(matches!(
            IndexView::parse(&good, IndexKind::Timestamp, 5),
            Err(Error::KindMismatch { found: 1, .. })
        ));
        assert!(matches!(
            IndexView::parse(&good, IndexKind::Position, 6),
            Err(Error::BaseMismatch {
                expected: 6,
                found: 5
            })
        ));
        let mut flipped = good;
        flipped[9] ^= 1;
        assert!(matches!(
            IndexView::parse(&flipped, IndexKind::Position, 5),
            Err(Error::HeaderChecksum { .. })
        ));
        let mut magic = good;
        magic[0] = b'X';
        assert!(matches!(
            IndexView::parse(&magic, IndexKind::Position, 5),
            Err(Error::BadMagic { .. })
        ));
    }

    /// The sampler indexes the first batch and then one per interval.
    #[test]
    fn sampler_spacing() {
        let mut sampler = crate::Sampler::new(4096);
        let taken: Vec<u64> = [0u64, 100, 4000, 4096, 5000, 8192, 8200]
            .into_iter()
            .filter(|offset| sampler.should_index(*offset))
            .collect();
        assert_eq!(taken, vec![0, 4096, 8192]);
        let mut every = crate::Sampler::new(0);
        assert!(every.should_index(0) && every.should_index(1) && every.should_index(1));
    }
}

//! Routing records to shards by hash key, as Kinesis does.
//!
//! A record's hash key is the MD5 of its UTF-8 partition key read as an
//! unsigned 128-bit big-endian integer, or its ExplicitHashKey when given.
//! Each open shard owns an inclusive range of hash keys, and the open shards'
//! ranges tile `[0, 2^128 − 1]` without gap or overlap.

use std::fmt;

use md5::{Digest, Md5};

/// Largest hash key, 2^128 − 1; hash keys run from 0 to this, inclusive.
pub const HASH_KEY_MAX: u128 = u128::MAX;

/// Largest shard count [`even_ranges`] accepts: Kinesis's limit of 10,000
/// shards per stream.
pub const SHARD_COUNT_MAX: u32 = 10_000;

/// Digits in the longest hash key Kinesis accepts: 2^128 − 1 has 39.
pub const HASH_KEY_DIGITS_MAX: usize = 39;

/// A hash key: where a record routes, `0..=2^128 − 1`. Requests give it as
/// decimal text, which [`HashKey::parse`] reads once at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashKey(pub u128);

impl HashKey {
    /// Reads a hash key from its decimal text (see [`parse_hash_key`]).
    pub fn parse(text: &str) -> Result<HashKey, RoutingError> {
        parse_hash_key(text).map(HashKey)
    }
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a hash key, a shard count, or a split or merge of hash ranges was refused.
/// The texts are for logs; a service words each case for its clients. Not
/// `non_exhaustive`, so that a service's wording can match every case.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoutingError {
    /// The text does not match the hash key pattern `0|([1-9]\d{0,38})`.
    #[error("hash key '{text}' is not a decimal integer")]
    HashKeyNotDecimal {
        /// The text as given.
        text: String,
    },
    /// The text is a decimal integer larger than 2^128 − 1.
    #[error("hash key '{text}' is above {HASH_KEY_MAX}")]
    HashKeyOutOfRange {
        /// The text as given.
        text: String,
    },
    /// A stream cannot be laid out over this many shards.
    #[error("shard count {shard_count} is outside 1..={SHARD_COUNT_MAX}")]
    ShardCountOutOfRange {
        /// The shard count asked for.
        shard_count: u32,
    },
    /// A split key must leave each child at least two hash keys.
    #[error("split key {key} leaves a side of {range} fewer than two hash keys")]
    SplitKeyOutsideRange {
        /// The new starting hash key asked for.
        key: u128,
        /// The range that was to be split.
        range: HashRange,
    },
    /// Only ranges where one ends right before the other starts can merge.
    #[error("hash ranges {first} and {second} are not adjacent")]
    NotAdjacent {
        /// The range `merge` was called on.
        first: HashRange,
        /// The range it was asked to merge with.
        second: HashRange,
    },
}

/// An inclusive range of hash keys, `start..=end`, owned by one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRange {
    /// The smallest hash key in the range (Kinesis's StartingHashKey).
    pub start: u128,
    /// The largest hash key in the range, inclusive (Kinesis's EndingHashKey).
    pub end: u128,
}

impl HashRange {
    /// Every hash key, `[0, 2^128 − 1]`: the range of a single-shard stream.
    pub const FULL: HashRange = HashRange {
        start: 0,
        end: HASH_KEY_MAX,
    };

    /// Whether `hash` lies in the range.
    pub fn contains(&self, hash: u128) -> bool {
        self.start <= hash && hash <= self.end
    }

    /// Splits the range as SplitShard does: the left child is
    /// `[start, new_starting_hash_key − 1]`, the right `[new_starting_hash_key, end]`.
    ///
    /// Kinesis refuses a key that is not both greater than `start + 1` and less
    /// than `end` ("is not both greater than one plus the shard's
    /// StartingHashKey ... and less than the shard's EndingHashKey"), so each
    /// child keeps at least two hash keys; this refuses the same keys.
    pub fn split_at(
        self,
        new_starting_hash_key: u128,
    ) -> Result<(HashRange, HashRange), RoutingError> {
        let key = new_starting_hash_key;
        // `start + 1` overflows only when start is 2^128 − 1, where no key is above it.
        let above_start = self.start.checked_add(1).is_some_and(|low| key > low);
        if !(above_start && key < self.end) {
            return Err(RoutingError::SplitKeyOutsideRange { key, range: self });
        }
        let left = HashRange {
            start: self.start,
            end: key - 1,
        };
        let right = HashRange {
            start: key,
            end: self.end,
        };
        Ok((left, right))
    }

    /// Merges two adjacent ranges, in either order, as MergeShards does.
    pub fn merge(self, other: HashRange) -> Result<HashRange, RoutingError> {
        let (low, high) = if self.start <= other.start {
            (self, other)
        } else {
            (other, self)
        };
        // `end + 1` overflows only for a range ending at 2^128 − 1, which nothing follows.
        if low.end.checked_add(1) != Some(high.start) {
            return Err(RoutingError::NotAdjacent {
                first: self,
                second: other,
            });
        }
        Ok(HashRange {
            start: low.start,
            end: high.end,
        })
    }
}

impl fmt::Display for HashRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.start, self.end)
    }
}

/// The hash key of a partition key: MD5 of its UTF-8 bytes, read as an
/// unsigned 128-bit big-endian integer.
pub fn partition_key_hash(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// Parses a hash key (ExplicitHashKey, NewStartingHashKey, ...) from its
/// decimal text: `0|([1-9]\d{0,38})` with a value of at most 2^128 − 1.
pub fn parse_hash_key(text: &str) -> Result<u128, RoutingError> {
    if !matches_decimal_pattern(text, HASH_KEY_DIGITS_MAX) {
        return Err(RoutingError::HashKeyNotDecimal {
            text: text.to_owned(),
        });
    }
    // The pattern admits only digits, so overflow is the one way left to fail.
    text.parse::<u128>()
        .map_err(|_| RoutingError::HashKeyOutOfRange {
            text: text.to_owned(),
        })
}

/// Whether `text` matches `0|([1-9]\d{0,digits_max−1})`, the pattern Kinesis
/// uses for hash keys and sequence numbers: ASCII digits only, no sign, no
/// leading zero, at most `digits_max` digits.
pub(crate) fn matches_decimal_pattern(text: &str, digits_max: usize) -> bool {
    let bytes = text.as_bytes();
    let well_formed = match bytes {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        _ => bytes.iter().all(u8::is_ascii_digit),
    };
    well_formed && bytes.len() <= digits_max
}

/// The hash ranges of a stream created with `shard_count` shards, in shard
/// order, exactly as CreateStream lays them out: with
/// `step = floor(2^128 / shard_count)`, shard `i` starts at `i × step`, each
/// ends one before the next starts, and the last ends at 2^128 − 1.
pub fn even_ranges(shard_count: u32) -> Result<Vec<HashRange>, RoutingError> {
    if !(1..=SHARD_COUNT_MAX).contains(&shard_count) {
        return Err(RoutingError::ShardCountOutOfRange { shard_count });
    }
    if shard_count == 1 {
        // The step, 2^128, does not fit in a u128; one shard takes every key.
        return Ok(vec![HashRange::FULL]);
    }
    let count = u128::from(shard_count);
    let step = even_step(count);
    let ranges = (0..count)
        .map(|index| HashRange {
            start: index * step,
            end: if index + 1 == count {
                HASH_KEY_MAX
            } else {
                (index + 1) * step - 1
            },
        })
        .collect();
    Ok(ranges)
}

/// `floor(2^128 / shard_count)` for `shard_count >= 2`, computed without 2^128.
fn even_step(shard_count: u128) -> u128 {
    debug_assert!(shard_count >= 2);
    // 2^128 = u128::MAX + 1, so the quotient gains one exactly when
    // shard_count divides 2^128, that is when u128::MAX leaves remainder shard_count − 1.
    let carry = u128::MAX % shard_count == shard_count - 1;
    u128::MAX / shard_count + u128::from(carry)
}

/// The value paired with the range that holds `hash`, or `None` when no range
/// does (a gap: the shard that owned it is closed and not listed).
///
/// `ranges` must be sorted by start and disjoint, as the open shards of a
/// stream are; the lookup is a binary search.
pub fn route<T>(ranges: &[(HashRange, T)], hash: u128) -> Option<&T> {
    debug_assert!(
        ranges
            .windows(2)
            .all(|pair| pair[0].0.end < pair[1].0.start),
        "ranges must be sorted by start and disjoint"
    );
    let after = ranges.partition_point(|(range, _)| range.start <= hash);
    let (range, value) = ranges.get(after.checked_sub(1)?)?;
    range.contains(hash).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Asserts that `even_ranges(shard_count)` starts its shards at `starts`
    /// and that each range ends one before the next starts, the last at 2^128 − 1.
    fn assert_even_starts(shard_count: u32, starts: &[u128]) {
        let ranges = even_ranges(shard_count).unwrap();
        let actual: Vec<u128> = ranges.iter().map(|range| range.start).collect();
        assert_eq!(actual, starts, "starts for {shard_count} shards");
        assert_tiles_key_space(&ranges);
    }

    /// Asserts that `ranges` cover `[0, 2^128 − 1]` in order with no gap or overlap.
    fn assert_tiles_key_space(ranges: &[HashRange]) {
        assert_eq!(ranges.first().map(|range| range.start), Some(0));
        assert_eq!(ranges.last().map(|range| range.end), Some(HASH_KEY_MAX));
        for range in ranges {
            assert!(range.start <= range.end, "empty range {range}");
        }
        for pair in ranges.windows(2) {
            assert_eq!(
                pair[0].end + 1,
                pair[1].start,
                "{} then {}",
                pair[0],
                pair[1]
            );
        }
    }

    /// Partition keys hash to the MD5 values Python's hashlib gives, read big-endian.
    #[test]
    fn partition_key_hash_matches_md5_big_endian() {
        let cases: [(&str, u128); 5] = [
            ("", 281949768489412648962353822266799178366),
            ("a", 16955237001963240173058271559858726497),
            ("partition-1", 198019941650871988756153596255032211816),
            (&"k".repeat(256), 301629968840217465112527951012756180897),
            ("clé-日本語-🦀", 313481602952462646766059892389315023867),
        ];
        for (key, expected) in cases {
            assert_eq!(partition_key_hash(key), expected, "key {key:?}");
        }
    }

    /// CreateStream's layout: shard i starts at i × floor(2^128 / N), checked against Python's big integers.
    #[test]
    fn even_ranges_match_kinesis_boundaries() {
        assert_even_starts(1, &[0]);
        assert_even_starts(2, &[0, 170141183460469231731687303715884105728]);
        assert_even_starts(
            3,
            &[
                0,
                113427455640312821154458202477256070485,
                226854911280625642308916404954512140970,
            ],
        );
        assert_even_starts(
            4,
            &[
                0,
                85070591730234615865843651857942052864,
                170141183460469231731687303715884105728,
                255211775190703847597530955573826158592,
            ],
        );
        assert_even_starts(
            7,
            &[
                0,
                48611766702991209066196372490252601636,
                97223533405982418132392744980505203272,
                145835300108973627198589117470757804908,
                194447066811964836264785489961010406544,
                243058833514956045330981862451263008180,
                291670600217947254397178234941515609816,
            ],
        );
    }

    /// The largest stream's boundaries match Python's exact arithmetic at both ends.
    #[test]
    fn even_ranges_for_ten_thousand_shards() {
        let ranges = even_ranges(10_000).unwrap();
        assert_eq!(ranges.len(), 10_000);
        assert_eq!(ranges[0].end, 34028236692093846346337460743176820);
        assert_eq!(ranges[1].start, 34028236692093846346337460743176821);
        assert_eq!(ranges[9998].start, 340214310447554275770681932510281856358);
        assert_eq!(ranges[9999].start, 340248338684246369617028269971025033179);
        assert_tiles_key_space(&ranges);
    }

    /// Zero shards and more than the per-stream limit are errors, not empty or huge layouts.
    #[test]
    fn even_ranges_refuse_bad_counts() {
        assert_eq!(
            even_ranges(0),
            Err(RoutingError::ShardCountOutOfRange { shard_count: 0 })
        );
        assert_eq!(
            even_ranges(SHARD_COUNT_MAX + 1),
            Err(RoutingError::ShardCountOutOfRange {
                shard_count: 10_001
            })
        );
        assert!(even_ranges(SHARD_COUNT_MAX).is_ok());
    }

    /// Every text in `0|([1-9]\d{0,38})` up to 2^128 − 1 parses to its value.
    #[test]
    fn parse_hash_key_accepts_kinesis_pattern() {
        assert_eq!(parse_hash_key("0"), Ok(0));
        assert_eq!(parse_hash_key("7"), Ok(7));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211455"),
            Ok(HASH_KEY_MAX)
        );
        assert_eq!(
            parse_hash_key("99999999999999999999999999999999999999"),
            Ok(99999999999999999999999999999999999999)
        );
    }

    /// Signs, spaces, leading zeros, empty text and 40 digits fail the pattern.
    #[test]
    fn parse_hash_key_rejects_malformed_text() {
        let forty_digits = format!("1{}", "0".repeat(39));
        for text in [
            "",
            "01",
            "00",
            "-1",
            "+5",
            " 5",
            "5 ",
            "1e3",
            "٣",
            &forty_digits,
        ] {
            assert_eq!(
                parse_hash_key(text),
                Err(RoutingError::HashKeyNotDecimal {
                    text: text.to_owned()
                }),
                "text {text:?}"
            );
        }
    }

    /// 2^128 and the largest 39-digit number match the pattern but exceed 2^128 − 1.
    #[test]
    fn parse_hash_key_rejects_values_above_max() {
        for text in [
            "340282366920938463463374607431768211456",
            "999999999999999999999999999999999999999",
        ] {
            let error = parse_hash_key(text).unwrap_err();
            assert_eq!(
                error,
                RoutingError::HashKeyOutOfRange {
                    text: text.to_owned()
                }
            );
            assert!(error.to_string().contains(text));
        }
    }

    /// Splitting at the extreme keys Kinesis allows and merging back gives the parent.
    #[test]
    fn split_then_merge_restores_range() {
        let parent = HashRange { start: 10, end: 20 };
        for key in [12, 15, 19] {
            let (left, right) = parent.split_at(key).unwrap();
            assert_eq!(
                left,
                HashRange {
                    start: 10,
                    end: key - 1
                }
            );
            assert_eq!(
                right,
                HashRange {
                    start: key,
                    end: 20
                }
            );
            assert_eq!(left.merge(right), Ok(parent));
            assert_eq!(right.merge(left), Ok(parent));
        }
    }

    /// Keys at or below start + 1, at or above end, or outside the range are refused.
    #[test]
    fn split_refuses_keys_kinesis_refuses() {
        let parent = HashRange { start: 10, end: 20 };
        for key in [0, 9, 10, 11, 20, 21, HASH_KEY_MAX] {
            assert_eq!(
                parent.split_at(key),
                Err(RoutingError::SplitKeyOutsideRange { key, range: parent }),
                "key {key}"
            );
        }
        let top = HashRange {
            start: HASH_KEY_MAX,
            end: HASH_KEY_MAX,
        };
        assert!(top.split_at(HASH_KEY_MAX).is_err());
    }

    /// Gaps, overlaps, the same range twice and the wrap from 2^128 − 1 to 0 do not merge.
    #[test]
    fn merge_refuses_ranges_that_are_not_adjacent() {
        let low = HashRange { start: 0, end: 9 };
        let cases = [
            (low, HashRange { start: 11, end: 20 }),
            (low, HashRange { start: 9, end: 20 }),
            (low, low),
            (
                HashRange {
                    start: 100,
                    end: HASH_KEY_MAX,
                },
                low,
            ),
        ];
        for (first, second) in cases {
            assert_eq!(
                first.merge(second),
                Err(RoutingError::NotAdjacent { first, second })
            );
        }
    }

    /// Boundary hashes go to the shard whose range holds them; a gap routes nowhere.
    #[test]
    fn route_finds_owning_shard_and_gaps() {
        let shards: Vec<(HashRange, u32)> = even_ranges(4).unwrap().into_iter().zip(0..).collect();
        let second_start = shards[1].0.start;
        assert_eq!(route(&shards, 0), Some(&0));
        assert_eq!(route(&shards, second_start - 1), Some(&0));
        assert_eq!(route(&shards, second_start), Some(&1));
        assert_eq!(route(&shards, HASH_KEY_MAX), Some(&3));

        let with_gap = [shards[0], shards[2]];
        assert_eq!(route(&with_gap, second_start), None);
        assert_eq!(route(&with_gap, shards[2].0.start), Some(&2));
        assert_eq!(route::<u32>(&[], 5), None);
    }

    proptest! {
        /// For every shard count the ranges tile [0, 2^128 − 1] and all but the last span exactly floor(2^128 / N) keys.
        #[test]
        fn even_ranges_tile_key_space(shard_count in 1..=SHARD_COUNT_MAX) {
            let ranges = even_ranges(shard_count).unwrap();
            prop_assert_eq!(ranges.len(), shard_count as usize);
            assert_tiles_key_space(&ranges);
            if let [first, .., last] = ranges.as_slice() {
                let step = first.end - first.start + 1;
                for range in &ranges[..ranges.len() - 1] {
                    prop_assert_eq!(range.end - range.start + 1, step);
                }
                // floor(2^128 / N) = step exactly when 2^128 − N × step, the last range's surplus, is below N.
                let last_len = last.end - last.start + 1;
                prop_assert!(last_len >= step && last_len - step < u128::from(shard_count));
            }
        }

        /// Binary-search routing finds the same shard as scanning every open range.
        #[test]
        fn route_agrees_with_linear_scan(shard_count in 1..=64u32, hash in any::<u128>(), closed in any::<u64>()) {
            let open: Vec<(HashRange, u32)> = even_ranges(shard_count)
                .unwrap()
                .into_iter()
                .zip(0..)
                .filter(|(_, index)| (closed >> index) & 1 == 0)
                .collect();
            let scanned = open.iter().find(|(range, _)| range.contains(hash)).map(|(_, index)| index);
            prop_assert_eq!(route(&open, hash), scanned);
        }

        /// Any allowed split key gives children that tile the parent and merge back into it.
        #[test]
        fn split_merge_round_trip(a in any::<u128>(), b in any::<u128>(), offset in any::<u128>()) {
            let (start, end) = (a.min(b), a.max(b));
            prop_assume!(end - start >= 3);
            let key = start + 2 + offset % (end - start - 2);
            let parent = HashRange { start, end };
            let (left, right) = parent.split_at(key).unwrap();
            prop_assert_eq!(left.end + 1, right.start);
            prop_assert!(left.end - left.start >= 1 && right.end - right.start >= 1);
            prop_assert_eq!(left.merge(right), Ok(parent));
        }

        /// Every hash key's decimal text parses back to it.
        #[test]
        fn parse_hash_key_round_trips(value in any::<u128>()) {
            prop_assert_eq!(parse_hash_key(&value.to_string()), Ok(value));
        }
    }
}

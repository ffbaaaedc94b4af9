//! The hash keys of many partition keys at once: MD5 (RFC 1321) of [`LANES`]
//! short keys side by side.
//!
//! Kinesis routes a record by the MD5 of its partition key, and with 1 KiB records
//! that MD5 was the largest user-space cost of an append after the payload copy
//! (issue 16's profile: 9 to 12 % of the CPU of a one-shard append). A key of up to
//! [`ONE_BLOCK_BYTES_MAX`] bytes, nearly every key in practice, is one MD5 block,
//! and one block is 64 dependent steps that leave most of a core idle. Computing
//! the same step for [`LANES`] keys at once, each key in a lane of arrays that the
//! compiler keeps in SIMD registers, does the work of several keys per instruction:
//! about twice the keys per second with the baseline x86-64 instruction set. Longer
//! keys, and the last few that do not fill the lanes, go through the `md-5` crate.
//! `keyhash_matches_md5` checks both ways against that crate.

use crate::routing::partition_key_hash;

/// Keys hashed side by side (measured against 4 and 16: the fastest with SSE2).
const LANES: usize = 8;
/// Longest key that fits one MD5 block with its padding: 64 bytes less the 0x80
/// marker and the 8-byte length.
const ONE_BLOCK_BYTES_MAX: usize = 55;
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
/// RFC 1321's table T: the integer part of 2^32 × |sin(i + 1)|.
const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];
/// Left rotations of each round's four steps.
const SHIFTS: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// One 32-bit value per lane.
type Lanes = [u32; LANES];

/// The hash key of each key (see [`partition_key_hash`]), in order.
pub(crate) fn partition_key_hashes<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<u128> {
    let mut hashes = Vec::with_capacity(keys.size_hint().0);
    // Indexes into `hashes` of the short keys waiting for a full set of lanes.
    let mut waiting: [(usize, &str); LANES] = [(0, ""); LANES];
    let mut filled = 0;
    for (index, key) in keys.enumerate() {
        if key.len() > ONE_BLOCK_BYTES_MAX {
            hashes.push(partition_key_hash(key));
            continue;
        }
        hashes.push(0);
        waiting[filled] = (index, key);
        filled += 1;
        if filled == LANES {
            let digests = hash_lanes(&waiting.map(|(_, key)| key));
            for ((index, _), digest) in waiting.iter().zip(digests) {
                hashes[*index] = digest;
            }
            filled = 0;
        }
    }
    for (index, key) in &waiting[..filled] {
        hashes[*index] = partition_key_hash(key);
    }
    hashes
}

/// The hash keys of [`LANES`] keys of at most [`ONE_BLOCK_BYTES_MAX`] bytes each.
fn hash_lanes(keys: &[&str; LANES]) -> [u128; LANES] {
    let mut words = [[0u32; LANES]; 16];
    for (lane, key) in keys.iter().map(|key| key.as_bytes()).enumerate() {
        assert!(
            key.len() <= ONE_BLOCK_BYTES_MAX,
            "caller picks one-block keys"
        );
        // The one padded block: key, 0x80, zeros, bit length (little-endian).
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        block[key.len()] = 0x80;
        block[56..].copy_from_slice(&(key.len() as u64 * 8).to_le_bytes());
        for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            word[lane] = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
    }
    let state = compress(&words);
    std::array::from_fn(|lane| {
        let mut digest = [0u8; 16];
        for (bytes, word) in digest.chunks_exact_mut(4).zip(&state) {
            bytes.copy_from_slice(&word[lane].to_le_bytes());
        }
        u128::from_be_bytes(digest)
    })
}

/// Step `i` of 64 for every lane: `a = b + ((a + F(b, c, d) + K[i] + word) <<< s)`.
#[inline(always)]
fn step(a: &mut Lanes, b: &Lanes, c: &Lanes, d: &Lanes, word: &Lanes, i: usize) {
    let shift = SHIFTS[i / 16][i % 4];
    for lane in 0..LANES {
        let (b, c, d) = (b[lane], c[lane], d[lane]);
        let f = match i / 16 {
            0 => (b & c) | (!b & d),
            1 => (d & b) | (!d & c),
            2 => b ^ c ^ d,
            _ => c ^ (b | !d),
        };
        let sum = a[lane]
            .wrapping_add(f)
            .wrapping_add(K[i])
            .wrapping_add(word[lane]);
        a[lane] = b.wrapping_add(sum.rotate_left(shift));
    }
}

/// Which message word step `i` adds.
#[inline(always)]
fn word_of(i: usize) -> usize {
    match i / 16 {
        0 => i,
        1 => (5 * i + 1) % 16,
        2 => (3 * i + 5) % 16,
        _ => (7 * i) % 16,
    }
}

/// Four steps from `i`, the registers' roles turning as RFC 1321 says. A macro, not
/// a loop, so that every step's constants are known where it is compiled.
macro_rules! four_steps {
    ($a:ident, $b:ident, $c:ident, $d:ident, $words:ident, $i:expr) => {
        step(&mut $a, &$b, &$c, &$d, &$words[word_of($i)], $i);
        step(&mut $d, &$a, &$b, &$c, &$words[word_of($i + 1)], $i + 1);
        step(&mut $c, &$d, &$a, &$b, &$words[word_of($i + 2)], $i + 2);
        step(&mut $b, &$c, &$d, &$a, &$words[word_of($i + 3)], $i + 3);
    };
}

/// MD5's compression of one block per lane, from the initial state.
fn compress(words: &[Lanes; 16]) -> [Lanes; 4] {
    let [mut a, mut b, mut c, mut d] = INIT.map(|value| [value; LANES]);
    four_steps!(a, b, c, d, words, 0);
    four_steps!(a, b, c, d, words, 4);
    four_steps!(a, b, c, d, words, 8);
    four_steps!(a, b, c, d, words, 12);
    four_steps!(a, b, c, d, words, 16);
    four_steps!(a, b, c, d, words, 20);
    four_steps!(a, b, c, d, words, 24);
    four_steps!(a, b, c, d, words, 28);
    four_steps!(a, b, c, d, words, 32);
    four_steps!(a, b, c, d, words, 36);
    four_steps!(a, b, c, d, words, 40);
    four_steps!(a, b, c, d, words, 44);
    four_steps!(a, b, c, d, words, 48);
    four_steps!(a, b, c, d, words, 52);
    four_steps!(a, b, c, d, words, 56);
    four_steps!(a, b, c, d, words, 60);
    let mut state = [a, b, c, d];
    for (register, init) in state.iter_mut().zip(INIT) {
        for value in register.iter_mut() {
            *value = value.wrapping_add(init);
        }
    }
    state
}

#[cfg(test)]
mod tests {
    //! The lanes compute MD5 exactly: the same hash keys as the `md-5` crate.
    use super::*;
    use proptest::prelude::*;

    /// Every key length a lane takes, 0 to 55 bytes, hashes as `md-5` does.
    #[test]
    fn every_one_block_length_matches_md5() {
        let keys: Vec<String> = (0..=ONE_BLOCK_BYTES_MAX)
            .map(|len| "k".repeat(len))
            .collect();
        let many: Vec<&str> = keys.iter().map(String::as_str).collect();
        let expected: Vec<u128> = many.iter().map(|key| partition_key_hash(key)).collect();
        assert_eq!(partition_key_hashes(many.iter().copied()), expected);
    }

    proptest! {
        /// Any list of keys, short and long mixed, hashes as `md-5` does, in order.
        #[test]
        fn keyhash_matches_md5(keys in proptest::collection::vec("\\PC{1,70}", 0..40)) {
            let expected: Vec<u128> = keys.iter().map(|key| partition_key_hash(key)).collect();
            let got = partition_key_hashes(keys.iter().map(String::as_str));
            prop_assert_eq!(got, expected);
        }
    }
}

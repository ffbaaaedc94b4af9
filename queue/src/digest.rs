//! MD5 of many bodies at once: eight messages advance block by block side by
//! side, each of the 64 steps done on eight lanes of `u32`. MD5 is one long
//! dependency chain per message, so a single digest leaves most of a core idle
//! (`md5::compress::soft` was 7 to 10 % of a server's samples under the SQS round
//! trip); eight independent chains written as plain array arithmetic are turned
//! into SIMD instructions by the compiler (SSE2 on any x86-64), without `unsafe`
//! or a CPU check.
//!
//! A lane that finishes its message takes the next one, so bodies of different
//! lengths share the lanes until fewer than [`LANES`] remain; idle lanes hash a
//! block of zeros whose result is dropped. Each message's blocks are the body's
//! whole 64-byte blocks read in place, then one or two tail blocks built with
//! MD5's padding (`0x80`, zeros, the bit length as 8 bytes little-endian, RFC 1321).

/// Messages hashed side by side.
const LANES: usize = 8;
/// Fewest bodies worth hashing side by side: one or two leave so many lanes
/// idle that one digest at a time costs less.
pub(crate) const SIDE_BY_SIDE_MIN: usize = 3;
/// Bytes of an MD5 block.
const BLOCK_BYTES: usize = 64;
/// A value per lane.
type Lanes = [u32; LANES];

/// The initial state (RFC 1321 section 3.3): A, B, C, D.
const INITIAL: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// Per-step additive constants: floor(abs(sin(i + 1)) * 2^32).
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// Left-rotation of each step, by round (each round repeats its four).
const SHIFTS: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// The MD5 digest of each of `bodies`, in their order.
pub(crate) fn md5_each(bodies: &[&[u8]]) -> Vec<[u8; 16]> {
    let mut digests = vec![[0u8; 16]; bodies.len()];
    let mut state = [[0u32; LANES]; 4];
    let mut jobs: [Option<Job<'_>>; LANES] = Default::default();
    let mut next = 0;
    loop {
        for (lane, job) in jobs.iter_mut().enumerate() {
            if job.is_none() && next < bodies.len() {
                *job = Some(Job::new(next, bodies[next]));
                for (word, initial) in state.iter_mut().zip(INITIAL) {
                    word[lane] = initial;
                }
                next += 1;
            }
        }
        if jobs.iter().all(Option::is_none) {
            return digests;
        }
        let mut words = [[0u32; LANES]; 16];
        for (lane, job) in jobs.iter().enumerate() {
            if let Some(job) = job {
                for (i, chunk) in job.block().chunks_exact(4).enumerate() {
                    words[i][lane] = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
                }
            }
        }
        compress(&mut state, &words);
        for (lane, slot) in jobs.iter_mut().enumerate() {
            let Some(job) = slot else { continue };
            job.block_index += 1;
            if job.block_index == job.blocks() {
                let digest = &mut digests[job.index];
                for (k, word) in state.iter().enumerate() {
                    digest[4 * k..4 * k + 4].copy_from_slice(&word[lane].to_le_bytes());
                }
                *slot = None;
            }
        }
    }
}

/// One message in a lane: its whole blocks in place, then its padded tail.
struct Job<'a> {
    /// Its place in the caller's slice.
    index: usize,
    /// The body's whole blocks.
    whole: &'a [u8],
    /// The rest of the body, `0x80`, zeros and the bit length: one or two blocks.
    tail: [u8; 2 * BLOCK_BYTES],
    tail_blocks: usize,
    /// The next block to hash.
    block_index: usize,
}

impl<'a> Job<'a> {
    fn new(index: usize, body: &'a [u8]) -> Job<'a> {
        let whole_bytes = body.len() - body.len() % BLOCK_BYTES;
        let rest = &body[whole_bytes..];
        let mut tail = [0u8; 2 * BLOCK_BYTES];
        tail[..rest.len()].copy_from_slice(rest);
        tail[rest.len()] = 0x80;
        // The length needs 8 bytes after the 0x80 within the last block.
        let tail_blocks = if rest.len() + 1 + 8 <= BLOCK_BYTES {
            1
        } else {
            2
        };
        let bits = (body.len() as u64).wrapping_mul(8);
        let end = tail_blocks * BLOCK_BYTES;
        tail[end - 8..end].copy_from_slice(&bits.to_le_bytes());
        Job {
            index,
            whole: &body[..whole_bytes],
            tail,
            tail_blocks,
            block_index: 0,
        }
    }

    fn blocks(&self) -> usize {
        self.whole.len() / BLOCK_BYTES + self.tail_blocks
    }

    fn block(&self) -> &[u8] {
        let whole_blocks = self.whole.len() / BLOCK_BYTES;
        let (bytes, k) = if self.block_index < whole_blocks {
            (self.whole, self.block_index)
        } else {
            (&self.tail[..], self.block_index - whole_blocks)
        };
        &bytes[k * BLOCK_BYTES..(k + 1) * BLOCK_BYTES]
    }
}

/// One block of every lane: the 64 steps of RFC 1321 section 3.4, lane by lane.
/// (Unrolling the steps by hand, so that each constant and rotation is fixed,
/// measured slower here: a third more time per block.)
#[inline(always)]
fn compress(state: &mut [Lanes; 4], words: &[Lanes; 16]) {
    let [mut a, mut b, mut c, mut d] = *state;
    for step in 0..64 {
        let (f, g) = match step / 16 {
            0 => (lanes_of(b, c, d, |b, c, d| (b & c) | (!b & d)), step),
            1 => (
                lanes_of(b, c, d, |b, c, d| (d & b) | (!d & c)),
                (5 * step + 1) % 16,
            ),
            2 => (lanes_of(b, c, d, |b, c, d| b ^ c ^ d), (3 * step + 5) % 16),
            _ => (lanes_of(b, c, d, |b, c, d| c ^ (b | !d)), (7 * step) % 16),
        };
        let shift = SHIFTS[step / 16][step % 4];
        let mut rotated = [0u32; LANES];
        for lane in 0..LANES {
            let sum = a[lane]
                .wrapping_add(f[lane])
                .wrapping_add(K[step])
                .wrapping_add(words[g][lane]);
            rotated[lane] = b[lane].wrapping_add(sum.rotate_left(shift));
        }
        a = d;
        d = c;
        c = b;
        b = rotated;
    }
    for (lane_state, added) in state.iter_mut().zip([a, b, c, d]) {
        for lane in 0..LANES {
            lane_state[lane] = lane_state[lane].wrapping_add(added[lane]);
        }
    }
}

/// A round's function `f` of B, C and D, lane by lane.
#[inline(always)]
fn lanes_of(b: Lanes, c: Lanes, d: Lanes, f: impl Fn(u32, u32, u32) -> u32) -> Lanes {
    let mut out = [0u32; LANES];
    for lane in 0..LANES {
        out[lane] = f(b[lane], c[lane], d[lane]);
    }
    out
}

#[cfg(test)]
mod tests {
    //! The lanes against the `md-5` crate's one-at-a-time digest.
    use super::*;
    use md5::Digest;
    use proptest::prelude::*;

    fn one(body: &[u8]) -> [u8; 16] {
        md5::Md5::digest(body).into()
    }

    /// RFC 1321's test suite, all in one call (fewer messages than lanes).
    #[test]
    fn rfc_1321_vectors() {
        let bodies: [&[u8]; 7] = [
            b"",
            b"a",
            b"abc",
            b"message digest",
            b"abcdefghijklmnopqrstuvwxyz",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        ];
        let expected = [
            "d41d8cd98f00b204e9800998ecf8427e",
            "0cc175b9c0f1b6a831c399e269772661",
            "900150983cd24fb0d6963f7d28e17f72",
            "f96b697d7cb7938d525a2f31aaf161d0",
            "c3fcd3d76192e4007dfb496cca67e13b",
            "d174ab98d277d9f5a5611c2c9f419d9f",
            "57edf4a22be3c955ac49da2e2107b67a",
        ];
        let digests = md5_each(&bodies);
        assert_eq!(digests.len(), expected.len());
        for (digest, expected) in digests.iter().zip(expected) {
            assert_eq!(format!("{:032x}", u128::from_be_bytes(*digest)), expected);
        }
        assert!(md5_each(&[]).is_empty());
    }

    /// Every length around the padding's edges (55, 56, 63, 64 bytes), in lanes
    /// that finish at different blocks and take new messages midway.
    #[test]
    fn padding_edges_in_uneven_lanes() {
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
        let bodies: Vec<&[u8]> = (0..=200).map(|len| &data[..len]).rev().collect();
        let digests = md5_each(&bodies);
        for (body, digest) in bodies.iter().zip(&digests) {
            assert_eq!(*digest, one(body), "length {}", body.len());
        }
    }

    proptest! {
        /// Any bodies, any count: each digest is the body's MD5, in order.
        #[test]
        fn each_digest_is_the_bodys(bodies in prop::collection::vec(
            prop::collection::vec(any::<u8>(), 0..1200), 0..20)
        ) {
            let slices: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
            let digests = md5_each(&slices);
            prop_assert_eq!(digests.len(), bodies.len());
            for (body, digest) in bodies.iter().zip(&digests) {
                prop_assert_eq!(*digest, one(body));
            }
        }
    }
}

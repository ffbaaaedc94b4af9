//! Kinesis sequence numbers, laid out like the real service's so that tools
//! which take them apart keep working.
//!
//! A sequence number is a 188-bit integer written in decimal. In hex it has
//! 47 digits; the real `49559948046087405716686625491085803253240564075691245570`
//! is `2 056e14862 0 0000000004004195 00 056ed60da 00000000 2`:
//!
//! ```text
//! hex digits  bits       field
//!  1          184..188   version, always 2
//!  9          148..184   shard creation time, seconds since the epoch
//!  1          144..148   the shard index's low nibble
//! 16           80..144   per-shard counter, top bit clear (63 bits)
//!  2           72..80    reserved, zero
//!  9           36..72    record arrival time, seconds since the epoch
//!  8            4..36    shard index
//!  1            0..4     version, always 2
//! ```
//!
//! The counter sits above the arrival time, so within one shard the numbers
//! order by counter whatever the clock did. The leading 2 makes every sequence
//! number 56 decimal digits long, so their decimal strings also sort by value.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::routing::matches_decimal_pattern;

/// Counters run below this: 16 hex digits with the top bit clear.
pub const COUNTER_LIMIT: u64 = 1 << 63;

/// Times in seconds run below this: 9 hex digits, 16^9 (the year 4147).
pub const SECS_LIMIT: u64 = 1 << 36;

/// Digits in the longest text Kinesis's pattern `0|([1-9]\d{0,128})` admits.
const DECIMAL_DIGITS_MAX: usize = 129;

/// The value of both version digits.
const VERSION: u64 = 2;

/// A 192-bit unsigned integer as little-endian u64 limbs; the layout uses the low 188 bits.
type Limbs = [u64; 3];

/// A bit field of the layout: `width` bits (at most 64) from `offset` up.
#[derive(Clone, Copy)]
struct Field {
    offset: u32,
    width: u32,
}

// The fields from least to most significant, each starting where the last ends.
const TRAILING_VERSION: Field = Field {
    offset: 0,
    width: 4,
};
const SHARD_INDEX: Field = TRAILING_VERSION.next(32);
const ARRIVAL_SECS: Field = SHARD_INDEX.next(36);
const RESERVED: Field = ARRIVAL_SECS.next(8);
const COUNTER: Field = RESERVED.next(64);
const INDEX_NIBBLE: Field = COUNTER.next(4);
const CREATED_SECS: Field = INDEX_NIBBLE.next(36);
const LEADING_VERSION: Field = CREATED_SECS.next(4);

/// Bits in the layout: 47 hex digits.
const LAYOUT_BITS: u32 = LEADING_VERSION.offset + LEADING_VERSION.width;
const _: () = assert!(LAYOUT_BITS == 47 * 4);
const _: () = assert!(LAYOUT_BITS <= 64 * 3);
// The fields sit where the module's diagram says.
const _: () = assert!(ARRIVAL_SECS.offset == 36 && RESERVED.offset == 72);
const _: () = assert!(COUNTER.offset == 80 && INDEX_NIBBLE.offset == 144);
const _: () = assert!(CREATED_SECS.offset == 148 && LEADING_VERSION.offset == 184);
const _: () =
    assert!(SECS_LIMIT == 1 << CREATED_SECS.width && SECS_LIMIT == 1 << ARRIVAL_SECS.width);
const _: () = assert!(COUNTER_LIMIT == 1 << (COUNTER.width - 1));

impl Field {
    /// The field of `width` bits just above this one.
    const fn next(self, width: u32) -> Field {
        Field {
            offset: self.offset + self.width,
            width,
        }
    }

    /// The largest value the field holds.
    const fn mask(self) -> u64 {
        u64::MAX >> (64 - self.width)
    }

    /// The limb holding the field's lowest bit and the bit's place in it.
    const fn position(self) -> (usize, u32) {
        ((self.offset / 64) as usize, self.offset % 64)
    }

    /// Reads the field.
    fn get(self, limbs: &Limbs) -> u64 {
        let (limb, shift) = self.position();
        let mut value = limbs[limb] >> shift;
        if shift + self.width > 64 {
            // The field runs into the next limb; shift > 0 here, so 64 − shift < 64.
            value |= limbs[limb + 1] << (64 - shift);
        }
        value & self.mask()
    }

    /// Sets the field's bits, which must be clear, to `value`.
    fn put(self, limbs: &mut Limbs, value: u64) {
        assert!(
            value <= self.mask(),
            "{value:#x} overflows a {}-bit field",
            self.width
        );
        let (limb, shift) = self.position();
        limbs[limb] |= value << shift;
        if shift + self.width > 64 {
            limbs[limb + 1] |= value >> (64 - shift);
        }
    }
}

/// Why a text is not a sequence number of this layout.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeqnoError {
    /// The text does not match Kinesis's pattern for sequence numbers.
    #[error(
        "sequence number must match 0|([1-9]\\d{{0,128}}): decimal digits only, \
         no leading zero, at most 129 digits"
    )]
    Pattern,
    /// The value needs more than the layout's 188 bits.
    #[error("sequence number is larger than the 47-hex-digit (188-bit) layout allows")]
    TooLarge,
    /// The value has fewer than the layout's 47 hex digits.
    #[error("sequence number has {hex_digits} hex digits; the layout has 47")]
    TooShort {
        /// Hex digits in the value.
        hex_digits: u32,
    },
    /// The first hex digit is not the version, 2.
    #[error("sequence number's leading version digit is {found:x}; it must be 2")]
    LeadingVersion {
        /// The digit found.
        found: u8,
    },
    /// The last hex digit is not the version, 2.
    #[error("sequence number's trailing version digit is {found:x}; it must be 2")]
    TrailingVersion {
        /// The digit found.
        found: u8,
    },
    /// The two hex digits between the counter and the arrival time are not zero.
    #[error(
        "sequence number's reserved digits after the counter are {found:02x}; they must be 00"
    )]
    ReservedNonzero {
        /// The two digits found, as a byte.
        found: u8,
    },
    /// The counter's top bit is set.
    #[error("sequence number's counter {counter:#x} has its top bit set")]
    CounterTopBit {
        /// The counter found.
        counter: u64,
    },
    /// The shard nibble is not the low nibble of the shard index.
    #[error(
        "sequence number's shard nibble {nibble:x} is not the low nibble of its shard index {shard_index}"
    )]
    ShardNibbleMismatch {
        /// The nibble found.
        nibble: u8,
        /// The shard index found.
        shard_index: u32,
    },
}

/// The fields of a Kinesis sequence number (see the module docs for the layout).
///
/// Ordering compares the 188-bit values whenever the fields fit the layout
/// (see [`SequenceNumber::fits_layout`]), and stays a total order consistent
/// with equality when they do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SequenceNumber {
    /// When the shard was created, in seconds since the epoch; below [`SECS_LIMIT`].
    pub shard_created_secs: u64,
    /// The shard's index, as in `shardId-000000000007`.
    pub shard_index: u32,
    /// The record's position in its shard; below [`COUNTER_LIMIT`].
    pub counter: u64,
    /// When the record arrived, in seconds since the epoch; below [`SECS_LIMIT`].
    pub arrival_secs: u64,
}

impl SequenceNumber {
    /// The shard's StartingSequenceNumber: before its first record, so that
    /// AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER with it both start at the first
    /// record, and it stays usable while the shard is empty (a subscription's
    /// continuation on an idle shard). Its arrival time is 0, which no record has
    /// (records arrive after their shard was created).
    pub fn before_first(shard_created_secs: u64, shard_index: u32) -> SequenceNumber {
        SequenceNumber {
            shard_created_secs,
            shard_index,
            counter: 0,
            arrival_secs: 0,
        }
    }

    /// The position in its shard of the record this number names (the counter
    /// field is that position, kept as the bare number the layout encodes).
    pub fn position(&self) -> crate::position::Position {
        crate::position::Position::new(self.counter)
    }

    /// Whether this is a shard's [`before_first`](Self::before_first) number.
    pub fn is_before_first(&self) -> bool {
        self.counter == 0 && self.arrival_secs == 0
    }

    /// Whether every field fits its place in the layout, so that
    /// [`to_decimal`](Self::to_decimal) can encode it.
    pub fn fits_layout(&self) -> bool {
        self.shard_created_secs < SECS_LIMIT
            && self.arrival_secs < SECS_LIMIT
            && self.counter < COUNTER_LIMIT
    }

    /// The sequence number as Kinesis writes it: the 188-bit value in decimal.
    ///
    /// # Panics
    /// When a field does not fit the layout (see [`fits_layout`](Self::fits_layout)):
    /// the engine assigns counters and times, so that is a broken invariant.
    pub fn to_decimal(&self) -> String {
        assert!(
            self.fits_layout(),
            "sequence number fields out of range: {self:?}"
        );
        format_decimal(self.to_limbs())
    }

    /// Decodes a sequence number from its decimal text, checking the pattern
    /// Kinesis uses and every fixed part of the layout.
    pub fn parse(text: &str) -> Result<SequenceNumber, SeqnoError> {
        if !matches_decimal_pattern(text, DECIMAL_DIGITS_MAX) {
            return Err(SeqnoError::Pattern);
        }
        let limbs = parse_decimal(text.as_bytes()).ok_or(SeqnoError::TooLarge)?;
        check_width(&limbs)?;
        Self::from_limbs(&limbs)
    }

    /// The 188-bit value.
    fn to_limbs(self) -> Limbs {
        let mut limbs = [0; 3];
        LEADING_VERSION.put(&mut limbs, VERSION);
        CREATED_SECS.put(&mut limbs, self.shard_created_secs);
        INDEX_NIBBLE.put(&mut limbs, u64::from(self.shard_index & 0xF));
        COUNTER.put(&mut limbs, self.counter);
        ARRIVAL_SECS.put(&mut limbs, self.arrival_secs);
        SHARD_INDEX.put(&mut limbs, u64::from(self.shard_index));
        TRAILING_VERSION.put(&mut limbs, VERSION);
        limbs
    }

    /// Decodes a value of exactly 47 hex digits, checking its fixed parts.
    fn from_limbs(limbs: &Limbs) -> Result<SequenceNumber, SeqnoError> {
        // Each `as` below narrows a field read through a mask of the same width.
        let leading = LEADING_VERSION.get(limbs);
        if leading != VERSION {
            return Err(SeqnoError::LeadingVersion {
                found: leading as u8,
            });
        }
        let trailing = TRAILING_VERSION.get(limbs);
        if trailing != VERSION {
            return Err(SeqnoError::TrailingVersion {
                found: trailing as u8,
            });
        }
        let reserved = RESERVED.get(limbs);
        if reserved != 0 {
            return Err(SeqnoError::ReservedNonzero {
                found: reserved as u8,
            });
        }
        let counter = COUNTER.get(limbs);
        if counter >= COUNTER_LIMIT {
            return Err(SeqnoError::CounterTopBit { counter });
        }
        let shard_index = SHARD_INDEX.get(limbs) as u32;
        let nibble = INDEX_NIBBLE.get(limbs);
        if nibble != u64::from(shard_index & 0xF) {
            return Err(SeqnoError::ShardNibbleMismatch {
                nibble: nibble as u8,
                shard_index,
            });
        }
        Ok(SequenceNumber {
            shard_created_secs: CREATED_SECS.get(limbs),
            shard_index,
            counter,
            arrival_secs: ARRIVAL_SECS.get(limbs),
        })
    }

    /// The fields from most to least significant place in the layout.
    fn significance_key(&self) -> (u64, u32, u64, u64, u32) {
        (
            self.shard_created_secs,
            self.shard_index & 0xF,
            self.counter,
            self.arrival_secs,
            self.shard_index,
        )
    }
}

impl Ord for SequenceNumber {
    /// Compares the fields in the order of their places in the layout (the
    /// reserved and version digits are constant), which is the order of the
    /// 188-bit values when the fields fit the layout.
    fn cmp(&self, other: &Self) -> Ordering {
        self.significance_key().cmp(&other.significance_key())
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for SequenceNumber {
    /// The decimal text Kinesis writes, as [`to_decimal`](SequenceNumber::to_decimal);
    /// fields that do not fit the layout (which the engine never assigns) show as
    /// fields, so that a message about such a value cannot panic.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fits_layout() {
            f.write_str(&format_decimal(self.to_limbs()))
        } else {
            write!(f, "{self:?}")
        }
    }
}

impl std::str::FromStr for SequenceNumber {
    type Err = SeqnoError;

    /// [`SequenceNumber::parse`].
    fn from_str(text: &str) -> Result<Self, SeqnoError> {
        SequenceNumber::parse(text)
    }
}

/// Refuses values outside `[16^46, 16^47)`, the values with 47 hex digits.
fn check_width(limbs: &Limbs) -> Result<(), SeqnoError> {
    let bits = bit_length(limbs);
    if bits > LAYOUT_BITS {
        return Err(SeqnoError::TooLarge);
    }
    // Zero is written with one digit.
    let hex_digits = bits.div_ceil(4).max(1);
    if hex_digits < LAYOUT_BITS / 4 {
        return Err(SeqnoError::TooShort { hex_digits });
    }
    Ok(())
}

/// Bits needed to write the value: 0 for zero.
fn bit_length(limbs: &Limbs) -> u32 {
    let mut bits = 0;
    for (index, &limb) in (0u32..).zip(limbs) {
        if limb != 0 {
            bits = 64 * index + (64 - limb.leading_zeros());
        }
    }
    bits
}

/// 10^19, the largest power of ten below 2^64: the chunk size of the decimal conversions.
const DECIMAL_CHUNK: u64 = 10_000_000_000_000_000_000;

/// Digits in a [`DECIMAL_CHUNK`] remainder.
const DECIMAL_CHUNK_DIGITS: usize = 19;

/// Writes `limbs` in decimal by repeated division by 10^19.
/// Decimal digits of every sequence number (the leading version digit fixes it).
pub const DECIMAL_DIGITS: usize = 56;

/// 2^80, the value of one step of the counter field (which starts at bit 80),
/// in decimal.
const COUNTER_STEP_DECIMAL: &[u8] = b"1208925819614629174706176";
/// [`COUNTER_STEP_DECIMAL`] as [`add_decimal`] adds it.
const COUNTER_STEP_WORDS: [u64; 4] = decimal_words(COUNTER_STEP_DECIMAL);
const _: () = assert!(COUNTER.offset == 80);

/// Formats the sequence numbers of a put's records, each shard's in position
/// order, without a full big-number conversion each time: a shard's next record
/// of the same second differs by one counter step, added in decimal.
#[derive(Debug, Default, Clone)]
pub struct DecimalCursor {
    /// The last number formatted for each of the most recent shards, with its
    /// digits: a put's records alternate between shards, each shard's counters
    /// running on by one.
    last: Vec<(SequenceNumber, [u8; DECIMAL_DIGITS])>,
}

/// Shards a [`DecimalCursor`] keeps a last number of; past them, the one kept
/// longest is replaced (formatted in full when its shard comes back).
const CURSOR_SHARDS: usize = 16;

impl DecimalCursor {
    /// A cursor with nothing formatted yet.
    pub fn new() -> Self {
        DecimalCursor::default()
    }

    /// The decimal text of `number`, equal to `number.to_decimal()`, borrowed
    /// from the cursor (no `String` per number: a PutRecords answer formats 500).
    pub fn format(&mut self, number: SequenceNumber) -> &str {
        std::str::from_utf8(self.digits(number)).expect("decimal digits are ASCII")
    }

    /// [`DecimalCursor::format`]'s digits as bytes, for a writer that copies
    /// them out as they are (every byte an ASCII digit) without checking them
    /// as text again.
    pub fn digits(&mut self, number: SequenceNumber) -> &[u8; DECIMAL_DIGITS] {
        let found = self.last.iter().position(|(previous, _)| {
            previous.shard_index == number.shard_index
                && previous.shard_created_secs == number.shard_created_secs
        });
        let follows = found.is_some_and(|slot| {
            let previous = &self.last[slot].0;
            let next_step = SequenceNumber {
                counter: previous.counter.wrapping_add(1),
                ..*previous
            };
            next_step == number && number.fits_layout()
        });
        let slot = found.unwrap_or_else(|| {
            if self.last.len() == CURSOR_SHARDS {
                self.last.remove(0);
            }
            self.last.push((number, [b'0'; DECIMAL_DIGITS]));
            self.last.len() - 1
        });
        let (previous, digits) = &mut self.last[slot];
        if follows {
            add_decimal(digits, &COUNTER_STEP_WORDS);
        } else {
            digits.copy_from_slice(number.to_decimal().as_bytes());
        }
        *previous = number;
        digits
    }
}

/// Adds the decimal number whose digit words are `addend` (see
/// [`decimal_words`]) to the decimal `digits` in place (no overflow: the caller
/// keeps the result within the layout).
///
/// Once per record of a PutRecords answer, so eight digits at a time: each
/// byte of a word holds one digit's value, biased by 246 so that a digit sum of
/// 10 or more carries into the next byte as the word is added; the bytes that
/// did not carry (their high bit set) get the bias back. A loop over the 25
/// digits of a counter step, one carry after the other, was 4.5 % of a
/// server's profile under HTTP PutRecords.
fn add_decimal(digits: &mut [u8; DECIMAL_DIGITS], addend: &[u64]) {
    const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
    const BIAS: u64 = u64::from_ne_bytes([246; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut carry = 0u64;
    for (index, chunk) in digits.rchunks_exact_mut(8).enumerate() {
        let add = addend.get(index).copied().unwrap_or(0);
        if add == 0 && carry == 0 {
            break;
        }
        let chunk: &mut [u8; 8] = chunk.try_into().expect("chunks of 8");
        // Big-endian: the last (least significant) digit in the lowest byte.
        let values = u64::from_be_bytes(*chunk) - ZEROS;
        // `add + BIAS` has no byte above 9 + 246; the word's carry out is
        // the decimal carry out of its most significant digit.
        let (partial, carried) = values.overflowing_add(add + BIAS);
        let (sum, carried_again) = partial.overflowing_add(carry);
        carry = u64::from(carried | carried_again);
        let kept_bias = (sum & HIGH_BITS) >> 7;
        *chunk = (sum - kept_bias * 246 + ZEROS).to_be_bytes();
    }
}

/// The digit words of a decimal number of at most 32 digits for
/// [`add_decimal`]: word 0 holds the last eight digits, its lowest byte the
/// value of the last digit.
const fn decimal_words(digits: &[u8]) -> [u64; 4] {
    assert!(digits.len() <= 32);
    let mut words = [0u64; 4];
    let mut index = 0;
    while index < digits.len() {
        let digit = (digits[digits.len() - 1 - index] - b'0') as u64;
        words[index / 8] |= digit << (8 * (index % 8));
        index += 1;
    }
    words
}

fn format_decimal(mut limbs: Limbs) -> String {
    // Least significant chunk first.
    let mut chunks = Vec::with_capacity(3);
    loop {
        chunks.push(div_rem(&mut limbs, DECIMAL_CHUNK));
        if limbs == [0; 3] {
            break;
        }
    }
    let mut text = String::with_capacity(chunks.len() * DECIMAL_CHUNK_DIGITS);
    let mut chunks = chunks.into_iter().rev();
    if let Some(most_significant) = chunks.next() {
        write!(text, "{most_significant}").expect("writing to a String cannot fail");
    }
    for chunk in chunks {
        write!(text, "{chunk:0width$}", width = DECIMAL_CHUNK_DIGITS)
            .expect("writing to a String cannot fail");
    }
    text
}

/// Divides `limbs` in place by `divisor` and returns the remainder.
fn div_rem(limbs: &mut Limbs, divisor: u64) -> u64 {
    let divisor = u128::from(divisor);
    let mut remainder = 0u128;
    for limb in limbs.iter_mut().rev() {
        let dividend = (remainder << 64) | u128::from(*limb);
        // remainder < divisor, so the quotient fits in 64 bits.
        *limb = (dividend / divisor) as u64;
        remainder = dividend % divisor;
    }
    remainder as u64
}

/// Reads ASCII decimal digits into limbs, or `None` when the value needs more
/// than 192 bits.
fn parse_decimal(digits: &[u8]) -> Option<Limbs> {
    let mut limbs = [0; 3];
    for chunk in digits.chunks(DECIMAL_CHUNK_DIGITS) {
        let scale = 10u64.pow(chunk.len() as u32);
        let value = chunk
            .iter()
            .fold(0u64, |value, digit| value * 10 + u64::from(digit - b'0'));
        mul_add(&mut limbs, scale, value)?;
    }
    Some(limbs)
}

/// Sets `limbs` to `limbs × factor + addend`, or returns `None` on overflow.
fn mul_add(limbs: &mut Limbs, factor: u64, addend: u64) -> Option<()> {
    let mut carry = u128::from(addend);
    for limb in limbs.iter_mut() {
        // (2^64 − 1)^2 + (2^64 − 1) < 2^128: no overflow.
        let product = u128::from(*limb) * u128::from(factor) + carry;
        *limb = product as u64;
        carry = product >> 64;
    }
    (carry == 0).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A sequence number Kinesis really issued.
    const REAL: &str = "49559948046087405716686625491085803253240564075691245570";

    /// The fields of [`REAL`], read off its hex digits.
    const REAL_FIELDS: SequenceNumber = SequenceNumber {
        shard_created_secs: 0x056e14862,
        shard_index: 0,
        counter: 0x4004195,
        arrival_secs: 0x056ed60da,
    };

    /// Any fields that fit the layout.
    fn fitting() -> impl Strategy<Value = SequenceNumber> {
        (0..SECS_LIMIT, any::<u32>(), 0..COUNTER_LIMIT, 0..SECS_LIMIT).prop_map(
            |(shard_created_secs, shard_index, counter, arrival_secs)| SequenceNumber {
                shard_created_secs,
                shard_index,
                counter,
                arrival_secs,
            },
        )
    }

    /// Orders decimal strings without leading zeros by the values they denote.
    fn decimal_cmp(a: &str, b: &str) -> Ordering {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }

    /// The real sequence number decodes to its documented fields and re-encodes byte for byte.
    #[test]
    fn real_sequence_number_round_trips() {
        let decoded = SequenceNumber::parse(REAL).unwrap();
        assert_eq!(decoded, REAL_FIELDS);
        assert_eq!(decoded.to_decimal(), REAL);
    }

    /// Encodings of extreme and mixed fields match values computed with Python's big integers.
    #[test]
    fn encoding_matches_independent_vectors() {
        let cases = [
            (
                SequenceNumber {
                    shard_created_secs: SECS_LIMIT - 1,
                    shard_index: u32::MAX,
                    counter: COUNTER_LIMIT - 1,
                    arrival_secs: SECS_LIMIT - 1,
                },
                "73559785961551514828601391991642868751110021924530421746",
            ),
            (
                SequenceNumber {
                    shard_created_secs: 0x05f5e100,
                    shard_index: 0x1234567a,
                    counter: COUNTER_LIMIT - 1,
                    arrival_secs: SECS_LIMIT - 1,
                },
                "49075538500260250289078133561031052092618896547925813154",
            ),
            (
                SequenceNumber {
                    shard_created_secs: 0,
                    shard_index: 0,
                    counter: 0,
                    arrival_secs: 0,
                },
                "49039857307708443467467104868809893875799651909875269634",
            ),
        ];
        for (fields, decimal) in cases {
            assert_eq!(fields.to_decimal(), decimal);
            assert_eq!(SequenceNumber::parse(decimal), Ok(fields));
        }
    }

    /// A larger counter in the same shard sorts higher even when it arrived at an earlier second.
    #[test]
    fn counter_outranks_arrival_time() {
        let earlier = SequenceNumber {
            counter: 5,
            arrival_secs: SECS_LIMIT - 1,
            ..REAL_FIELDS
        };
        let later = SequenceNumber {
            counter: 6,
            arrival_secs: 0,
            ..REAL_FIELDS
        };
        assert!(earlier < later);
        assert_eq!(
            decimal_cmp(&earlier.to_decimal(), &later.to_decimal()),
            Ordering::Less
        );
    }

    /// Texts outside `0|([1-9]\d{0,128})` fail the pattern check.
    #[test]
    fn rejects_text_outside_pattern() {
        let leading_zero = format!("0{REAL}");
        let too_long = "9".repeat(130);
        let cases = [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "4955994804608740571668662549108580325324056407569124557a",
        ];
        for text in cases
            .iter()
            .copied()
            .chain([leading_zero.as_str(), too_long.as_str()])
        {
            assert_eq!(
                SequenceNumber::parse(text),
                Err(SeqnoError::Pattern),
                "{text:?}"
            );
        }
    }

    /// Values outside the 47-hex-digit layout fail with their size, including "0", which the pattern admits.
    #[test]
    fn rejects_values_of_wrong_width() {
        let cases = [
            ("0", SeqnoError::TooShort { hex_digits: 1 }),
            ("1", SeqnoError::TooShort { hex_digits: 1 }),
            (
                "520090738378962249219520622275909377440912165815975938",
                SeqnoError::TooShort { hex_digits: 45 },
            ),
            // 2^188, 48 hex digits, 2^190, 10^128 (overflows the limbs) and the largest 129-digit text.
            (
                "392318858461667547739736838950479151006397215279002157056",
                SeqnoError::TooLarge,
            ),
            (
                "792959168737398491466986007857372852051849025211059929122",
                SeqnoError::TooLarge,
            ),
            (
                "1569275433846670190958947355801916604025588861116008628224",
                SeqnoError::TooLarge,
            ),
        ];
        for (text, error) in cases {
            assert_eq!(SequenceNumber::parse(text), Err(error), "{text}");
        }
        let ten_pow_128 = format!("1{}", "0".repeat(128));
        assert_eq!(
            SequenceNumber::parse(&ten_pow_128),
            Err(SeqnoError::TooLarge)
        );
        assert_eq!(
            SequenceNumber::parse(&"9".repeat(129)),
            Err(SeqnoError::TooLarge)
        );
    }

    /// Each broken fixed part of the real number is reported as that part (vectors from Python).
    #[test]
    fn rejects_broken_fixed_parts() {
        let cases = [
            (
                "74079876699941627450420177925490750191140390030628880386",
                SeqnoError::LeadingVersion { found: 3 },
            ),
            (
                "25040019392233183982953073056680856315340738120753610754",
                SeqnoError::LeadingVersion { found: 1 },
            ),
            (
                "392318858461667547739736838950479151006397215279002157055",
                SeqnoError::LeadingVersion { found: 0xF },
            ),
            (
                "49559948046087405716686625491085803253240564075691245568",
                SeqnoError::TrailingVersion { found: 0 },
            ),
            (
                "49559948046087405716686625491085803253240564075691245583",
                SeqnoError::TrailingVersion { found: 0xF },
            ),
            (
                "49559948046087405716686625491085807975607046945336459266",
                SeqnoError::ReservedNonzero { found: 0x01 },
            ),
            (
                "49559948046087405716686625491086407716150371390278598658",
                SeqnoError::ReservedNonzero { found: 0x80 },
            ),
            (
                "49559948046109706461885156114227338971513212437197225986",
                SeqnoError::ShardNibbleMismatch {
                    nibble: 1,
                    shard_index: 0,
                },
            ),
            (
                "49559948046098556089285890802656571112376888256444235778",
                SeqnoError::CounterTopBit {
                    counter: 0x8000000004004195,
                },
            ),
            (
                "49559948046098556089285809652721500920185183253297102850",
                SeqnoError::CounterTopBit { counter: 1 << 63 },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(SequenceNumber::parse(text), Err(error), "{text}");
        }
    }

    /// Fields that do not fit the layout are refused by `to_decimal` rather than truncated
    /// (and shown as fields by `Display`).
    #[test]
    #[should_panic(expected = "out of range")]
    fn to_decimal_refuses_oversized_counter() {
        let fields = SequenceNumber {
            counter: COUNTER_LIMIT,
            ..REAL_FIELDS
        };
        assert!(!fields.fits_layout());
        // Display shows such fields instead of panicking.
        assert!(fields.to_string().contains("counter: 9223372036854775808"));
        fields.to_decimal();
    }

    proptest! {
        /// The cursor formats runs of consecutive counters, and jumps, of shards
        /// taken in any order (more of them than it keeps, too) exactly as
        /// `to_decimal` does.
        #[test]
        fn cursor_matches_to_decimal(
            start in fitting(),
            shards in 1u32..24,
            steps in proptest::collection::vec((0u32..24, 0u8..4), 1..200),
        ) {
            let mut cursor = DecimalCursor::new();
            let mut numbers: Vec<SequenceNumber> = (0..shards)
                .map(|index| SequenceNumber {
                    shard_index: start.shard_index.wrapping_add(index),
                    ..start
                })
                .collect();
            for (shard, step) in steps {
                let number = &mut numbers[(shard % shards) as usize];
                match step {
                    0 => number.arrival_secs = (number.arrival_secs + 1) % SECS_LIMIT,
                    1 => number.counter = number.counter.wrapping_add(7) % COUNTER_LIMIT,
                    _ => number.counter = (number.counter + 1) % COUNTER_LIMIT,
                }
                prop_assert_eq!(cursor.format(*number).to_owned(), number.to_decimal());
            }
        }

        /// Adding digit words gives what adding digit by digit gives, carries
        /// through runs of nines (across words) included.
        #[test]
        fn add_decimal_adds_as_digit_by_digit(
            digits in prop_oneof!["0[0-9]{55}", "0[89]{55}", "09{55}"],
            addend in prop_oneof!["[0-9]{1,32}", "[19]{1,32}"],
        ) {
            let mut expected = digits.clone().into_bytes();
            let mut carry = 0;
            for (place, digit) in expected.iter_mut().rev().enumerate() {
                let added = addend.len().checked_sub(place + 1).map_or(0, |at| addend.as_bytes()[at] - b'0');
                let sum = *digit - b'0' + added + carry;
                (*digit, carry) = (b'0' + sum % 10, sum / 10);
            }
            let mut digits: [u8; DECIMAL_DIGITS] = digits.as_bytes().try_into().unwrap();
            add_decimal(&mut digits, &decimal_words(addend.as_bytes()));
            prop_assert_eq!(std::str::from_utf8(&digits).unwrap(), std::str::from_utf8(&expected).unwrap());
        }

        /// Any fields that fit the layout encode to 56 digits (`Display` alike) and decode back unchanged.
        #[test]
        fn round_trip(fields in fitting()) {
            let text = fields.to_decimal();
            prop_assert_eq!(text.len(), 56);
            prop_assert_eq!(fields.to_string(), text.clone());
            prop_assert_eq!(text.parse::<SequenceNumber>(), Ok(fields));
        }

        /// `Ord`, the 188-bit values and the decimal strings all order two sequence numbers alike.
        #[test]
        fn order_matches_numeric_value(a in fitting(), b in fitting()) {
            let by_limbs = a.to_limbs().iter().rev().cmp(b.to_limbs().iter().rev());
            prop_assert_eq!(a.cmp(&b), by_limbs);
            prop_assert_eq!(a.cmp(&b), decimal_cmp(&a.to_decimal(), &b.to_decimal()));
        }

        /// Within one shard, sequence numbers order by counter whatever the arrival times.
        #[test]
        fn order_within_shard_follows_counter(
            shard in fitting(),
            counters in (0..COUNTER_LIMIT, 0..COUNTER_LIMIT),
            arrivals in (0..SECS_LIMIT, 0..SECS_LIMIT),
        ) {
            prop_assume!(counters.0 != counters.1);
            let a = SequenceNumber { counter: counters.0, arrival_secs: arrivals.0, ..shard };
            let b = SequenceNumber { counter: counters.1, arrival_secs: arrivals.1, ..shard };
            prop_assert_eq!(a < b, counters.0 < counters.1);
            let text_order = decimal_cmp(&a.to_decimal(), &b.to_decimal());
            prop_assert_eq!(text_order == Ordering::Less, counters.0 < counters.1);
        }

        /// Decimal conversion of arbitrary 192-bit values round-trips, the printing matching u128's for small ones.
        #[test]
        fn decimal_conversion_round_trips(limbs in any::<[u64; 3]>()) {
            let text = format_decimal(limbs);
            prop_assert_eq!(parse_decimal(text.as_bytes()), Some(limbs));
            let low = (u128::from(limbs[1]) << 64) | u128::from(limbs[0]);
            prop_assert_eq!(format_decimal([limbs[0], limbs[1], 0]), low.to_string());
        }
    }
}

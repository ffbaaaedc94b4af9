//! Record batch encoding and verified decoding (see `FORMAT.md`).

use crate::error::{Corruption, Error, Result};
use crate::format::*;

/// A record to append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Partition key: 1 to 256 characters of UTF-8.
    pub partition_key: &'a str,
    /// Explicit hash key, when the producer gave one.
    pub explicit_hash_key: Option<u128>,
    /// The payload.
    pub data: &'a [u8],
}

/// Limits checked before a batch is encoded.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Largest payload of one record, in bytes.
    pub record_bytes_max: usize,
    /// Largest encoded batch, in bytes.
    pub batch_bytes_max: usize,
}

/// Checks one record against the limits and returns its encoded length.
pub fn record_encoded_len(record: &Record<'_>, limits: &BatchLimits) -> Result<usize> {
    let key = record.partition_key;
    if key.is_empty() {
        return Err(Error::InvalidPartitionKey {
            reason: "the partition key is empty; it needs 1 to 256 characters".into(),
        });
    }
    if key.len() > PARTITION_KEY_BYTES_MAX || key.chars().count() > PARTITION_KEY_CHARS_MAX {
        return Err(Error::InvalidPartitionKey {
            reason: format!(
                "the partition key has {} characters; at most {PARTITION_KEY_CHARS_MAX} are allowed",
                key.chars().count()
            ),
        });
    }
    if record.data.len() > limits.record_bytes_max {
        return Err(Error::RecordTooLarge {
            size: record.data.len(),
            max: limits.record_bytes_max,
        });
    }
    let hash_key_len = if record.explicit_hash_key.is_some() {
        EXPLICIT_HASH_KEY_LEN
    } else {
        0
    };
    Ok(RECORD_HEADER_LEN + hash_key_len + key.len() + record.data.len())
}

/// Validates `records` and returns the length of the batch that encodes them.
pub fn batch_encoded_len(records: &[Record<'_>], limits: &BatchLimits) -> Result<usize> {
    if records.is_empty() {
        return Err(Error::InvalidBatch {
            reason: "a batch needs at least one record".into(),
        });
    }
    if records.len() > BATCH_RECORDS_MAX {
        return Err(Error::InvalidBatch {
            reason: format!(
                "{} records; a batch holds at most {BATCH_RECORDS_MAX}",
                records.len()
            ),
        });
    }
    let mut total = BATCH_HEADER_LEN;
    for record in records {
        total += record_encoded_len(record, limits)?;
    }
    if total > limits.batch_bytes_max {
        return Err(Error::InvalidBatch {
            reason: format!(
                "the batch encodes to {total} bytes; the limit is {}",
                limits.batch_bytes_max
            ),
        });
    }
    Ok(total)
}

/// Encodes a batch into `out`, which must be exactly [`batch_encoded_len`] bytes long.
/// Every record gets `arrival_ms`.
pub fn encode_batch_into(
    out: &mut [u8],
    base_position: u64,
    arrival_ms: u64,
    records: &[Record<'_>],
) {
    let mut at = BATCH_HEADER_LEN;
    for record in records {
        let key = record.partition_key.as_bytes();
        out[at + REC_DELTA..at + REC_KEY_LEN].copy_from_slice(&0u32.to_le_bytes());
        out[at + REC_KEY_LEN..at + REC_FLAGS].copy_from_slice(&(key.len() as u16).to_le_bytes());
        out[at + REC_FLAGS] = if record.explicit_hash_key.is_some() {
            REC_FLAG_HASH_KEY
        } else {
            0
        };
        out[at + REC_RESERVED] = 0;
        out[at + REC_DATA_LEN..at + RECORD_HEADER_LEN]
            .copy_from_slice(&(record.data.len() as u32).to_le_bytes());
        at += RECORD_HEADER_LEN;
        if let Some(hash_key) = record.explicit_hash_key {
            out[at..at + EXPLICIT_HASH_KEY_LEN].copy_from_slice(&hash_key.to_le_bytes());
            at += EXPLICIT_HASH_KEY_LEN;
        }
        out[at..at + key.len()].copy_from_slice(key);
        at += key.len();
        out[at..at + record.data.len()].copy_from_slice(record.data);
        at += record.data.len();
    }
    assert_eq!(
        at,
        out.len(),
        "batch buffer length must match the encoded length"
    );
    out[BATCH_MAGIC_AT..BATCH_CRC].copy_from_slice(&BATCH_MAGIC);
    let batch_len = out.len() as u32;
    out[BATCH_LEN..BATCH_VERSION].copy_from_slice(&batch_len.to_le_bytes());
    out[BATCH_VERSION] = FORMAT_VERSION;
    out[BATCH_FLAGS] = 0;
    out[BATCH_RESERVED0..BATCH_BASE].fill(0);
    out[BATCH_BASE..BATCH_COUNT].copy_from_slice(&base_position.to_le_bytes());
    out[BATCH_COUNT..BATCH_RESERVED1].copy_from_slice(&(records.len() as u32).to_le_bytes());
    out[BATCH_RESERVED1..BATCH_FIRST_MS].fill(0);
    out[BATCH_FIRST_MS..BATCH_LAST_MS].copy_from_slice(&arrival_ms.to_le_bytes());
    out[BATCH_LAST_MS..BATCH_HEADER_LEN].copy_from_slice(&arrival_ms.to_le_bytes());
    let crc = crc32fast::hash(&out[BATCH_LEN..]);
    out[BATCH_CRC..BATCH_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// Encodes a batch into a new vector (validating the records first).
pub fn encode_batch(
    base_position: u64,
    arrival_ms: u64,
    records: &[Record<'_>],
    limits: &BatchLimits,
) -> Result<Vec<u8>> {
    let len = batch_encoded_len(records, limits)?;
    let mut out = vec![0u8; len];
    encode_batch_into(&mut out, base_position, arrival_ms, records);
    Ok(out)
}

/// The header fields of a batch, read without verifying the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Length of the whole batch in bytes.
    pub batch_len: usize,
    /// Position of the first record.
    pub base_position: u64,
    /// Number of records.
    pub record_count: u32,
    /// Arrival time of the first record, ms.
    pub first_arrival_ms: u64,
    /// Arrival time of the last record, ms.
    pub last_arrival_ms: u64,
}

impl BatchHeader {
    /// Position after the batch's last record.
    pub fn end_position(&self) -> u64 {
        self.base_position + u64::from(self.record_count)
    }
}

/// Reads a batch header at the start of `bytes` and checks that the whole batch is present.
/// The checksum is not verified: use [`BatchView::parse`] for that.
pub fn peek_header(bytes: &[u8]) -> std::result::Result<BatchHeader, Corruption> {
    let header = read_header(bytes)?;
    if bytes.len() < header.batch_len {
        return Err(Corruption::Truncated {
            needed: header.batch_len as u64,
            available: bytes.len() as u64,
        });
    }
    Ok(header)
}

/// Reads a batch header from its first [`BATCH_HEADER_LEN`] bytes, whether or not
/// the rest of the batch is there. Nothing is verified but the magic and that the
/// fields are possible.
pub fn read_header(bytes: &[u8]) -> std::result::Result<BatchHeader, Corruption> {
    if bytes.len() < BATCH_HEADER_LEN {
        return Err(Corruption::Truncated {
            needed: BATCH_HEADER_LEN as u64,
            available: bytes.len() as u64,
        });
    }
    if bytes[BATCH_MAGIC_AT..BATCH_CRC] != BATCH_MAGIC {
        return Err(Corruption::BadMagic);
    }
    let batch_len = read_u32(bytes, BATCH_LEN) as usize;
    if batch_len < BATCH_HEADER_LEN + RECORD_HEADER_LEN {
        return Err(Corruption::InvalidField {
            reason: format!("batch length {batch_len} is shorter than one record"),
        });
    }
    let base_position = read_u64(bytes, BATCH_BASE);
    let record_count = read_u32(bytes, BATCH_COUNT);
    if base_position.checked_add(u64::from(record_count)).is_none() {
        return Err(Corruption::InvalidField {
            reason: format!("positions {base_position} + {record_count} overflow"),
        });
    }
    Ok(BatchHeader {
        batch_len,
        base_position,
        record_count,
        first_arrival_ms: read_u64(bytes, BATCH_FIRST_MS),
        last_arrival_ms: read_u64(bytes, BATCH_LAST_MS),
    })
}

/// A verified batch borrowed from its bytes.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    header: BatchHeader,
    bytes: &'a [u8],
}

/// One record of a verified batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// The record's position in its shard.
    pub position: u64,
    /// Arrival time, ms since the epoch.
    pub arrival_ms: u64,
    /// Partition key.
    pub partition_key: &'a str,
    /// Explicit hash key, if the producer gave one.
    pub explicit_hash_key: Option<u128>,
    /// Payload.
    pub data: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// Verifies the batch at the start of `bytes`: magic, length, checksum, version
    /// and that its records exactly fill it.
    pub fn parse(bytes: &'a [u8]) -> std::result::Result<Self, Corruption> {
        let view = Self::parse_checksummed(bytes)?;
        let header = view.header;
        let bytes = view.bytes;
        let mut seen = 0u32;
        let mut records = view.raw_records();
        for record in &mut records {
            record?;
            seen += 1;
        }
        if seen != header.record_count || records.at != bytes.len() {
            return Err(Corruption::InvalidField {
                reason: format!(
                    "{} records declared, {seen} found, {} bytes left over",
                    header.record_count,
                    bytes.len().saturating_sub(records.at)
                ),
            });
        }
        Ok(view)
    }

    /// Verifies the checksum and the header fields, not the record layout. For
    /// reads of batches that [`BatchView::parse`] checked when the log was written
    /// or recovered: the checksum proves the bytes are those, and iterating records
    /// stays bounds-checked either way.
    pub fn parse_checksummed(bytes: &'a [u8]) -> std::result::Result<Self, Corruption> {
        let header = peek_header(bytes)?;
        let bytes = &bytes[..header.batch_len];
        let expected = read_u32(bytes, BATCH_CRC);
        let actual = crc32fast::hash(&bytes[BATCH_LEN..]);
        if expected != actual {
            return Err(Corruption::ChecksumMismatch { expected, actual });
        }
        Self::check_fields(header, bytes)
    }

    /// Checks the header fields as [`BatchView::parse_checksummed`] does, but not
    /// the checksum: for a batch whose checksum this process verified before, in
    /// the same bytes (a segment's verified prefix; see `verified.rs`).
    pub(crate) fn parse_previously_verified(
        bytes: &'a [u8],
    ) -> std::result::Result<Self, Corruption> {
        let header = peek_header(bytes)?;
        Self::check_fields(header, &bytes[..header.batch_len])
    }

    /// The checks of the header's fields beyond [`peek_header`]'s; `bytes` is the
    /// whole batch.
    fn check_fields(header: BatchHeader, bytes: &'a [u8]) -> std::result::Result<Self, Corruption> {
        if bytes[BATCH_VERSION] != FORMAT_VERSION {
            return Err(Corruption::InvalidField {
                reason: format!("batch format version {}", bytes[BATCH_VERSION]),
            });
        }
        if header.record_count == 0 || header.record_count as usize > BATCH_RECORDS_MAX {
            return Err(Corruption::InvalidField {
                reason: format!("record count {}", header.record_count),
            });
        }
        if header.last_arrival_ms < header.first_arrival_ms {
            return Err(Corruption::InvalidField {
                reason: "last arrival time precedes the first".into(),
            });
        }
        Ok(BatchView { header, bytes })
    }

    /// A batch that was verified when it was read; skips the checksum.
    pub(crate) fn trusted(bytes: &'a [u8]) -> Self {
        let header = peek_header(bytes).expect("batch verified when it was read");
        BatchView {
            header,
            bytes: &bytes[..header.batch_len],
        }
    }

    /// The batch header.
    pub fn header(&self) -> BatchHeader {
        self.header
    }

    /// The batch's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The records, in position order.
    pub fn records(&self) -> impl Iterator<Item = RecordView<'a>> + 'a {
        // Verified in `parse`: every record decodes.
        self.raw_records().map_while(|record| record.ok())
    }

    /// The records after the first `skip`, which are stepped over by their lengths
    /// alone (no decoding): a read that starts inside a large batch pays little for
    /// the records before its position.
    pub fn records_after(&self, skip: usize) -> impl Iterator<Item = RecordView<'a>> + 'a {
        let mut raw = self.raw_records();
        for _ in 0..skip {
            if !raw.step_over() {
                break;
            }
        }
        raw.map_while(|record| record.ok())
    }

    fn raw_records(&self) -> RawRecords<'a> {
        RawRecords {
            bytes: self.bytes,
            header: self.header,
            at: BATCH_HEADER_LEN,
            index: 0,
        }
    }
}

struct RawRecords<'a> {
    bytes: &'a [u8],
    header: BatchHeader,
    at: usize,
    index: u32,
}

impl RawRecords<'_> {
    /// Advances past one record using its length fields only; false at the end
    /// or on a length that runs past the batch (the iterator then ends).
    fn step_over(&mut self) -> bool {
        let at = self.at;
        if self.index >= self.header.record_count || at + RECORD_HEADER_LEN > self.bytes.len() {
            self.at = self.bytes.len();
            return false;
        }
        let key_len = usize::from(read_u16(self.bytes, at + REC_KEY_LEN));
        let hash_len = if self.bytes[at + REC_FLAGS] & REC_FLAG_HASH_KEY != 0 {
            EXPLICIT_HASH_KEY_LEN
        } else {
            0
        };
        let data_len = read_u32(self.bytes, at + REC_DATA_LEN) as usize;
        let next = at + RECORD_HEADER_LEN + hash_len + key_len + data_len;
        if next > self.bytes.len() {
            self.at = self.bytes.len();
            return false;
        }
        self.at = next;
        self.index += 1;
        true
    }
}

impl<'a> Iterator for RawRecords<'a> {
    type Item = std::result::Result<RecordView<'a>, Corruption>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.header.record_count || self.at >= self.bytes.len() {
            return None;
        }
        let result = decode_record(self.bytes, self.at, &self.header, self.index);
        match &result {
            Ok((_, next)) => {
                self.at = *next;
                self.index += 1;
            }
            Err(_) => self.at = self.bytes.len(),
        }
        Some(result.map(|(record, _)| record))
    }
}

fn decode_record<'a>(
    bytes: &'a [u8],
    at: usize,
    header: &BatchHeader,
    index: u32,
) -> std::result::Result<(RecordView<'a>, usize), Corruption> {
    let truncated = |needed: usize| Corruption::Truncated {
        needed: needed as u64,
        available: bytes.len() as u64,
    };
    if at + RECORD_HEADER_LEN > bytes.len() {
        return Err(truncated(at + RECORD_HEADER_LEN));
    }
    let delta = read_u32(bytes, at + REC_DELTA);
    let key_len = usize::from(read_u16(bytes, at + REC_KEY_LEN));
    let flags = bytes[at + REC_FLAGS];
    let data_len = read_u32(bytes, at + REC_DATA_LEN) as usize;
    if flags & !REC_FLAG_HASH_KEY != 0 {
        return Err(Corruption::InvalidField {
            reason: format!("record flags {flags:#04x}"),
        });
    }
    if key_len == 0 || key_len > PARTITION_KEY_BYTES_MAX {
        return Err(Corruption::InvalidField {
            reason: format!("partition key length {key_len}"),
        });
    }
    let mut cursor = at + RECORD_HEADER_LEN;
    let explicit_hash_key = if flags & REC_FLAG_HASH_KEY != 0 {
        if cursor + EXPLICIT_HASH_KEY_LEN > bytes.len() {
            return Err(truncated(cursor + EXPLICIT_HASH_KEY_LEN));
        }
        let value = read_u128(bytes, cursor);
        cursor += EXPLICIT_HASH_KEY_LEN;
        Some(value)
    } else {
        None
    };
    let end = cursor
        .checked_add(key_len)
        .and_then(|end| end.checked_add(data_len))
        .filter(|end| *end <= bytes.len())
        .ok_or_else(|| truncated(cursor + key_len + data_len))?;
    let partition_key = std::str::from_utf8(&bytes[cursor..cursor + key_len]).map_err(|_| {
        Corruption::InvalidField {
            reason: "partition key is not UTF-8".into(),
        }
    })?;
    cursor += key_len;
    let arrival_ms = header
        .first_arrival_ms
        .checked_add(u64::from(delta))
        .filter(|arrival| *arrival <= header.last_arrival_ms);
    let Some(arrival_ms) = arrival_ms else {
        return Err(Corruption::InvalidField {
            reason: "record arrival time after the batch's last".into(),
        });
    };
    Ok((
        RecordView {
            position: header.base_position + u64::from(index),
            arrival_ms,
            partition_key,
            explicit_hash_key,
            data: &bytes[cursor..end],
        },
        end,
    ))
}

#[cfg(test)]
mod tests {
    //! Batch codec: round trips, bit flips and truncation are all caught.
    use super::*;
    use proptest::prelude::*;

    const LIMITS: BatchLimits = BatchLimits {
        record_bytes_max: 1 << 20,
        batch_bytes_max: 64 << 20,
    };

    type OwnedRecord = (String, Option<u128>, Vec<u8>);

    fn arb_records() -> impl Strategy<Value = Vec<OwnedRecord>> {
        proptest::collection::vec(
            (
                "[a-zA-Z0-9é漢]{1,40}",
                proptest::option::of(any::<u128>()),
                proptest::collection::vec(any::<u8>(), 0..300),
            ),
            1..20,
        )
    }

    fn borrow(records: &[OwnedRecord]) -> Vec<Record<'_>> {
        records
            .iter()
            .map(|(key, hash, data)| Record {
                partition_key: key,
                explicit_hash_key: *hash,
                data,
            })
            .collect()
    }

    proptest! {
        /// Any batch decodes back to the records it was built from.
        #[test]
        fn round_trip(records in arb_records(), base in 0u64..u64::MAX / 2, arrival in 0u64..u64::MAX / 2) {
            let input = borrow(&records);
            let bytes = encode_batch(base, arrival, &input, &LIMITS).unwrap();
            let view = BatchView::parse(&bytes).unwrap();
            prop_assert_eq!(view.header().record_count as usize, input.len());
            prop_assert_eq!(view.header().batch_len, bytes.len());
            let decoded: Vec<RecordView<'_>> = view.records().collect();
            prop_assert_eq!(decoded.len(), input.len());
            for (i, (record, original)) in decoded.iter().zip(&input).enumerate() {
                prop_assert_eq!(record.position, base + i as u64);
                prop_assert_eq!(record.arrival_ms, arrival);
                prop_assert_eq!(record.partition_key, original.partition_key);
                prop_assert_eq!(record.explicit_hash_key, original.explicit_hash_key);
                prop_assert_eq!(record.data, original.data);
            }
        }

        /// Skipping records by their lengths lands on the same records as decoding them.
        #[test]
        fn records_after_matches_skip(records in arb_records(), skip in 0usize..25) {
            let input = borrow(&records);
            let bytes = encode_batch(3, 4, &input, &LIMITS).unwrap();
            let view = BatchView::parse(&bytes).unwrap();
            let stepped: Vec<RecordView<'_>> = view.records_after(skip).collect();
            let decoded: Vec<RecordView<'_>> = view.records().skip(skip).collect();
            prop_assert_eq!(stepped, decoded);
        }

        /// Flipping any single bit of a batch makes it fail verification.
        #[test]
        fn any_flipped_bit_is_detected(records in arb_records(), bit_seed in any::<usize>()) {
            let input = borrow(&records);
            let mut bytes = encode_batch(9, 1_700_000_000_000, &input, &LIMITS).unwrap();
            let bit = bit_seed % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(BatchView::parse(&bytes).is_err());
        }

        /// Any strict prefix of a batch is reported as corrupt, never decoded.
        #[test]
        fn any_prefix_is_rejected(records in arb_records(), cut_seed in any::<usize>()) {
            let input = borrow(&records);
            let bytes = encode_batch(0, 5, &input, &LIMITS).unwrap();
            let cut = cut_seed % bytes.len();
            prop_assert!(BatchView::parse(&bytes[..cut]).is_err());
        }
    }

    /// Limits are enforced with errors that say which limit.
    #[test]
    fn limits_are_enforced() {
        let big = vec![0u8; 11];
        let limits = BatchLimits {
            record_bytes_max: 10,
            batch_bytes_max: 200,
        };
        let record = Record {
            partition_key: "k",
            explicit_hash_key: None,
            data: &big,
        };
        assert!(matches!(
            encode_batch(0, 0, &[record], &limits),
            Err(Error::RecordTooLarge { size: 11, max: 10 })
        ));
        assert!(matches!(
            encode_batch(0, 0, &[], &limits),
            Err(Error::InvalidBatch { .. })
        ));
        let empty_key = Record {
            partition_key: "",
            explicit_hash_key: None,
            data: b"x",
        };
        assert!(matches!(
            encode_batch(0, 0, &[empty_key], &limits),
            Err(Error::InvalidPartitionKey { .. })
        ));
        let long_key = "x".repeat(257);
        let long = Record {
            partition_key: &long_key,
            explicit_hash_key: None,
            data: b"x",
        };
        assert!(matches!(
            encode_batch(0, 0, &[long], &LIMITS),
            Err(Error::InvalidPartitionKey { .. })
        ));
        let small = Record {
            partition_key: "k",
            explicit_hash_key: None,
            data: b"0123456789",
        };
        assert!(matches!(
            encode_batch(0, 0, &[small; 20], &limits),
            Err(Error::InvalidBatch { .. })
        ));
    }
}

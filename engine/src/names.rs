//! Names, identifiers and request validation shared by the engine's operations.

use crate::error::{Constraint, Field, InvalidField, StreamLookupError};

/// Longest stream name.
pub const STREAM_NAME_CHARS_MAX: usize = 128;
/// Most tags on a stream.
pub const TAGS_MAX: usize = 50;

/// A shard's id within its stream: its index, shown as `shardId-000000000007`.
/// Requests name shards by text; it is read once, where the request is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(pub u32);

impl ShardId {
    /// The largest index a shard id may name (Kinesis's shard numbers are Java ints).
    pub const INDEX_MAX: u32 = i32::MAX as u32;

    /// Reads a shard id in any form Kinesis accepts: the number after the first
    /// hyphen (`shardId-000000000001`, `shardId-1`, but also `shard-1` or `-1`),
    /// or the whole text when it has none (`1`, `000000000001`). `None` when it
    /// names no number up to [`ShardId::INDEX_MAX`].
    pub fn parse(text: &str) -> Option<ShardId> {
        let digits = match text.split_once('-') {
            Some((_, rest)) => rest.split('-').next().unwrap_or(rest),
            None => text,
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let significant = digits.trim_start_matches('0');
        // More than ten digits is past INDEX_MAX, and would overflow the parse.
        if significant.len() > 10 {
            return None;
        }
        let index = if significant.is_empty() {
            0
        } else {
            significant.parse::<u64>().ok()?
        };
        u32::try_from(index)
            .ok()
            .filter(|index| *index <= Self::INDEX_MAX)
            .map(ShardId)
    }

    /// The shard's index in its stream.
    pub fn index(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for ShardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shardId-{:012}", self.0)
    }
}

/// The error for a stream or consumer name (in `field`) that breaks the name rule.
pub(crate) fn invalid_name(field: Field, name: &str) -> InvalidField {
    InvalidField {
        field,
        value: Some(name.to_string()),
        constraint: Constraint::Name {
            chars_max: STREAM_NAME_CHARS_MAX,
        },
    }
}

/// Checks a stream name: 1 to 128 characters of `[a-zA-Z0-9_.-]`.
pub fn check_stream_name(name: &str) -> Result<(), StreamLookupError> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if name.is_empty() || name.len() > STREAM_NAME_CHARS_MAX || !valid_chars {
        return Err(StreamLookupError::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Shard ids and stream names.
    use super::*;

    /// Shard ids show twelve digits and parse back from every form Kinesis reads.
    #[test]
    fn shard_ids() {
        assert_eq!(ShardId(7).to_string(), "shardId-000000000007");
        for text in [
            "shardId-000000000007",
            "shardId-7",
            "shard-7",
            "-7",
            "7",
            "0007",
        ] {
            assert_eq!(ShardId::parse(text), Some(ShardId(7)), "{text}");
        }
        assert_eq!(ShardId::parse("shardId-0"), Some(ShardId(0)));
        assert_eq!(
            ShardId::parse("2147483647"),
            Some(ShardId(ShardId::INDEX_MAX))
        );
        for text in [
            "",
            "shardId-",
            "shardId-x1",
            "2147483648",
            "00000000000099999999999",
        ] {
            assert_eq!(ShardId::parse(text), None, "{text}");
        }
    }

    /// Stream names follow Kinesis's pattern and length.
    #[test]
    fn stream_names() {
        assert!(check_stream_name("orders_v2.eu-1").is_ok());
        assert!(check_stream_name(&"a".repeat(128)).is_ok());
        for bad in ["", "has space", "slash/", &"a".repeat(129)] {
            let error = check_stream_name(bad).unwrap_err();
            assert!(
                matches!(&error, StreamLookupError::InvalidName { name } if name == bad),
                "{error}"
            );
        }
    }
}

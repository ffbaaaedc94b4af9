//! Names, identifiers and request validation shared by the engine's operations.

use crate::error::{Constraint, Error, Result};

/// Longest stream name.
pub const STREAM_NAME_CHARS_MAX: usize = 128;
/// Most tags on a stream.
pub const TAGS_MAX: usize = 50;

/// The shard id Kinesis shows for shard `index`: `shardId-000000000007`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Parses `shardId-000000000007` (or the bare number, as Kinesis accepts) into 7.
pub fn parse_shard_id(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("shardId-").unwrap_or(text);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The error for a stream or consumer name (in `field`) that breaks the name rule.
pub(crate) fn invalid_name(field: &'static str, name: &str) -> Error {
    Error::InvalidField {
        field,
        value: Some(name.to_string()),
        constraint: Constraint::Name {
            chars_max: STREAM_NAME_CHARS_MAX,
        },
    }
}

/// Checks a stream name: 1 to 128 characters of `[a-zA-Z0-9_.-]`.
pub fn check_stream_name(name: &str) -> Result<()> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if name.is_empty() || name.len() > STREAM_NAME_CHARS_MAX || !valid_chars {
        return Err(invalid_name("streamName", name));
    }
    Ok(())
}

/// The ARN of a stream.
pub fn stream_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:kinesis:{region}:{account_id}:stream/{name}")
}

/// The error for a stream that does not exist.
pub fn stream_not_found(name: &str) -> Error {
    Error::StreamNotFound {
        stream: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    //! Shard ids and stream names.
    use super::*;

    /// Shard ids format with twelve digits and parse back, with or without the prefix.
    #[test]
    fn shard_ids() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("7"), Some(7));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("shardId-x1"), None);
        assert_eq!(parse_shard_id("shardId-0000000000071"), None);
    }

    /// Stream names follow Kinesis's pattern and length.
    #[test]
    fn stream_names() {
        assert!(check_stream_name("orders_v2.eu-1").is_ok());
        assert!(check_stream_name(&"a".repeat(128)).is_ok());
        for bad in ["", "has space", "slash/", &"a".repeat(129)] {
            let error = check_stream_name(bad).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::InvalidField {
                        field: "streamName",
                        ..
                    }
                ),
                "{error}"
            );
        }
    }
}

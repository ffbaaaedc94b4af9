//! Firehose's object naming: `Prefix` + `YYYY/MM/DD/HH/` (UTC) +
//! `<delivery-stream>-<version>-YYYY-MM-DD-HH-MM-SS-<id>` + extension.
//!
//! The time is the arrival time of the buffer's first record and the id is
//! derived from the source range the object holds, so delivering the same range
//! again writes the same key.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A UTC calendar time, as Firehose's keys spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime(DateTime<Utc>);

impl UtcTime {
    /// The UTC time of `ms` since the Unix epoch (times past chrono's range,
    /// year 262143, clamp to its last instant).
    pub fn from_epoch_ms(ms: u64) -> UtcTime {
        let time = i64::try_from(ms)
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        UtcTime(time)
    }

    /// `YYYY/MM/DD/HH/`.
    pub fn hour_path(&self) -> String {
        self.0.format("%Y/%m/%d/%H/").to_string()
    }

    /// `YYYY-MM-DD-HH-MM-SS`.
    pub fn stamp(&self) -> String {
        self.0.format("%Y-%m-%d-%H-%M-%S").to_string()
    }
}

/// An id shaped like Firehose's (a UUID) derived from a description of the
/// source range: the same range always gives the same id.
pub fn range_id(range: &str) -> String {
    let digest = Sha256::digest(range.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The key of an object: `prefix` + `YYYY/MM/DD/HH/` + the file name.
pub fn object_key(
    prefix: &str,
    stream: &str,
    version: u64,
    time_ms: u64,
    id: &str,
    extension: &str,
) -> String {
    let time = UtcTime::from_epoch_ms(time_ms);
    format!(
        "{prefix}{}{stream}-{version}-{}-{id}{extension}",
        time.hour_path(),
        time.stamp()
    )
}

#[cfg(test)]
mod tests {
    //! Calendar conversion and key shape.
    use super::*;

    /// Known instants convert to their calendar time, including leap days.
    #[test]
    fn epoch_ms_to_utc() {
        assert_eq!(UtcTime::from_epoch_ms(0).stamp(), "1970-01-01-00-00-00");
        // 2024-02-29T23:59:58.500Z
        let t = UtcTime::from_epoch_ms(1_709_251_198_500);
        assert_eq!(t.stamp(), "2024-02-29-23-59-58");
        // 2000-03-01T00:00:00Z
        assert_eq!(
            UtcTime::from_epoch_ms(951_868_800_000).stamp(),
            "2000-03-01-00-00-00"
        );
        // 2026-11-21T05:45:07Z
        let t = UtcTime::from_epoch_ms(1_795_239_907_000);
        assert_eq!(t.hour_path(), "2026/11/21/05/");
    }

    /// Keys follow Firehose's layout; ids depend only on the range.
    #[test]
    fn key_layout_and_stable_ids() {
        let id = range_id("staging:0..=9");
        assert_eq!(id, range_id("staging:0..=9"));
        assert_ne!(id, range_id("staging:0..=10"));
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        let key = object_key("logs/", "orders", 1, 1_709_251_198_500, &id, ".gz");
        assert_eq!(
            key,
            format!("logs/2024/02/29/23/orders-1-2024-02-29-23-59-58-{id}.gz")
        );
    }
}

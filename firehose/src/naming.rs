//! Firehose's object naming: `Prefix` + `YYYY/MM/DD/HH/` (UTC) +
//! `<delivery-stream>-<version>-YYYY-MM-DD-HH-MM-SS-<id>` + extension.
//!
//! The time is the arrival time of the buffer's first record and the id is
//! derived from the source range the object holds, so delivering the same range
//! again writes the same key.

use sha2::{Digest, Sha256};

/// A UTC calendar time to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year.
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
}

impl UtcTime {
    /// The UTC time of `ms` since the Unix epoch.
    pub fn from_epoch_ms(ms: u64) -> UtcTime {
        let seconds = ms / 1000;
        let days = (seconds / 86_400) as i64;
        let of_day = (seconds % 86_400) as u32;
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        UtcTime {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day % 3600 / 60,
            second: of_day % 60,
        }
    }

    /// `YYYY/MM/DD/HH/`.
    pub fn hour_path(&self) -> String {
        format!(
            "{:04}/{:02}/{:02}/{:02}/",
            self.year, self.month, self.day, self.hour
        )
    }

    /// `YYYY-MM-DD-HH-MM-SS`.
    pub fn stamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
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
        let t = UtcTime::from_epoch_ms(0);
        assert_eq!((t.year, t.month, t.day, t.hour), (1970, 1, 1, 0));
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

//! Optional per-shard throughput quotas, as Kinesis enforces them: writes 1 MiB/s
//! and 1,000 records/s, reads 2 MiB/s and 5 GetRecords calls/s per shard. Token
//! buckets holding one second's worth, refilled continuously. Times are ms from
//! the engine's clock (`EngineConfig::clock`), so tests can hold time still.

/// Write bytes per second per shard.
pub const WRITE_BYTES_PER_S: f64 = 1_048_576.0;
/// Write records per second per shard.
pub const WRITE_RECORDS_PER_S: f64 = 1_000.0;
/// Read bytes per second per shard.
pub const READ_BYTES_PER_S: f64 = 2_097_152.0;
/// GetRecords calls per second per shard.
pub const READ_CALLS_PER_S: f64 = 5.0;

#[derive(Debug, Clone)]
struct Bucket {
    rate_per_s: f64,
    tokens: f64,
    refilled_ms: u64,
}

impl Bucket {
    fn new(rate_per_s: f64, now_ms: u64) -> Self {
        Bucket {
            rate_per_s,
            tokens: rate_per_s,
            refilled_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: u64) {
        let elapsed_s = now_ms.saturating_sub(self.refilled_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed_s * self.rate_per_s).min(self.rate_per_s);
        self.refilled_ms = self.refilled_ms.max(now_ms);
    }
}

/// The buckets of one shard.
#[derive(Debug, Clone)]
pub(crate) struct ShardQuota {
    write_bytes: Bucket,
    write_records: Bucket,
    read_bytes: Bucket,
    read_calls: Bucket,
}

impl ShardQuota {
    pub(crate) fn new(now: u64) -> Self {
        ShardQuota {
            write_bytes: Bucket::new(WRITE_BYTES_PER_S, now),
            write_records: Bucket::new(WRITE_RECORDS_PER_S, now),
            read_bytes: Bucket::new(READ_BYTES_PER_S, now),
            read_calls: Bucket::new(READ_CALLS_PER_S, now),
        }
    }

    /// Takes one record of `bytes` from the write buckets, if both have room.
    pub(crate) fn take_write(&mut self, bytes: usize, now: u64) -> bool {
        self.write_bytes.refill(now);
        self.write_records.refill(now);
        let bytes = bytes as f64;
        if self.write_bytes.tokens < bytes || self.write_records.tokens < 1.0 {
            return false;
        }
        self.write_bytes.tokens -= bytes;
        self.write_records.tokens -= 1.0;
        true
    }

    /// Admits a GetRecords call if a call token is left and the byte bucket is not
    /// in debt from earlier large reads.
    pub(crate) fn take_read_call(&mut self, now: u64) -> bool {
        self.read_calls.refill(now);
        self.read_bytes.refill(now);
        if self.read_calls.tokens < 1.0 || self.read_bytes.tokens < 0.0 {
            return false;
        }
        self.read_calls.tokens -= 1.0;
        true
    }

    /// Charges the bytes a read returned (may go into debt: one call may return up
    /// to 10 MiB, and the next calls wait for the bucket to refill).
    pub(crate) fn charge_read(&mut self, bytes: usize) {
        self.read_bytes.tokens -= bytes as f64;
    }
}

#[cfg(test)]
mod tests {
    //! Bucket arithmetic with explicit times.
    use super::*;

    /// A second's worth of writes passes, the next record waits for the refill.
    #[test]
    fn write_limits_refill_over_time() {
        let start = 1_000_000;
        let mut quota = ShardQuota::new(start);
        let mut admitted = 0;
        while quota.take_write(1024, start) {
            admitted += 1;
        }
        assert_eq!(admitted, 1000, "1,000 records/s bounds 1 KiB records");
        assert!(!quota.take_write(1, start));
        assert!(quota.take_write(1024, start + 10));
        let mut big = ShardQuota::new(start);
        assert!(big.take_write(1 << 20, start));
        assert!(!big.take_write(1, start));
    }

    /// Five calls a second; a large read puts the bytes bucket in debt until refilled.
    #[test]
    fn read_limits() {
        let start = 1_000_000;
        let mut quota = ShardQuota::new(start);
        for _ in 0..5 {
            assert!(quota.take_read_call(start));
        }
        assert!(!quota.take_read_call(start));
        let later = start + 1_000;
        assert!(quota.take_read_call(later));
        quota.charge_read(10 << 20);
        assert!(!quota.take_read_call(later + 1_000));
        assert!(quota.take_read_call(later + 5_000));
    }
}

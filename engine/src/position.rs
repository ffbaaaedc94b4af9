//! A record's position within its shard.

/// A record's position within its shard: 0 for the shard's first record ever
/// written, one more for each record after it. Positions stay when retention
/// removes older records, so the first readable position may be above 0.
///
/// The storage layer counts positions as plain `u64`; the engine wraps them here,
/// where they meet sequence numbers, timestamps and counts, so that none of those
/// can be passed for a position by mistake. Stored in the manifest as the bare
/// number (`serde(transparent)`), so the format is unchanged.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Position(u64);

impl Position {
    /// The position of a shard's first record.
    pub const FIRST: Position = Position(0);

    /// The position numbered `value` by the storage layer or an iterator token.
    pub const fn new(value: u64) -> Position {
        Position(value)
    }

    /// The number the storage layer and the iterator token's format use.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The position right after this one. Positions are below 2^63 (the
    /// sequence number's counter field), so this does not overflow.
    pub const fn next(self) -> Position {
        Position(self.0 + 1)
    }

    /// The position `count` records after this one (the k-th record of a batch
    /// that starts here).
    pub const fn plus(self, count: u64) -> Position {
        Position(self.0 + count)
    }

    /// The position right before this one, or `None` at the shard's first.
    pub const fn previous(self) -> Option<Position> {
        match self.0.checked_sub(1) {
            Some(value) => Some(Position(value)),
            None => None,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "position {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positions step forward and back by one record and order by their number.
    #[test]
    fn positions_step_and_order() {
        let p = Position::new(41);
        assert_eq!(p.next(), Position::new(42));
        assert_eq!(p.plus(3).get(), 44);
        assert_eq!(p.previous(), Some(Position::new(40)));
        assert_eq!(Position::FIRST.previous(), None);
        assert!(Position::FIRST < p);
        assert_eq!(p.to_string(), "position 41");
    }

    /// A position is stored in JSON as its bare number, as the manifest always did.
    #[test]
    fn position_serializes_as_a_number() {
        let json = serde_json::to_string(&Some(Position::new(7))).unwrap();
        assert_eq!(json, "7");
        let back: Option<Position> = serde_json::from_str("7").unwrap();
        assert_eq!(back, Some(Position::new(7)));
    }
}

//! State log checkpoints and replay (see `FORMAT.md`, "Checkpoints"): a snapshot
//! of the delivery state in one batch, so that sealed state segments before it
//! can be removed and recovery replays only what came after.

use crate::delivery::{Delivery, Tracked};
use crate::state_log::{Entry, AT_FIELDS, AT_KIND, AT_POSITION, VERSION};

const KIND_CHECKPOINT: u8 = 7;
const KIND_ITEMS: u8 = 8;
const CHECKPOINT_LEN: usize = AT_FIELDS + 16;
const ITEMS_HEADER_LEN: usize = AT_FIELDS + 8;
const ITEM_LEN: usize = 40;
const _: () = assert!(CHECKPOINT_LEN == 32 && ITEMS_HEADER_LEN == 24);
/// Most items in one Items record (16384 × 40 bytes = 640 KiB, under the record limit).
pub const ITEMS_PER_RECORD_MAX: usize = 16_384;

const ITEM_RECEIVED: u8 = 1;
const ITEM_DELAYED: u8 = 2;
const ITEM_PASSED: u8 = 3;
const ITEM_REMOVED: u8 = 4;

/// Encodes a checkpoint of `delivery` (and, for FIFO queues, the positions the
/// cursor passed while their group was held) as the records of one batch.
pub fn encode(delivery: &Delivery, passed: &[u64]) -> Vec<Vec<u8>> {
    let mut items: Vec<[u8; ITEM_LEN]> = Vec::new();
    for (position, t) in &delivery.tracked {
        let times = [t.visible_at_ms, t.first_receive_ms, t.sent_ms];
        items.push(item(ITEM_RECEIVED, t.receive_count, *position, times));
    }
    for (position, (visible_from_ms, sent_ms)) in &delivery.delayed_info {
        items.push(item(
            ITEM_DELAYED,
            0,
            *position,
            [*visible_from_ms, 0, *sent_ms],
        ));
    }
    for position in passed {
        items.push(item(ITEM_PASSED, 0, *position, [0; 3]));
    }
    for position in &delivery.removed_ahead {
        items.push(item(ITEM_REMOVED, 0, *position, [0; 3]));
    }
    let chunks: Vec<&[[u8; ITEM_LEN]]> = items.chunks(ITEMS_PER_RECORD_MAX).collect();
    let mut head = header(KIND_CHECKPOINT, delivery.cursor);
    head.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    head.extend_from_slice(&[0; 4]);
    head.extend_from_slice(&(items.len() as u64).to_le_bytes());
    let mut records = vec![head];
    for chunk in chunks {
        let mut record = header(KIND_ITEMS, 0);
        record.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        record.extend_from_slice(&[0; 4]);
        chunk.iter().for_each(|item| record.extend_from_slice(item));
        records.push(record);
    }
    records
}

fn header(kind: u8, position: u64) -> Vec<u8> {
    let mut out = vec![VERSION, kind, 0, 0, 0, 0, 0, 0];
    out.extend_from_slice(&position.to_le_bytes());
    out
}

fn item(kind: u8, receive_count: u32, position: u64, times: [u64; 3]) -> [u8; ITEM_LEN] {
    let mut out = [0u8; ITEM_LEN];
    out[0] = kind;
    out[4..8].copy_from_slice(&receive_count.to_le_bytes());
    out[8..16].copy_from_slice(&position.to_le_bytes());
    for (k, time) in times.iter().enumerate() {
        out[16 + 8 * k..24 + 8 * k].copy_from_slice(&time.to_le_bytes());
    }
    out
}

/// Rebuilds the delivery state from state log records, in log order.
#[derive(Debug)]
pub struct Replay {
    /// The state so far.
    pub delivery: Delivery,
    /// Items records still expected by the last checkpoint.
    items_expected: u32,
    /// Items still expected by the last checkpoint.
    item_count_left: u64,
    /// The message log's first position (the cursor never starts below it).
    first_position: u64,
}

impl Replay {
    /// Replay with the cursor starting at the message log's first position.
    pub fn new(first_position: u64) -> Replay {
        Replay {
            delivery: Delivery::new(first_position),
            items_expected: 0,
            item_count_left: 0,
            first_position,
        }
    }

    /// Applies one record.
    pub fn apply(&mut self, bytes: &[u8]) -> Result<(), String> {
        let kind = bytes.get(AT_KIND).copied();
        if kind == Some(KIND_ITEMS) {
            return self.apply_items(bytes);
        }
        if self.items_expected > 0 {
            return Err(format!(
                "{} checkpoint item records missing",
                self.items_expected
            ));
        }
        if kind != Some(KIND_CHECKPOINT) {
            self.delivery.apply(&Entry::decode(bytes)?);
            self.delivery.advance_cursor();
            return Ok(());
        }
        check_header(bytes, CHECKPOINT_LEN)?;
        let cursor = u64_at(bytes, AT_POSITION);
        self.delivery = Delivery::new(cursor.max(self.first_position));
        self.items_expected = u32_at(bytes, AT_FIELDS);
        self.item_count_left = u64_at(bytes, AT_FIELDS + 8);
        Ok(())
    }

    fn apply_items(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.items_expected == 0 {
            return Err("checkpoint items without a checkpoint".into());
        }
        let count = bytes
            .get(AT_FIELDS..AT_FIELDS + 4)
            .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4")));
        check_header(bytes, ITEMS_HEADER_LEN + count as usize * ITEM_LEN)?;
        if u64::from(count) > self.item_count_left || count as usize > ITEMS_PER_RECORD_MAX {
            return Err("more checkpoint items than declared".into());
        }
        self.items_expected -= 1;
        self.item_count_left -= u64::from(count);
        if self.items_expected == 0 && self.item_count_left != 0 {
            return Err(format!("{} checkpoint items missing", self.item_count_left));
        }
        for raw in bytes[ITEMS_HEADER_LEN..].chunks_exact(ITEM_LEN) {
            self.apply_item(raw)?;
        }
        Ok(())
    }

    fn apply_item(&mut self, raw: &[u8]) -> Result<(), String> {
        if raw[1..4] != [0; 3] {
            return Err("reserved bytes of a checkpoint item set".into());
        }
        let position = u64_at(raw, 8);
        let (a, b, sent_ms) = (u64_at(raw, 16), u64_at(raw, 24), u64_at(raw, 32));
        let delivery = &mut self.delivery;
        match raw[0] {
            ITEM_RECEIVED => {
                let receive_count = u32_at(raw, 4);
                let tracked = Tracked {
                    receive_count,
                    visible_at_ms: a,
                    first_receive_ms: b,
                    sent_ms,
                };
                delivery.set_tracked(position, tracked);
            }
            ITEM_DELAYED => delivery.add_delayed(position, a, sent_ms),
            ITEM_PASSED => {
                delivery.passed_at_replay.insert(position);
            }
            ITEM_REMOVED => {
                delivery.removed_ahead.insert(position);
            }
            other => return Err(format!("checkpoint item kind {other}")),
        }
        Ok(())
    }

    /// The state, once every record is applied.
    pub fn finish(self) -> Result<Delivery, String> {
        if self.items_expected > 0 {
            return Err(format!(
                "{} checkpoint item records missing",
                self.items_expected
            ));
        }
        let mut delivery = self.delivery;
        // Replay's peak (receives whose deletes came later in the log) need not
        // stay allocated for the life of the queue.
        delivery.tracked.shrink_to_fit();
        delivery.removed_ahead.shrink_to_fit();
        Ok(delivery)
    }
}

fn check_header(bytes: &[u8], len: usize) -> Result<(), String> {
    if bytes.len() != len {
        return Err(format!(
            "checkpoint record of {} bytes, {len} expected",
            bytes.len()
        ));
    }
    if bytes[0] != VERSION
        || bytes[2..AT_POSITION] != [0; 6]
        || bytes[AT_FIELDS + 4..AT_FIELDS + 8] != [0; 4]
    {
        return Err("checkpoint record version or reserved bytes".into());
    }
    Ok(())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint replays to the state it was taken of, and a later entry applies on top.
    #[test]
    fn checkpoint_round_trip() {
        let mut delivery = Delivery::new(40);
        let tracked = Tracked {
            receive_count: 3,
            visible_at_ms: 9,
            first_receive_ms: 4,
            sent_ms: 2,
        };
        delivery.set_tracked(12, tracked);
        delivery.add_delayed(30, 100, 7);
        delivery.removed_ahead.insert(41);
        let records = encode(&delivery, &[35]);
        let mut replay = Replay::new(0);
        replay
            .apply(&Entry::Deleted { position: 5 }.encode())
            .unwrap();
        for record in &records {
            replay.apply(record).unwrap();
        }
        replay
            .apply(&Entry::Deleted { position: 12 }.encode())
            .unwrap();
        let restored = replay.finish().unwrap();
        assert_eq!(restored.cursor, 40);
        assert!(restored.tracked.is_empty());
        assert_eq!(restored.delayed_info[&30], (100, 7));
        assert!(restored.passed_at_replay.contains(&35));
        assert!(restored.removed_ahead.contains(&41) && !restored.removed_ahead.contains(&12));
    }

    /// A checkpoint whose item records are missing is corruption, not an empty state.
    #[test]
    fn missing_items_are_rejected() {
        let mut delivery = Delivery::new(0);
        delivery.add_delayed(3, 10, 1);
        let records = encode(&delivery, &[]);
        assert_eq!(records.len(), 2);
        let mut replay = Replay::new(0);
        replay.apply(&records[0]).unwrap();
        assert!(replay
            .apply(&Entry::Deleted { position: 1 }.encode())
            .is_err());
        let mut replay = Replay::new(0);
        replay.apply(&records[0]).unwrap();
        assert!(replay.finish().is_err());
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    /// The version 1 bytes of a checkpoint with one item of each kind: a change to
    /// the encoding that breaks stored checkpoints fails here.
    #[test]
    fn version_1_bytes() {
        let mut delivery = Delivery::new(9);
        let tracked = Tracked {
            receive_count: 2,
            visible_at_ms: 3,
            first_receive_ms: 4,
            sent_ms: 5,
        };
        delivery.set_tracked(1, tracked);
        delivery.add_delayed(6, 7, 8);
        delivery.removed_ahead.insert(10);
        let records = encode(&delivery, &[11]);
        let hex: Vec<String> = records
            .iter()
            .map(|r| r.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        assert_eq!(hex, GOLDEN);
    }

    const GOLDEN: [&str; 2] = [
        "0107000000000000090000000000000001000000000000000400000000000000",
        concat!(
            "01080000000000000000000000000000040000000000000001000000020000000100000000000000",
            "03000000000000000400000000000000050000000000000002000000000000000600000000000000",
            "07000000000000000000000000000000080000000000000003000000000000000b00000000000000",
            "00000000000000000000000000000000000000000000000004000000000000000a00000000000000",
            "000000000000000000000000000000000000000000000000",
        ),
    ];
}

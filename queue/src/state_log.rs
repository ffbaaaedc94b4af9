//! State log entries: every change of a message's delivery state (see `FORMAT.md`,
//! "State log entry").

pub(crate) const VERSION: u8 = 1;
pub(crate) const AT_KIND: usize = 1;
pub(crate) const AT_POSITION: usize = 8;
pub(crate) const AT_FIELDS: usize = AT_POSITION + 8;
const _: () = assert!(AT_FIELDS == 16);
const RECEIVED_LEN: usize = AT_FIELDS + 32;
const VISIBILITY_LEN: usize = AT_FIELDS + 16;
const _: () = assert!(RECEIVED_LEN == 48 && VISIBILITY_LEN == 32);

/// One change of delivery state, about the message at `position` of the message log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// The message was received (`receive_count` is the count after this receive).
    Received {
        /// Message log position.
        position: u64,
        /// Receive count including this receive.
        receive_count: u32,
        /// When the message becomes visible again (ms).
        visible_at_ms: u64,
        /// When it was first received (ms).
        first_receive_ms: u64,
        /// When it was sent (ms), for retention.
        sent_ms: u64,
    },
    /// The message was deleted.
    Deleted {
        /// Message log position.
        position: u64,
    },
    /// The visibility timeout of the receive numbered `receive_count` changed.
    Visibility {
        /// Message log position.
        position: u64,
        /// The receive the change is for.
        receive_count: u32,
        /// New time the message becomes visible (ms).
        visible_at_ms: u64,
    },
    /// The message was moved to the dead-letter queue.
    Moved {
        /// Message log position.
        position: u64,
    },
    /// Every message below `end_position` was purged.
    Purged {
        /// The message log's end when the purge happened.
        end_position: u64,
    },
    /// The message log ended at `end_position` when the queue opened, below
    /// positions that earlier entries mention (a power loss under a durability
    /// policy that acknowledges before syncing): forget those positions.
    Truncated {
        /// The message log's end at open.
        end_position: u64,
    },
}

impl Entry {
    fn kind(&self) -> u8 {
        match self {
            Entry::Received { .. } => 1,
            Entry::Deleted { .. } => 2,
            Entry::Visibility { .. } => 3,
            Entry::Moved { .. } => 4,
            Entry::Purged { .. } => 5,
            Entry::Truncated { .. } => 6,
        }
    }

    fn position(&self) -> u64 {
        match *self {
            Entry::Received { position, .. }
            | Entry::Deleted { position }
            | Entry::Visibility { position, .. }
            | Entry::Moved { position } => position,
            Entry::Purged { end_position } | Entry::Truncated { end_position } => end_position,
        }
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECEIVED_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Appends the record's bytes to `out`; returns their length.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.push(VERSION);
        out.push(self.kind());
        out.extend_from_slice(&[0; 6]);
        out.extend_from_slice(&self.position().to_le_bytes());
        match *self {
            Entry::Received {
                receive_count,
                visible_at_ms,
                first_receive_ms,
                sent_ms,
                ..
            } => {
                out.extend_from_slice(&receive_count.to_le_bytes());
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&visible_at_ms.to_le_bytes());
                out.extend_from_slice(&first_receive_ms.to_le_bytes());
                out.extend_from_slice(&sent_ms.to_le_bytes());
            }
            Entry::Visibility {
                receive_count,
                visible_at_ms,
                ..
            } => {
                out.extend_from_slice(&receive_count.to_le_bytes());
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&visible_at_ms.to_le_bytes());
            }
            Entry::Deleted { .. }
            | Entry::Moved { .. }
            | Entry::Purged { .. }
            | Entry::Truncated { .. } => {}
        }
        out.len() - start
    }

    /// Decodes and checks one record.
    pub fn decode(bytes: &[u8]) -> Result<Entry, String> {
        if bytes.len() < AT_FIELDS {
            return Err(format!("state entry of {} bytes", bytes.len()));
        }
        if bytes[0] != VERSION {
            return Err(format!("state entry version {}", bytes[0]));
        }
        if bytes[2..AT_POSITION] != [0; 6] {
            return Err("reserved bytes set".into());
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let position = u64_at(AT_POSITION);
        let kind = bytes[AT_KIND];
        let expected_len = match kind {
            1 => RECEIVED_LEN,
            3 => VISIBILITY_LEN,
            2 | 4 | 5 | 6 => AT_FIELDS,
            other => return Err(format!("state entry kind {other}")),
        };
        if bytes.len() != expected_len {
            return Err(format!("state entry kind {kind} of {} bytes", bytes.len()));
        }
        if matches!(kind, 1 | 3) && (u32_at(AT_FIELDS) == 0 || u32_at(AT_FIELDS + 4) != 0) {
            return Err("receive count zero or reserved bytes set".into());
        }
        Ok(match kind {
            1 => Entry::Received {
                position,
                receive_count: u32_at(AT_FIELDS),
                visible_at_ms: u64_at(AT_FIELDS + 8),
                first_receive_ms: u64_at(AT_FIELDS + 16),
                sent_ms: u64_at(AT_FIELDS + 24),
            },
            3 => Entry::Visibility {
                position,
                receive_count: u32_at(AT_FIELDS),
                visible_at_ms: u64_at(AT_FIELDS + 8),
            },
            2 => Entry::Deleted { position },
            4 => Entry::Moved { position },
            6 => Entry::Truncated {
                end_position: position,
            },
            _ => Entry::Purged {
                end_position: position,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            (any::<u64>(), 1..u32::MAX, any::<(u64, u64, u64)>()).prop_map(|(p, c, (v, f, s))| {
                Entry::Received {
                    position: p,
                    receive_count: c,
                    visible_at_ms: v,
                    first_receive_ms: f,
                    sent_ms: s,
                }
            }),
            any::<u64>().prop_map(|position| Entry::Deleted { position }),
            (any::<u64>(), 1..u32::MAX, any::<u64>()).prop_map(|(p, c, v)| Entry::Visibility {
                position: p,
                receive_count: c,
                visible_at_ms: v
            }),
            any::<u64>().prop_map(|position| Entry::Moved { position }),
            any::<u64>().prop_map(|end_position| Entry::Purged { end_position }),
            any::<u64>().prop_map(|end_position| Entry::Truncated { end_position }),
        ]
    }

    proptest! {
        /// Every entry decodes to itself; any other length of its bytes is rejected.
        #[test]
        fn round_trip(entry in arb_entry(), extra in 1usize..8) {
            let bytes = entry.encode();
            prop_assert_eq!(Entry::decode(&bytes).unwrap(), entry);
            prop_assert!(Entry::decode(&bytes[..bytes.len() - 1]).is_err());
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0, extra));
            prop_assert!(Entry::decode(&longer).is_err());
        }
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    /// The version 1 bytes of each kind of entry: a change to the encoding that
    /// breaks stored state logs fails here.
    #[test]
    fn version_1_bytes() {
        let entries = [
            Entry::Received {
                position: 0x0102,
                receive_count: 2,
                visible_at_ms: 0x0a0b,
                first_receive_ms: 0x0c0d,
                sent_ms: 0x0e0f,
            },
            Entry::Deleted { position: 3 },
            Entry::Visibility {
                position: 4,
                receive_count: 1,
                visible_at_ms: 5,
            },
            Entry::Moved { position: 6 },
            Entry::Purged { end_position: 7 },
            Entry::Truncated { end_position: 8 },
        ];
        for (entry, golden) in entries.iter().zip(GOLDEN) {
            let hex: String = entry.encode().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(&hex, golden, "{entry:?}");
        }
    }

    const GOLDEN: [&str; 6] = [
        "0101000000000000020100000000000002000000000000000b0a0000000000000d0c0000000000000f0e000000000000",
        "01020000000000000300000000000000",
        "0103000000000000040000000000000001000000000000000500000000000000",
        "01040000000000000600000000000000",
        "01050000000000000700000000000000",
        "01060000000000000800000000000000",
    ];
}

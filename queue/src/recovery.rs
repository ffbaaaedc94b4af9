//! Opening a queue: its two logs, the replay of its state log onto its message
//! log, and the FIFO deduplication window. A failure here closes what was opened,
//! so that the registry can quarantine the queue over the same directories.

use crate::attributes::QueueAttributes;
use crate::checkpoint::Replay;
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::queue::{for_each_record, state_record, Queue};
use crate::state_log::Entry;
use crate::types::{Clock, QueueName};
use shardlog_segment::{Log, LogConfig, Storage};
use std::path::Path;
use std::sync::Arc;

impl Queue {
    /// Opens the queue's logs in `dir` and replays its state log.
    pub(crate) fn open(
        storage: &Storage,
        log_config: LogConfig,
        dir: &Path,
        id: u64,
        name: QueueName,
        attributes: QueueAttributes,
        clock: Arc<dyn Clock>,
    ) -> Result<Queue> {
        // Receives take a message once it is written; they answer only once their
        // own state is durable, which a later commit round makes it, so a
        // received message is durable when its receive is answered.
        let messages_config = LogConfig {
            readable_before_sync: true,
            ..log_config
        };
        let (messages, _) = storage.open_log(dir.join("messages"), messages_config)?;
        let state = match storage.open_log(dir.join("state"), log_config) {
            Ok((state, _)) => state,
            Err(error) => {
                messages.close()?;
                return Err(error.into());
            }
        };
        let recovered = recover_delivery(&messages, &state).and_then(|mut delivery| {
            let mut fifo = crate::fifo::FifoState::default();
            if name.is_fifo() {
                let scope = attributes.deduplication_scope;
                fifo.recover(&messages, &mut delivery, scope, clock.now_ms())?;
            }
            Ok((delivery, fifo))
        });
        let (delivery, fifo) = match recovered {
            Ok(recovered) => recovered,
            Err(error) => {
                messages.close()?;
                state.close()?;
                return Err(error);
            }
        };
        let logs = (messages, state);
        Ok(Queue::over(
            id, name, logs, attributes, clock, delivery, fifo,
        ))
    }
}

/// Replays the state log onto the message log. If a power loss cut the message log
/// below positions the state log mentions, records that durably first (see
/// `Entry::Truncated`), so that new messages at those positions start clean.
fn recover_delivery(messages: &Log, state: &Log) -> Result<Delivery> {
    let corrupt = |reason| Error::Corrupt {
        what: state.dir().display().to_string(),
        reason,
    };
    let mut replay = Replay::new(messages.first_position());
    for_each_record(state, state.first_position(), |_, bytes| {
        replay.apply(bytes).map_err(corrupt)?;
        Ok(true)
    })?;
    let mut delivery = replay.finish().map_err(corrupt)?;
    let end_position = messages.end_position();
    let beyond = delivery.highest_known().is_some_and(|p| p >= end_position);
    if beyond || delivery.cursor > end_position {
        let entry = Entry::Truncated { end_position };
        state.append(&[state_record(&entry.encode())])?;
        delivery.apply(&entry);
    }
    Ok(delivery)
}

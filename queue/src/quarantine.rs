//! Queues whose logs could not be read at open. As the engine quarantines a
//! damaged shard and the topics a damaged topic, such a queue does not stop the
//! other queues from opening: it stays listed so that it can be found and
//! deleted, and every other operation on it fails with the cause.

use crate::attributes::QueueAttributes;
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::queue::Queue;
use crate::types::{Clock, QueueName};
use shardlog_segment::{LogConfig, Storage};
use std::path::Path;
use std::sync::Arc;

impl Queue {
    /// A queue whose logs in `dir` could not be read (`cause`), over two
    /// quarantined logs that hold nothing and refuse appends.
    pub(crate) fn quarantined(
        storage: &Storage,
        log_config: LogConfig,
        dir: &Path,
        (id, name): (u64, QueueName),
        attributes: QueueAttributes,
        clock: Arc<dyn Clock>,
        cause: String,
    ) -> Queue {
        let messages = storage.open_quarantined(dir.join("messages"), log_config, cause.clone());
        let state = storage.open_quarantined(dir.join("state"), log_config, cause.clone());
        let logs = (messages, state);
        let fifo = crate::fifo::FifoState::default();
        Queue {
            quarantined: Some(cause),
            ..Queue::over(id, name, logs, attributes, clock, Delivery::default(), fifo)
        }
    }

    /// Why the queue's logs could not be read when the queues were opened, if
    /// they could not.
    pub fn quarantine_cause(&self) -> Option<&str> {
        self.quarantined.as_deref()
    }

    /// Fails with [`Error::QueueQuarantined`] if the queue's logs could not be
    /// read at open: every operation but deletion starts with this.
    pub fn check_usable(&self) -> Result<()> {
        match &self.quarantined {
            Some(cause) => Err(Error::QueueQuarantined {
                queue: self.name.clone(),
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }
}

//! The error type of the queue layer: facts, no AWS wording.

use crate::types::{MessageId, QueueName};

/// Errors of the queue layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No queue has this name.
    #[error("queue {queue} does not exist")]
    QueueNotFound {
        /// The name asked for.
        queue: String,
    },
    /// A queue of this name exists with different attributes.
    #[error("queue {queue} already exists with different attributes")]
    QueueExists {
        /// The queue.
        queue: QueueName,
    },
    /// A queue name breaks the naming rules.
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A queue attribute is out of range or does not apply to this kind of queue.
    #[error("invalid value for queue attribute {attribute}: {reason}")]
    InvalidAttribute {
        /// The attribute.
        attribute: &'static str,
        /// Why.
        reason: String,
    },
    /// A request parameter is out of range or missing.
    #[error("invalid parameter {parameter}: {reason}")]
    InvalidParameter {
        /// The parameter.
        parameter: &'static str,
        /// Why.
        reason: String,
    },
    /// A message (body plus attributes) is larger than the queue allows.
    #[error("message is {size_bytes} bytes, the queue allows {max_bytes}")]
    MessageTooLarge {
        /// Size of body plus attributes.
        size_bytes: usize,
        /// The queue's MaximumMessageSize.
        max_bytes: usize,
    },
    /// A batch has no entries or more than 10.
    #[error("a batch has {count} entries; 1 to 10 are allowed")]
    BatchSize {
        /// Entries given.
        count: usize,
    },
    /// The batch's entries together exceed the message size limit.
    #[error("the batch's messages total {size_bytes} bytes, at most {max_bytes} are allowed")]
    BatchTooLarge {
        /// Total size.
        size_bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// A receipt handle is malformed or belongs to another queue.
    #[error("receipt handle is invalid: {reason}")]
    ReceiptHandleInvalid {
        /// Why.
        reason: &'static str,
    },
    /// The message was received again since this receipt handle was issued.
    #[error("receipt handle of message {message_id} is from receive {attempt}; the message has been received {current} times")]
    ReceiptHandleStale {
        /// The message.
        message_id: MessageId,
        /// The receive the handle came from.
        attempt: u32,
        /// The message's current receive count.
        current: u32,
    },
    /// A visibility change for a message that is not in flight.
    #[error("message {message_id} is not in flight")]
    MessageNotInflight {
        /// The message.
        message_id: MessageId,
    },
    /// Too many messages are in flight.
    #[error("{inflight} messages are in flight; the limit is {limit}")]
    OverLimit {
        /// Messages in flight.
        inflight: usize,
        /// The limit for this kind of queue.
        limit: usize,
    },
    /// A purge within 60 seconds of the previous one.
    #[error("queue {queue} was purged less than 60 seconds ago")]
    PurgeInProgress {
        /// The queue.
        queue: QueueName,
    },
    /// A queue of this name was deleted less than 60 seconds ago.
    #[error("queue {queue} was deleted less than 60 seconds ago")]
    QueueDeletedRecently {
        /// The name.
        queue: QueueName,
    },
    /// The dead-letter queue's redrive allow policy does not let this source use it.
    #[error(
        "queue {dead_letter} does not allow {source_queue} to use it as its dead-letter queue"
    )]
    RedriveNotAllowed {
        /// The queue whose redrive policy names the dead-letter queue.
        source_queue: QueueName,
        /// The dead-letter queue.
        dead_letter: QueueName,
    },
    /// A move task's source is not a dead-letter queue (no redrive policy names it).
    #[error("queue {queue} is not the dead-letter queue of any queue")]
    NotDeadLetterQueue {
        /// The queue.
        queue: QueueName,
    },
    /// A move task of this source queue is running already.
    #[error("a message move task of queue {queue} is running already")]
    MoveTaskRunning {
        /// The source queue.
        queue: QueueName,
    },
    /// No move task has this id.
    #[error("no message move task {id}")]
    MoveTaskNotFound {
        /// The id asked for.
        id: u64,
    },
    /// The move task is not running (so cannot be cancelled).
    #[error("message move task {id} is not running")]
    MoveTaskNotRunning {
        /// The task.
        id: u64,
    },
    /// A message to move back has no recorded source queue (it was sent to the
    /// dead-letter queue directly).
    #[error("message {message_id} has no source queue to move back to")]
    MoveSourceUnknown {
        /// The message.
        message_id: MessageId,
    },
    /// Stored queue data failed verification.
    #[error("corrupt queue data in {what}: {reason}")]
    Corrupt {
        /// Which file or log.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The queue's logs could not be read when the queues were opened: it is
    /// listed and can be deleted, but refuses every other operation.
    #[error("queue {queue} is unavailable: its files could not be read when the queues were opened ({cause}); delete the queue, or restore its files and restart")]
    QueueQuarantined {
        /// The queue.
        queue: QueueName,
        /// What could not be read.
        cause: String,
    },
    /// The storage below failed.
    #[error(transparent)]
    Storage(#[from] shardlog_segment::Error),
    /// The queue manifest could not be read or written.
    #[error("queue manifest {op} {path}: {source}")]
    Manifest {
        /// read, write, create directory, ...
        op: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether this is damage to a queue's files (a log that cannot be read, or
    /// a state log whose entries fail verification): at open, such a queue is
    /// quarantined and the others open.
    pub(crate) fn is_damage(&self) -> bool {
        match self {
            Error::Storage(error) => error.is_damage(),
            Error::Corrupt { .. } => true,
            _ => false,
        }
    }
}

impl From<shardlog_segment::io::ManifestError> for Error {
    fn from(error: shardlog_segment::io::ManifestError) -> Self {
        use shardlog_segment::io::ManifestError;
        match error {
            ManifestError::Io { op, path, source } => Error::Manifest { op, path, source },
            ManifestError::Corrupt { path, reason } => Error::Corrupt {
                what: path.display().to_string(),
                reason,
            },
        }
    }
}

/// Result of the queue layer.
pub type Result<T> = std::result::Result<T, Error>;

//! The error type of the topic layer: facts, no AWS wording.

use std::path::PathBuf;

/// Errors of the topic layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No topic has this name.
    #[error("topic {topic} does not exist")]
    TopicNotFound {
        /// The name asked for.
        topic: String,
    },
    /// No subscription has this id.
    #[error("subscription {subscription} does not exist")]
    SubscriptionNotFound {
        /// The id asked for.
        subscription: String,
    },
    /// A topic of this name exists with different attributes.
    #[error("topic {topic} already exists with different attributes")]
    TopicExists {
        /// The topic.
        topic: String,
    },
    /// A topic name breaks the naming rules.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A request parameter is out of range, missing, or does not apply.
    #[error("invalid parameter {parameter}: {reason}")]
    InvalidParameter {
        /// The parameter.
        parameter: &'static str,
        /// Why.
        reason: String,
    },
    /// A confirmation token matches no pending subscription of the topic.
    #[error("no pending subscription of topic {topic} has this token")]
    InvalidToken {
        /// The topic.
        topic: String,
    },
    /// Too many topics, subscriptions or tags.
    #[error("limit exceeded: {what} (at most {max})")]
    LimitExceeded {
        /// What.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The MANIFEST or a delivery position file could not be read or written.
    #[error("cannot {op} {path}: {source}")]
    Metadata {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Metadata or a log record is unreadable.
    #[error("{what} is corrupt: {reason}")]
    Corrupt {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// The topic's log failed.
    #[error(transparent)]
    Log(#[from] shardlog_segment::Error),
    /// The topic's log or metadata could not be read when the topics were
    /// opened: it is listed, but refuses publishes and subscriptions.
    #[error("topic {topic} is unavailable: its files could not be read when the topics were opened ({cause}); delete the topic, or restore its files and restart")]
    TopicQuarantined {
        /// The topic.
        topic: String,
        /// What could not be read.
        cause: String,
    },
    /// The registry is closed.
    #[error("the topics are closed")]
    Closed,
}

impl Error {
    /// Whether this is damage to a topic's files (its log, or a delivery
    /// position): at open, such a topic is quarantined and the others open.
    pub(crate) fn is_damage(&self) -> bool {
        match self {
            Error::Log(error) => error.is_damage(),
            Error::Corrupt { .. } | Error::Metadata { .. } => true,
            _ => false,
        }
    }
}

impl From<shardlog_segment::io::ManifestError> for Error {
    fn from(error: shardlog_segment::io::ManifestError) -> Self {
        use shardlog_segment::io::ManifestError;
        match error {
            ManifestError::Io { op, path, source } => Error::Metadata { op, path, source },
            ManifestError::Corrupt { path, reason } => Error::Corrupt {
                what: path.display().to_string(),
                reason,
            },
        }
    }
}

/// The topic layer's result type.
pub type Result<T> = std::result::Result<T, Error>;

//! Queue attributes: defaults, ranges, and which apply to FIFO queues only.

use crate::error::{Error, Result};
use crate::types::QueueName;
use serde::{Deserialize, Serialize};

/// Where a queue's messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedrivePolicy {
    /// The dead-letter queue (same kind as the source: standard or FIFO).
    pub dead_letter_queue: QueueName,
    /// Receives after which the next receive moves the message. Range 1..=1000.
    pub max_receive_count: u32,
}

/// Which queues may name a queue as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedriveAllowPolicy {
    /// Any queue (what a queue without a policy allows).
    AllowAll,
    /// No queue.
    DenyAll,
    /// Only these (1..=10).
    ByQueue(Vec<QueueName>),
}

/// Most source queues a `ByQueue` redrive allow policy names.
pub const REDRIVE_ALLOW_SOURCES_MAX: usize = 10;

impl RedriveAllowPolicy {
    /// Whether queue `source` may use this queue as its dead-letter queue.
    pub fn allows(&self, source: &QueueName) -> bool {
        match self {
            RedriveAllowPolicy::AllowAll => true,
            RedriveAllowPolicy::DenyAll => false,
            RedriveAllowPolicy::ByQueue(sources) => sources.contains(source),
        }
    }
}

/// Server-side encryption settings: kept and returned, not applied (data is
/// protected only as the disk below protects it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionSettings {
    /// SqsManagedSseEnabled. Default true (as new SQS queues are).
    pub sqs_managed: bool,
    /// KmsMasterKeyId (a key id, alias or ARN). Default none.
    pub kms_master_key_id: Option<String>,
    /// KmsDataKeyReusePeriodSeconds. Default 300; range 60..=86400.
    pub kms_data_key_reuse_s: u32,
}

impl Default for EncryptionSettings {
    fn default() -> Self {
        EncryptionSettings {
            sqs_managed: true,
            kms_master_key_id: None,
            kms_data_key_reuse_s: 300,
        }
    }
}

/// Scope of FIFO deduplication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DeduplicationScope {
    /// One deduplication window for the whole queue. The default.
    #[default]
    Queue,
    /// A window per message group.
    MessageGroup,
}

/// What a FIFO queue's throughput limit applies to (recorded; this server has no quota).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FifoThroughputLimit {
    /// The limit applies to the queue. The default.
    #[default]
    PerQueue,
    /// The limit applies to each message group.
    PerMessageGroupId,
}

/// A queue's settable attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAttributes {
    /// Time a received message stays invisible. Default 30; range 0..=43200.
    pub visibility_timeout_s: u32,
    /// Time a message is kept. Default 345600 (4 days); range 60..=1209600.
    pub message_retention_s: u32,
    /// Delay of every message. Default 0; range 0..=900.
    pub delay_s: u32,
    /// Largest message (body plus attributes). Default 1048576; range 1024..=1048576.
    pub maximum_message_bytes: u32,
    /// Default long-poll wait of a receive. Default 0; range 0..=20.
    pub receive_wait_s: u32,
    /// Dead-letter queue. Default none.
    pub redrive: Option<RedrivePolicy>,
    /// FIFO: deduplicate by SHA-256 of the body when no id is given. Default false.
    pub content_based_deduplication: bool,
    /// FIFO: deduplication scope. Default per queue.
    pub deduplication_scope: DeduplicationScope,
    /// FIFO: throughput limit scope. Default per queue.
    pub fifo_throughput_limit: FifoThroughputLimit,
    /// An access policy document, kept and returned as given (this layer does not
    /// enforce it). Default none.
    #[serde(default)]
    pub policy: Option<String>,
    /// Which queues may use this one as their dead-letter queue. Default none
    /// (any queue).
    #[serde(default)]
    pub redrive_allow: Option<RedriveAllowPolicy>,
    /// Encryption settings (recorded only).
    #[serde(default)]
    pub encryption: EncryptionSettings,
}

impl Default for QueueAttributes {
    fn default() -> Self {
        QueueAttributes {
            visibility_timeout_s: 30,
            message_retention_s: 345_600,
            delay_s: 0,
            maximum_message_bytes: 1_048_576,
            receive_wait_s: 0,
            redrive: None,
            content_based_deduplication: false,
            deduplication_scope: DeduplicationScope::Queue,
            fifo_throughput_limit: FifoThroughputLimit::PerQueue,
            policy: None,
            redrive_allow: None,
            encryption: EncryptionSettings::default(),
        }
    }
}

/// Changes to attributes: `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributesUpdate {
    /// See [`QueueAttributes::visibility_timeout_s`].
    pub visibility_timeout_s: Option<u32>,
    /// See [`QueueAttributes::message_retention_s`].
    pub message_retention_s: Option<u32>,
    /// See [`QueueAttributes::delay_s`].
    pub delay_s: Option<u32>,
    /// See [`QueueAttributes::maximum_message_bytes`].
    pub maximum_message_bytes: Option<u32>,
    /// See [`QueueAttributes::receive_wait_s`].
    pub receive_wait_s: Option<u32>,
    /// `Some(None)` removes the redrive policy.
    pub redrive: Option<Option<RedrivePolicy>>,
    /// See [`QueueAttributes::content_based_deduplication`].
    pub content_based_deduplication: Option<bool>,
    /// See [`QueueAttributes::deduplication_scope`].
    pub deduplication_scope: Option<DeduplicationScope>,
    /// See [`QueueAttributes::fifo_throughput_limit`].
    pub fifo_throughput_limit: Option<FifoThroughputLimit>,
    /// `Some(None)` removes the policy.
    pub policy: Option<Option<String>>,
    /// `Some(None)` removes the redrive allow policy.
    pub redrive_allow: Option<Option<RedriveAllowPolicy>>,
    /// See [`EncryptionSettings::sqs_managed`].
    pub sqs_managed_sse: Option<bool>,
    /// `Some(None)` removes the KMS key (an empty KmsMasterKeyId).
    pub kms_master_key_id: Option<Option<String>>,
    /// See [`EncryptionSettings::kms_data_key_reuse_s`].
    pub kms_data_key_reuse_s: Option<u32>,
}

impl AttributesUpdate {
    /// Whether it touches an attribute that only FIFO queues have.
    fn has_fifo_only(&self) -> bool {
        self.content_based_deduplication.is_some()
            || self.deduplication_scope.is_some()
            || self.fifo_throughput_limit.is_some()
    }

    /// `base` with the changes applied, validated for a queue named `name`.
    pub fn apply_to(&self, base: &QueueAttributes, name: &QueueName) -> Result<QueueAttributes> {
        if !name.is_fifo() && self.has_fifo_only() {
            return Err(Error::InvalidAttribute {
                attribute: "FifoQueue",
                reason: "deduplication and throughput settings apply to FIFO queues only".into(),
            });
        }
        let attributes = QueueAttributes {
            visibility_timeout_s: self
                .visibility_timeout_s
                .unwrap_or(base.visibility_timeout_s),
            message_retention_s: self.message_retention_s.unwrap_or(base.message_retention_s),
            delay_s: self.delay_s.unwrap_or(base.delay_s),
            maximum_message_bytes: self
                .maximum_message_bytes
                .unwrap_or(base.maximum_message_bytes),
            receive_wait_s: self.receive_wait_s.unwrap_or(base.receive_wait_s),
            redrive: self.redrive.clone().unwrap_or_else(|| base.redrive.clone()),
            content_based_deduplication: self
                .content_based_deduplication
                .unwrap_or(base.content_based_deduplication),
            deduplication_scope: self.deduplication_scope.unwrap_or(base.deduplication_scope),
            fifo_throughput_limit: self
                .fifo_throughput_limit
                .unwrap_or(base.fifo_throughput_limit),
            policy: self.policy.clone().unwrap_or_else(|| base.policy.clone()),
            redrive_allow: self
                .redrive_allow
                .clone()
                .unwrap_or_else(|| base.redrive_allow.clone()),
            encryption: self.encryption(&base.encryption)?,
        };
        attributes.validate(name)?;
        Ok(attributes)
    }
}

impl AttributesUpdate {
    /// `base` with the encryption changes: a KMS key turns SQS-managed encryption
    /// off, and asking for both at once is refused (one kind at a time, as SQS).
    fn encryption(&self, base: &EncryptionSettings) -> Result<EncryptionSettings> {
        let kms_master_key_id = self
            .kms_master_key_id
            .clone()
            .unwrap_or_else(|| base.kms_master_key_id.clone());
        let sqs_managed = match (self.sqs_managed_sse, &self.kms_master_key_id) {
            (Some(true), Some(Some(_))) => {
                return Err(Error::InvalidAttribute {
                    attribute: "SqsManagedSseEnabled",
                    reason:
                        "one kind of server-side encryption at a time: SQS-managed or a KMS key"
                            .into(),
                })
            }
            (Some(managed), _) => managed,
            (None, Some(Some(_))) => false,
            (None, _) => base.sqs_managed,
        };
        let kms_master_key_id = kms_master_key_id.filter(|_| !sqs_managed);
        let kms_data_key_reuse_s = self
            .kms_data_key_reuse_s
            .unwrap_or(base.kms_data_key_reuse_s);
        check_range(
            "KmsDataKeyReusePeriodSeconds",
            kms_data_key_reuse_s,
            60,
            86_400,
        )?;
        Ok(EncryptionSettings {
            sqs_managed,
            kms_master_key_id,
            kms_data_key_reuse_s,
        })
    }
}

fn check_range(attribute: &'static str, value: u32, min: u32, max: u32) -> Result<()> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(Error::InvalidAttribute {
        attribute,
        reason: format!("{value} is outside {min}..={max}"),
    })
}

impl QueueAttributes {
    /// Checks every range, and that the dead-letter queue is of the same kind and
    /// not the queue itself.
    pub fn validate(&self, name: &QueueName) -> Result<()> {
        check_range("VisibilityTimeout", self.visibility_timeout_s, 0, 43_200)?;
        check_range(
            "MessageRetentionPeriod",
            self.message_retention_s,
            60,
            1_209_600,
        )?;
        check_range("DelaySeconds", self.delay_s, 0, 900)?;
        check_range(
            "MaximumMessageSize",
            self.maximum_message_bytes,
            1024,
            1_048_576,
        )?;
        check_range("ReceiveMessageWaitTimeSeconds", self.receive_wait_s, 0, 20)?;
        if let Some(redrive) = &self.redrive {
            check_range("RedrivePolicy", redrive.max_receive_count, 1, 1000)?;
            if redrive.dead_letter_queue.is_fifo() != name.is_fifo() {
                return Err(Error::InvalidAttribute {
                    attribute: "RedrivePolicy",
                    reason: "the dead-letter queue must be of the same kind (standard or FIFO)"
                        .into(),
                });
            }
            if &redrive.dead_letter_queue == name {
                return Err(Error::InvalidAttribute {
                    attribute: "RedrivePolicy",
                    reason: "a queue cannot be its own dead-letter queue".into(),
                });
            }
        }
        if let Some(RedriveAllowPolicy::ByQueue(sources)) = &self.redrive_allow {
            if sources.is_empty() || sources.len() > REDRIVE_ALLOW_SOURCES_MAX {
                return Err(Error::InvalidAttribute {
                    attribute: "RedriveAllowPolicy",
                    reason: format!(
                        "byQueue names 1 to {REDRIVE_ALLOW_SOURCES_MAX} source queues, not {}",
                        sources.len()
                    ),
                });
            }
        }
        Ok(())
    }
}

//! Queue attributes in SQS's names and string values: parsing an `Attributes`
//! map into an update, and rendering a queue's attributes for GetQueueAttributes.

use super::{Context, SqsError};
use shardlog_queue::{
    AttributesUpdate, DeduplicationScope, FifoThroughputLimit, QueueAttributes, QueueName,
    RedriveAllowPolicy, RedrivePolicy, REDRIVE_ALLOW_SOURCES_MAX,
};
use std::collections::BTreeMap;

/// Every attribute GetQueueAttributes can return, in the order `All` lists them.
const READABLE: &[&str] = &[
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
];

/// Attributes that only FIFO queues have.
const FIFO_ONLY: &[&str] = &[
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

fn number(name: &str, value: &str) -> Result<u32, SqsError> {
    value.trim().parse().map_err(|_| {
        SqsError::new(
            "InvalidAttributeValue",
            format!("Invalid value for the parameter {name}."),
        )
    })
}

fn boolean(name: &str, value: &str) -> Result<bool, SqsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SqsError::new(
            "InvalidAttributeValue",
            format!("Invalid value for the parameter {name}."),
        )),
    }
}

/// An `Attributes` map (CreateQueue, SetQueueAttributes) as an update of the
/// queue `name`. Unknown attributes are refused rather than ignored.
pub fn parse_update(
    map: &BTreeMap<String, String>,
    name: &QueueName,
    creating: bool,
) -> Result<AttributesUpdate, SqsError> {
    let mut update = AttributesUpdate::default();
    for (key, value) in map {
        match key.as_str() {
            "VisibilityTimeout" => update.visibility_timeout_s = Some(number(key, value)?),
            "MessageRetentionPeriod" => update.message_retention_s = Some(number(key, value)?),
            "DelaySeconds" => update.delay_s = Some(number(key, value)?),
            "MaximumMessageSize" => update.maximum_message_bytes = Some(number(key, value)?),
            "ReceiveMessageWaitTimeSeconds" => update.receive_wait_s = Some(number(key, value)?),
            "RedrivePolicy" => update.redrive = Some(parse_redrive(value)?),
            "Policy" => update.policy = Some((!value.is_empty()).then(|| value.clone())),
            "RedriveAllowPolicy" => update.redrive_allow = Some(parse_redrive_allow(value)?),
            "SqsManagedSseEnabled" => update.sqs_managed_sse = Some(boolean(key, value)?),
            "KmsMasterKeyId" => {
                update.kms_master_key_id = Some((!value.is_empty()).then(|| value.clone()));
            }
            "KmsDataKeyReusePeriodSeconds" => {
                update.kms_data_key_reuse_s = Some(number(key, value)?);
            }
            "ContentBasedDeduplication" => {
                update.content_based_deduplication = Some(boolean(key, value)?);
            }
            "DeduplicationScope" => {
                update.deduplication_scope = Some(match value.as_str() {
                    "queue" => DeduplicationScope::Queue,
                    "messageGroup" => DeduplicationScope::MessageGroup,
                    _ => return Err(invalid_value(key)),
                });
            }
            "FifoThroughputLimit" => {
                update.fifo_throughput_limit = Some(match value.as_str() {
                    "perQueue" => FifoThroughputLimit::PerQueue,
                    "perMessageGroupId" => FifoThroughputLimit::PerMessageGroupId,
                    _ => return Err(invalid_value(key)),
                });
            }
            "FifoQueue" if creating => {
                if boolean(key, value)? != name.is_fifo() {
                    return Err(SqsError::new(
                        "InvalidParameterValueException",
                        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
                    ));
                }
            }
            _ => {
                return Err(SqsError::new(
                    "InvalidAttributeName",
                    format!("Unknown or unsupported attribute {key}."),
                ))
            }
        }
    }
    Ok(update)
}

fn invalid_value(name: &str) -> SqsError {
    SqsError::new(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}."),
    )
}

/// `{"deadLetterTargetArn": "arn:...:name", "maxReceiveCount": N}`; empty removes it.
fn parse_redrive(value: &str) -> Result<Option<RedrivePolicy>, SqsError> {
    if value.is_empty() || value == "{}" {
        return Ok(None);
    }
    let invalid = |why: &str| {
        SqsError::new(
            "InvalidAttributeValue",
            format!("Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"),
        )
    };
    let json: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
    let arn = json["deadLetterTargetArn"].as_str().ok_or_else(|| {
        invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
    })?;
    let count = match &json["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .ok_or_else(|| {
        invalid("Redrive policy does not contain mandatory attribute: maxReceiveCount.")
    })?;
    let dead_letter = arn
        .rsplit_once(':')
        .map(|(_, name)| name)
        .ok_or_else(|| invalid("Invalid value for deadLetterTargetArn."))?;
    let dead_letter_queue = QueueName::new(dead_letter)
        .map_err(|_| invalid("Invalid value for deadLetterTargetArn."))?;
    Ok(Some(RedrivePolicy {
        dead_letter_queue,
        max_receive_count: count,
    }))
}

/// `{"redrivePermission": "allowAll" | "denyAll" | "byQueue", "sourceQueueArns":
/// [...]}` (the ARNs with byQueue only); empty removes it.
fn parse_redrive_allow(value: &str) -> Result<Option<RedriveAllowPolicy>, SqsError> {
    if value.is_empty() || value == "{}" {
        return Ok(None);
    }
    let invalid = |why: &str| {
        SqsError::new(
            "InvalidAttributeValue",
            format!("Value {value} for parameter RedriveAllowPolicy is invalid. Reason: {why}"),
        )
    };
    let json: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| invalid("Redrive allow policy is not a valid JSON map."))?;
    let arns = &json["sourceQueueArns"];
    let policy = match (json["redrivePermission"].as_str(), arns) {
        (Some("allowAll"), serde_json::Value::Null) => RedriveAllowPolicy::AllowAll,
        (Some("denyAll"), serde_json::Value::Null) => RedriveAllowPolicy::DenyAll,
        (Some("allowAll" | "denyAll"), _) => {
            return Err(invalid(
                "sourceQueueArns can only be given when redrivePermission is byQueue.",
            ))
        }
        (Some("byQueue"), serde_json::Value::Array(arns))
            if (1..=REDRIVE_ALLOW_SOURCES_MAX).contains(&arns.len()) =>
        {
            let names = arns.iter().map(|arn| {
                arn.as_str()
                    .and_then(|arn| arn.rsplit_once(':'))
                    .and_then(|(_, name)| QueueName::new(name).ok())
                    .ok_or_else(|| invalid("Invalid value for sourceQueueArns."))
            });
            RedriveAllowPolicy::ByQueue(names.collect::<Result<_, _>>()?)
        }
        (Some("byQueue"), _) => {
            return Err(invalid(
                "byQueue needs sourceQueueArns: 1 to 10 queue ARNs.",
            ))
        }
        _ => {
            return Err(invalid(
                "redrivePermission must be allowAll, denyAll or byQueue.",
            ))
        }
    };
    Ok(Some(policy))
}

fn redrive_allow_json(context: &Context<'_>, policy: &RedriveAllowPolicy) -> String {
    let json = match policy {
        RedriveAllowPolicy::AllowAll => serde_json::json!({"redrivePermission": "allowAll"}),
        RedriveAllowPolicy::DenyAll => serde_json::json!({"redrivePermission": "denyAll"}),
        RedriveAllowPolicy::ByQueue(sources) => serde_json::json!({
            "redrivePermission": "byQueue",
            "sourceQueueArns": sources
                .iter()
                .map(|name| context.sqs.arn(name.as_str()))
                .collect::<Vec<_>>(),
        }),
    };
    json.to_string()
}

/// The attributes `names` asks for (`All` for every one) of queue `name`.
pub fn render(
    context: &Context<'_>,
    name: &str,
    names: &[String],
) -> Result<BTreeMap<String, String>, SqsError> {
    let queues = context.sqs.queues();
    let queue = queues.queue(name)?;
    // A quarantined queue has no counts to give: say why instead of zeros.
    queue.check_usable()?;
    let attributes = queue.attributes();
    let counters = queue.counters();
    let times = queues.timestamps(name)?;
    let fifo = queue.name().is_fifo();
    let model_names = crate::protocol::model::sqs()
        .shape("QueueAttributeName")
        .enum_values
        .as_ref();
    if let Some(unknown) = names
        .iter()
        .find(|n| !model_names.is_some_and(|known| known.contains(n)))
    {
        return Err(SqsError::new(
            "InvalidAttributeName",
            format!("Unknown Attribute {unknown}."),
        ));
    }
    let all = names.iter().any(|n| n == "All");
    let mut out = BTreeMap::new();
    for &key in READABLE {
        if !(all || names.iter().any(|n| n == key)) || (!fifo && FIFO_ONLY.contains(&key)) {
            continue;
        }
        let value = match key {
            "Policy" => match &attributes.policy {
                Some(policy) => policy.clone(),
                None => continue,
            },
            "RedrivePolicy" => match &attributes.redrive {
                Some(policy) => redrive_json(context, policy),
                None => continue,
            },
            "RedriveAllowPolicy" => match &attributes.redrive_allow {
                Some(policy) => redrive_allow_json(context, policy),
                None => continue,
            },
            "SqsManagedSseEnabled" => attributes.encryption.sqs_managed.to_string(),
            "KmsMasterKeyId" => match &attributes.encryption.kms_master_key_id {
                Some(key) => key.clone(),
                None => continue,
            },
            "KmsDataKeyReusePeriodSeconds" if attributes.encryption.kms_master_key_id.is_some() => {
                attributes.encryption.kms_data_key_reuse_s.to_string()
            }
            "KmsDataKeyReusePeriodSeconds" => continue,
            "ApproximateNumberOfMessages" => counters.visible.to_string(),
            "ApproximateNumberOfMessagesNotVisible" => counters.not_visible.to_string(),
            "ApproximateNumberOfMessagesDelayed" => counters.delayed.to_string(),
            "CreatedTimestamp" => (times.created_ms / 1000).to_string(),
            "LastModifiedTimestamp" => (times.modified_ms / 1000).to_string(),
            "QueueArn" => context.sqs.arn(name),
            "FifoQueue" => "true".to_string(),
            _ => settable(&attributes, key),
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

fn settable(attributes: &QueueAttributes, key: &str) -> String {
    match key {
        "VisibilityTimeout" => attributes.visibility_timeout_s.to_string(),
        "MaximumMessageSize" => attributes.maximum_message_bytes.to_string(),
        "MessageRetentionPeriod" => attributes.message_retention_s.to_string(),
        "DelaySeconds" => attributes.delay_s.to_string(),
        "ReceiveMessageWaitTimeSeconds" => attributes.receive_wait_s.to_string(),
        "ContentBasedDeduplication" => attributes.content_based_deduplication.to_string(),
        "DeduplicationScope" => match attributes.deduplication_scope {
            DeduplicationScope::Queue => "queue".to_string(),
            DeduplicationScope::MessageGroup => "messageGroup".to_string(),
        },
        "FifoThroughputLimit" => match attributes.fifo_throughput_limit {
            FifoThroughputLimit::PerQueue => "perQueue".to_string(),
            FifoThroughputLimit::PerMessageGroupId => "perMessageGroupId".to_string(),
        },
        other => unreachable!("{other} is not a settable attribute"),
    }
}

fn redrive_json(context: &Context<'_>, policy: &RedrivePolicy) -> String {
    serde_json::json!({
        "deadLetterTargetArn": context.sqs.arn(policy.dead_letter_queue.as_str()),
        "maxReceiveCount": policy.max_receive_count,
    })
    .to_string()
}

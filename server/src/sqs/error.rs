//! SQS errors as clients see them: the model's error shape (JSON 1.0 `__type`
//! `com.amazonaws.sqs#<Shape>`), the legacy query code that the
//! `x-amzn-query-error` header and the query protocol's `<Code>` carry, and the
//! HTTP status. SQS error wording exists only in this module.

use crate::error::{ApiError, Cause};
use shardlog_queue::Error as QueueError;

/// An SQS error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    /// HTTP status.
    pub status: u16,
    /// The model's error shape name (`QueueDoesNotExist`), or the name AWS uses
    /// for errors the model does not list (`InvalidParameterValueException`).
    pub shape: &'static str,
    /// The query protocol's code (`AWS.SimpleQueueService.NonExistentQueue`).
    pub query_code: &'static str,
    /// Whether the caller is at fault (`Sender`) or the server (`Receiver`).
    pub sender_fault: bool,
    /// The message.
    pub message: String,
}

/// (shape, query code, HTTP status) of every error this server returns.
const CODES: &[(&str, &str, u16)] = &[
    (
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
    ),
    ("QueueNameExists", "QueueAlreadyExists", 400),
    ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400),
    ("InvalidAttributeName", "InvalidAttributeName", 400),
    ("InvalidAttributeValue", "InvalidAttributeValue", 400),
    (
        "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        400,
    ),
    (
        "EmptyBatchRequest",
        "AWS.SimpleQueueService.EmptyBatchRequest",
        400,
    ),
    (
        "BatchEntryIdsNotDistinct",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        400,
    ),
    (
        "InvalidBatchEntryId",
        "AWS.SimpleQueueService.InvalidBatchEntryId",
        400,
    ),
    (
        "BatchRequestTooLong",
        "AWS.SimpleQueueService.BatchRequestTooLong",
        400,
    ),
    (
        "MessageNotInflight",
        "AWS.SimpleQueueService.MessageNotInflight",
        400,
    ),
    (
        "PurgeQueueInProgress",
        "AWS.SimpleQueueService.PurgeQueueInProgress",
        400,
    ),
    ("OverLimit", "OverLimit", 403),
    ("InvalidMessageContents", "InvalidMessageContents", 400),
    (
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        400,
    ),
    ("InvalidAddress", "InvalidAddress", 404),
    (
        "ResourceNotFoundException",
        "ResourceNotFoundException",
        404,
    ),
    (
        "QueueDeletedRecently",
        "AWS.SimpleQueueService.QueueDeletedRecently",
        400,
    ),
    (
        "InvalidParameterValueException",
        "InvalidParameterValue",
        400,
    ),
    ("MissingParameter", "MissingParameter", 400),
    ("InvalidAction", "InvalidAction", 400),
    ("SerializationException", "MalformedQueryString", 400),
    ("InternalError", "InternalError", 500),
];

impl SqsError {
    /// The error of model shape `shape` (one of [`CODES`]) with `message`.
    pub fn new(shape: &'static str, message: impl Into<String>) -> SqsError {
        let (shape, query_code, status) = CODES
            .iter()
            .copied()
            .find(|(name, _, _)| *name == shape)
            .expect("every SQS error shape used is listed in CODES");
        SqsError {
            status,
            shape,
            query_code,
            sender_fault: status < 500,
            message: message.into(),
        }
    }

    /// A parameter with a value SQS refuses, in SQS's words.
    pub fn invalid_value(parameter: &str, value: impl std::fmt::Display, reason: &str) -> Self {
        SqsError::new(
            "InvalidParameterValueException",
            format!("Value {value} for parameter {parameter} is invalid. Reason: {reason}"),
        )
    }

    /// A required parameter that is missing.
    pub fn missing(parameter: &str) -> Self {
        SqsError::new(
            "MissingParameter",
            format!("The request must contain the parameter {parameter}."),
        )
    }

    /// `__type` of the JSON 1.0 body.
    pub fn json_type(&self) -> String {
        format!("com.amazonaws.sqs#{}", self.shape)
    }

    /// The `x-amzn-query-error` header.
    pub fn query_error_header(&self) -> String {
        format!("{};{}", self.query_code, self.fault())
    }

    /// `Sender` or `Receiver`.
    pub fn fault(&self) -> &'static str {
        if self.sender_fault {
            "Sender"
        } else {
            "Receiver"
        }
    }
}

/// Request decoding and model validation failures, in SQS's codes.
impl From<ApiError> for SqsError {
    fn from(error: ApiError) -> Self {
        match error.cause {
            Cause::Serialization => SqsError::new("SerializationException", error.message),
            Cause::Validation(found) if found.enum_value => {
                SqsError::new("InvalidAttributeName", error.message)
            }
            Cause::Validation(found) if found.missing_member => {
                SqsError::new("MissingParameter", error.message)
            }
            Cause::Validation(_) => SqsError::new("InvalidParameterValueException", error.message),
            Cause::Authentication(_) | Cause::Other => {
                SqsError::new("InternalError", error.message)
            }
        }
    }
}

impl From<QueueError> for SqsError {
    fn from(error: QueueError) -> Self {
        let message = error.to_string();
        let shape = match &error {
            QueueError::QueueNotFound { .. } => {
                return SqsError::new("QueueDoesNotExist", "The specified queue does not exist.")
            }
            QueueError::QueueExists { .. } => "QueueNameExists",
            QueueError::InvalidQueueName { .. } | QueueError::InvalidParameter { .. } => {
                "InvalidParameterValueException"
            }
            QueueError::InvalidAttribute { .. } => "InvalidAttributeValue",
            QueueError::MessageTooLarge { .. } => "InvalidParameterValueException",
            QueueError::BatchSize { count: 0 } => "EmptyBatchRequest",
            QueueError::BatchSize { .. } => "TooManyEntriesInBatchRequest",
            QueueError::BatchTooLarge { .. } => "BatchRequestTooLong",
            QueueError::ReceiptHandleInvalid { .. } | QueueError::ReceiptHandleStale { .. } => {
                "ReceiptHandleIsInvalid"
            }
            QueueError::MessageNotInflight { .. } => "MessageNotInflight",
            QueueError::OverLimit { .. } => "OverLimit",
            QueueError::PurgeInProgress { .. } => "PurgeQueueInProgress",
            QueueError::QueueDeletedRecently { queue } => {
                return SqsError::new(
                    "QueueDeletedRecently",
                    format!("You must wait 60 seconds after deleting a queue before you can create another with the same name ({queue})."),
                )
            }
            QueueError::RedriveNotAllowed { .. } => "InvalidParameterValueException",
            _ => "InternalError",
        };
        SqsError::new(shape, message)
    }
}

#[cfg(test)]
mod tests {
    //! Error codes map as botocore expects them.
    use super::*;

    /// A missing queue is QueueDoesNotExist with the legacy code in the header.
    #[test]
    fn queue_not_found_maps_to_non_existent_queue() {
        let error = SqsError::from(QueueError::QueueNotFound { queue: "q".into() });
        assert_eq!(error.json_type(), "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(
            error.query_error_header(),
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        assert_eq!(error.status, 400);
        assert_eq!(SqsError::new("OverLimit", "x").status, 403);
    }
}

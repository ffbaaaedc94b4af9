//! SNS errors as clients see them: the query protocol's `<Code>` (which botocore
//! maps to its exception classes), `Sender` or `Receiver`, and the HTTP status.
//! SNS error wording exists only in this module and its callers in `sns/`.

use crate::error::{ApiError, AuthFailure, Cause};
use shardlog_topic::Error as TopicError;

/// An SNS error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsError {
    /// HTTP status.
    pub status: u16,
    /// The query code (`NotFound`, `InvalidParameter`).
    pub code: &'static str,
    /// The message.
    pub message: String,
}

/// (code, HTTP status) of every error this server returns.
const CODES: &[(&str, u16)] = &[
    ("InvalidParameter", 400),
    ("ParameterValueInvalid", 400),
    ("NotFound", 404),
    ("ResourceNotFound", 404),
    ("AuthorizationError", 403),
    ("InvalidAction", 400),
    ("MissingParameter", 400),
    ("MalformedQueryString", 400),
    ("TopicLimitExceeded", 403),
    ("SubscriptionLimitExceeded", 403),
    ("TagLimitExceeded", 400),
    ("EmptyBatchRequest", 400),
    ("TooManyEntriesInBatchRequest", 400),
    ("BatchEntryIdsNotDistinct", 400),
    ("InvalidBatchEntryId", 400),
    ("BatchRequestTooLong", 400),
    ("InternalError", 500),
];

impl SnsError {
    /// The error of code `code` (one of [`CODES`]) with `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> SnsError {
        let (code, status) = CODES
            .iter()
            .copied()
            .find(|(name, _)| *name == code)
            .expect("every SNS error code used is listed in CODES");
        SnsError {
            status,
            code,
            message: message.into(),
        }
    }

    /// `InvalidParameter: Invalid parameter: <what>`, as SNS words it.
    pub fn invalid(what: impl std::fmt::Display) -> SnsError {
        SnsError::new("InvalidParameter", format!("Invalid parameter: {what}"))
    }

    /// `Sender` or `Receiver`.
    pub fn fault(&self) -> &'static str {
        if self.status < 500 {
            "Sender"
        } else {
            "Receiver"
        }
    }
}

/// Request decoding and model validation failures.
impl From<ApiError> for SnsError {
    fn from(error: ApiError) -> Self {
        let forbidden = |code| SnsError {
            status: 403,
            code,
            message: error.message.clone(),
        };
        match error.cause {
            Cause::Serialization => SnsError::new("MalformedQueryString", error.message),
            Cause::Validation(found) if found.missing_member => {
                SnsError::new("MissingParameter", error.message)
            }
            Cause::Validation(_) => SnsError::new("InvalidParameter", error.message),
            Cause::Authentication(AuthFailure::BadSignature)
            | Cause::Authentication(AuthFailure::IncompleteSignature) => {
                forbidden("SignatureDoesNotMatch")
            }
            Cause::Authentication(AuthFailure::UnknownClient) => forbidden("InvalidClientTokenId"),
            Cause::Authentication(AuthFailure::MissingToken) => {
                forbidden("MissingAuthenticationToken")
            }
            _ if error.status < 500 => SnsError {
                status: error.status,
                code: error.code,
                message: error.message,
            },
            _ => SnsError::new("InternalError", error.message),
        }
    }
}

impl From<TopicError> for SnsError {
    fn from(error: TopicError) -> Self {
        match &error {
            TopicError::TopicNotFound { .. } => SnsError::new("NotFound", "Topic does not exist"),
            TopicError::SubscriptionNotFound { .. } => {
                SnsError::new("NotFound", "Subscription does not exist")
            }
            TopicError::TopicExists { .. } => SnsError::invalid(
                "Attributes Reason: Topic already exists with different attributes",
            ),
            TopicError::InvalidTopicName { .. } => SnsError::invalid("Topic Name"),
            TopicError::InvalidParameter { parameter, reason } => {
                SnsError::invalid(format!("{parameter}: {reason}"))
            }
            TopicError::InvalidToken { .. } => SnsError::invalid("Token"),
            TopicError::LimitExceeded { what: "topics", .. } => {
                SnsError::new("TopicLimitExceeded", "Topic limit exceeded")
            }
            TopicError::LimitExceeded {
                what: "subscriptions",
                ..
            } => SnsError::new("SubscriptionLimitExceeded", "Subscription limit exceeded"),
            TopicError::LimitExceeded { .. } => SnsError::new(
                "TagLimitExceeded",
                "Could not complete request: tag quota of per resource exceeded",
            ),
            _ => SnsError::new("InternalError", error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Topic-layer facts become SNS's codes and statuses.
    #[test]
    fn topic_errors_map_to_sns_codes() {
        let missing = SnsError::from(TopicError::TopicNotFound { topic: "t".into() });
        assert_eq!((missing.code, missing.status), ("NotFound", 404));
        assert_eq!(missing.fault(), "Sender");
        let internal = SnsError::from(TopicError::Closed);
        assert_eq!(
            (internal.code, internal.fault()),
            ("InternalError", "Receiver")
        );
        let bad = SnsError::from(ApiError::missing("TopicArn"));
        assert_eq!(bad.code, "MissingParameter");
    }
}

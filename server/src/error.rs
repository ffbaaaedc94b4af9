//! Kinesis-shaped errors: `{"__type": "<Code>", "message": "..."}` with the HTTP
//! status the service uses. Kinesis error codes exist only in this crate; engine
//! errors are worded in `kinesis::errors`.

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The `__type` code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// A client error with this code.
    pub fn client(code: &'static str, message: String) -> Self {
        ApiError {
            status: 400,
            code,
            message,
        }
    }

    /// The body could not be parsed or a field has the wrong type.
    pub fn serialization(message: String) -> Self {
        ApiError::client("SerializationException", message)
    }

    /// A required field is missing.
    pub fn missing(name: &str) -> Self {
        let field = lower_first(name);
        ApiError::client(
            "ValidationException",
            format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"),
        )
    }

    /// A field breaks a constraint.
    pub fn validation(message: String) -> Self {
        ApiError::client("ValidationException", message)
    }

    /// A business-rule failure.
    pub fn invalid_argument(message: String) -> Self {
        ApiError::client("InvalidArgumentException", message)
    }

    /// A server-side failure.
    pub fn internal(message: String) -> Self {
        ApiError {
            status: 500,
            code: "InternalFailure",
            message,
        }
    }
}

/// `StreamName` → `streamName`, as Kinesis names fields in messages.
pub fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

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
    /// What failed, apart from Kinesis's wording: SQS and SNS translate the
    /// errors of the shared layers (decoding, validation, authentication) by
    /// this, never by the code's text.
    pub cause: Cause,
}

/// What a shared-layer error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The body could not be read, or a member has the wrong type.
    Serialization,
    /// Members break the model's constraints.
    Validation(Violations),
    /// The request's authentication failed.
    Authentication(AuthFailure),
    /// Anything else: a rule of the service, a limit, a server failure.
    Other,
}

/// Which kinds of constraint a validation failure includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Violations {
    /// A required member is missing.
    pub missing_member: bool,
    /// A value is outside its enum.
    pub enum_value: bool,
}

/// How authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No authentication at all.
    MissingToken,
    /// The Authorization header or query lacks a part.
    IncompleteSignature,
    /// The access key is not known.
    UnknownClient,
    /// The signature, its scope or its date is wrong.
    BadSignature,
}

impl ApiError {
    /// A client error with this code.
    pub fn client(code: &'static str, message: String) -> Self {
        ApiError {
            status: 400,
            code,
            message,
            cause: Cause::Other,
        }
    }

    /// The body could not be parsed or a field has the wrong type.
    pub fn serialization(message: String) -> Self {
        ApiError {
            cause: Cause::Serialization,
            ..ApiError::client("SerializationException", message)
        }
    }

    /// A required field is missing.
    pub fn missing(name: &str) -> Self {
        let field = lower_first(name);
        let violations = Violations {
            missing_member: true,
            enum_value: false,
        };
        ApiError::violated(
            format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"),
            violations,
        )
    }

    /// A field breaks a constraint.
    pub fn validation(message: String) -> Self {
        ApiError::violated(message, Violations::default())
    }

    /// Fields break constraints of these kinds.
    pub fn violated(message: String, violations: Violations) -> Self {
        ApiError {
            cause: Cause::Validation(violations),
            ..ApiError::client("ValidationException", message)
        }
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
            cause: Cause::Other,
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

//! Requests whose Content-Type the target's service does not speak, answered as
//! Kinesis answers them (as kinesalite recorded the real service) rather than
//! parsed as if they were JSON 1.1. Which types a service speaks is decided by its
//! `formats` in the table of services (`service`), so a JSON 1.0 service can list
//! `x-amz-json-1.0` there.
//!
//! - an empty body: 400 in CBOR, `SerializationException` when the target names a
//!   known operation and `UnknownOperationException` otherwise, without a message;
//! - `application/json`: 200 with the old Coral envelope, `{"Output": {"__type":
//!   "com.amazon.coral.service#UnknownOperationException", "message": null},
//!   "Version": "1.0"}` (`SerializationException` and `Message` when the body is not
//!   a JSON object);
//! - any other type or none: 403 `AccessDeniedException` in XML when the target
//!   does not name a service and an operation, else 404 `<UnknownOperationException/>`.
//!
//! None of these is authenticated: the service answers them before looking at
//! the signature.

use crate::error::ApiError;
use crate::http::{error_response, respond, Body};
use crate::protocol::value::Format;
use hyper::header::CONTENT_TYPE;
use hyper::Response;

/// What AWS answers a request it cannot name, in XML with no content type.
pub(crate) const ACCESS_DENIED_XML: &str = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";

/// The answer to a request in an unsupported `content_type` (its essence, or
/// `None` when absent), with the error code it reports for metrics.
pub(crate) fn respond_to(
    content_type: Option<&str>,
    target: &str,
    known_operation: bool,
    body: &[u8],
    id: &str,
) -> (Response<Body>, &'static str) {
    if body.is_empty() {
        let code = if known_operation {
            "SerializationException"
        } else {
            "UnknownOperationException"
        };
        let error = ApiError::client(code, String::new());
        return (error_response(&error, Format::Cbor, id), code);
    }
    if content_type == Some("application/json") {
        let parses =
            serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|value| value.is_object());
        let (code, output) = if parses {
            let output = serde_json::json!({
                "__type": "com.amazon.coral.service#UnknownOperationException",
                "message": null,
            });
            ("UnknownOperationException", output)
        } else {
            let output = serde_json::json!({
                "__type": "com.amazon.coral.service#SerializationException",
                "Message": null,
            });
            ("SerializationException", output)
        };
        let envelope = serde_json::json!({"Output": output, "Version": "1.0"});
        let body = serde_json::to_vec(&envelope).expect("JSON values serialize");
        return (respond(200, "application/json", body, id), code);
    }
    let names_operation = target
        .split_once('.')
        .is_some_and(|(service, operation)| !service.is_empty() && !operation.is_empty());
    let (status, code, body) = if names_operation {
        (
            404,
            "UnknownOperationException",
            "<UnknownOperationException/>\n",
        )
    } else {
        (403, "AccessDeniedException", ACCESS_DENIED_XML)
    };
    let mut response = respond(status, "", body.as_bytes().to_vec(), id);
    response.headers_mut().remove(CONTENT_TYPE);
    (response, code)
}

//! SQS over HTTP: which requests are SQS's, and answering them in the protocol
//! they came in (JSON 1.0 or query).

use super::SQS_TARGET_PREFIX;
use super::{dispatch, dispatch_decoded, fast, query, Answer, Sqs, SqsError, Wire};
use crate::http::{authenticate, read_body, respond as respond_with, Body, Shared};
use crate::metrics::ActionLabel;
use crate::protocol::value::Format;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use std::sync::Arc;
use std::time::Instant;

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

fn header<'a, B>(request: &'a Request<B>, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Whether a POST is for SQS: an `AmazonSQS.` target, or a form (the query
/// protocol, which only SQS speaks on this server).
pub(crate) fn is_sqs_request(request: &Request<Incoming>) -> bool {
    if header(request, "x-amz-target").is_some_and(|t| t.starts_with(SQS_TARGET_PREFIX)) {
        return true;
    }
    header(request, "content-type")
        .map(|value| value.split(';').next().unwrap_or("").trim())
        .is_some_and(|essence| essence.eq_ignore_ascii_case(FORM_CONTENT_TYPE))
}

/// The request's protocol, with the action for JSON 1.0.
enum Protocol {
    Json { action: String },
    Query,
}

/// Answers an SQS request.
pub(crate) async fn respond<B>(shared: Arc<Shared>, request: Request<B>, id: &str) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let protocol = match header(&request, "x-amz-target") {
        Some(target) => Protocol::Json {
            action: target
                .strip_prefix(SQS_TARGET_PREFIX)
                .unwrap_or_default()
                .to_string(),
        },
        None => Protocol::Query,
    };
    let host = header(&request, "host")
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_string());
    let path = request.uri().path().to_string();
    let Some(sqs) = shared.config.sqs.clone() else {
        let error = SqsError::new("InvalidAction", "SQS is not enabled on this server.");
        return error_response(&protocol, &error, id);
    };
    let (parts, body) = request.into_parts();
    let authenticating = !shared.config.credentials.is_empty();
    let (body, payload) = match read_body(body, &shared.config, authenticating).await {
        Ok(read) => read,
        Err(error) => return error_response(&protocol, &passthrough(error), id),
    };
    if let Some(payload) = payload {
        if let Err(error) = authenticate(&shared, &parts, payload) {
            return error_response(&protocol, &passthrough(error), id);
        }
    }
    let mut label = ActionLabel::UNKNOWN;
    let result = run(&sqs, &host, &protocol, &path, &body, &mut label).await;
    let outcome = result.as_ref().map_or_else(|error| error.shape, |_| "OK");
    shared.metrics.request(label, outcome, started.elapsed());
    match result {
        Ok(body) => respond_with(200, content_type(&protocol), body, id),
        Err(error) => error_response(&protocol, &error, id),
    }
}

/// Decodes, runs and encodes one request.
async fn run(
    sqs: &Sqs,
    host: &str,
    protocol: &Protocol,
    path: &str,
    body: &Bytes,
    label: &mut ActionLabel,
) -> Result<Vec<u8>, SqsError> {
    let model = crate::protocol::model::sqs();
    match protocol {
        Protocol::Json { action } => {
            *label = ActionLabel::of(model, action);
            let service = (sqs, host, Wire::Json);
            let answer = match fast::decode(action, body) {
                Some(request) => dispatch_decoded(service, request).await?,
                None => {
                    let format = Format::Json;
                    let request = crate::protocol::validate::request(model, action, format, body)?;
                    dispatch(service, action.clone(), request).await?
                }
            };
            let no_output = model
                .operation(action)
                .is_some_and(|operation| operation.output.is_none());
            Ok(match answer {
                _ if no_output => b"{}".to_vec(),
                Answer::Json(body) => body,
                Answer::Tree(tree) => Format::Json.encode(&tree),
            })
        }
        Protocol::Query => {
            let (action, request) = query::decode(body, path)?;
            *label = ActionLabel::of(model, &action);
            let service = (sqs, host, Wire::Query);
            let tree = match dispatch(service, action.clone(), request).await? {
                Answer::Tree(tree) => tree,
                Answer::Json(body) => Format::Json.decode(&body)?,
            };
            Ok(query::encode(
                &action,
                &tree,
                &uuid::Uuid::new_v4().to_string(),
            ))
        }
    }
}

fn content_type(protocol: &Protocol) -> &'static str {
    match protocol {
        Protocol::Json { .. } => JSON_CONTENT_TYPE,
        Protocol::Query => "text/xml",
    }
}

/// An error of the HTTP layer (body too large, signature) under its own code;
/// authentication failures take SQS's legacy codes and its 403.
fn passthrough(error: crate::error::ApiError) -> SqsError {
    use crate::error::{AuthFailure, Cause};
    let authentication = match error.cause {
        Cause::Authentication(AuthFailure::BadSignature) => Some("SignatureDoesNotMatch"),
        Cause::Authentication(AuthFailure::UnknownClient) => Some("InvalidClientTokenId"),
        Cause::Authentication(AuthFailure::MissingToken) => Some("MissingAuthenticationToken"),
        Cause::Authentication(AuthFailure::IncompleteSignature) => Some("IncompleteSignature"),
        _ => None,
    };
    SqsError {
        status: authentication.map_or(error.status, |_| 403),
        shape: error.code,
        query_code: authentication.unwrap_or(error.code),
        sender_fault: error.status < 500,
        message: error.message,
    }
}

/// Answers, in the query protocol, a request that failed before SQS read it.
pub(crate) fn query_error_response(error: crate::error::ApiError, id: &str) -> Response<Body> {
    error_response(&Protocol::Query, &passthrough(error), id)
}

fn error_response(protocol: &Protocol, error: &SqsError, id: &str) -> Response<Body> {
    let body = match protocol {
        Protocol::Json { .. } => Format::Json.serialize(&super::responses::ErrorBody {
            kind: error.json_type(),
            message: &error.message,
        }),
        Protocol::Query => query::encode_error(error, id),
    };
    let mut response = respond_with(error.status, content_type(protocol), body, id);
    if let Ok(value) = HeaderValue::from_str(&error.query_error_header()) {
        response.headers_mut().insert("x-amzn-query-error", value);
    }
    response
}

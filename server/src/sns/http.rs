//! SNS over HTTP: which requests are SNS's, and answering them.
//!
//! Both SNS and SQS speak the form-encoded query protocol on the same port; a
//! form POST is SNS's when its SigV4 credential scope names the `sns` service
//! (every SDK signs), and the unsigned GET links that notifications carry
//! (SubscribeURL, UnsubscribeURL) are SNS's by their action. A form POST that
//! names no service by a signature is routed by what it says: its `Version`,
//! an action only SNS has, or a `TopicArn`; anything else stays SQS's.

use super::envelope::CERTIFICATE_PATH;
use super::{dispatch, SnsError, DIALECT};
use crate::http::{authenticate, read_body, respond as respond_with, Body, Shared};
use crate::metrics::ActionLabel;
use crate::protocol::query as codec;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use std::sync::Arc;
use std::time::Instant;

/// The actions a GET link may run without a signature, as SNS's links do.
const LINK_ACTIONS: [&str; 2] = ["ConfirmSubscription", "Unsubscribe"];

/// The query protocol's `Version` for SNS.
const SNS_VERSION: &str = "2010-03-31";
/// The query protocol's `Version` for SQS.
const SQS_VERSION: &str = "2012-11-05";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

fn header<'a, B>(request: &'a Request<B>, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// The service a SigV4 credential scope (`<key>/<date>/<region>/<service>/aws4_request`) names.
fn scope_service(credential: &str) -> Option<&str> {
    let mut parts = credential.rsplit('/');
    (parts.next()? == "aws4_request").then_some(())?;
    parts.next()
}

/// The service a request's SigV4 signature names, in its `Authorization`
/// header or, presigned, in its query's `X-Amz-Credential`.
fn signed_service<B>(request: &Request<B>) -> Option<String> {
    let from_header = header(request, "authorization")
        .and_then(|value| value.split("Credential=").nth(1))
        .and_then(|rest| rest.split([',', ' ']).next())
        .and_then(scope_service)
        .map(str::to_string);
    from_header.or_else(|| {
        let query = request.uri().query().unwrap_or("");
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "X-Amz-Credential")
            .and_then(|(_, value)| scope_service(&value).map(str::to_string))
    })
}

/// Whether a request is for SNS by its headers alone.
pub(crate) fn is_sns_request(request: &Request<Incoming>) -> bool {
    let query = request.uri().query().unwrap_or("");
    let query_action = || {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "Action")
            .map(|(_, value)| value.into_owned())
    };
    if request.method() == Method::GET {
        if request.uri().path() == CERTIFICATE_PATH {
            return true;
        }
        return query_action().is_some_and(|action| LINK_ACTIONS.contains(&action.as_str()));
    }
    if header(request, "x-amz-target").is_some() {
        return false;
    }
    signed_service(request).as_deref() == Some("sns")
}

/// Whether a POST is a query-protocol form whose signature names no service
/// (it has none), so that only its content says whose it is.
pub(crate) fn is_unsigned_form(request: &Request<Incoming>) -> bool {
    let is_form = header(request, "content-type")
        .map(|value| value.split(';').next().unwrap_or("").trim())
        .is_some_and(|essence| essence.eq_ignore_ascii_case(FORM_CONTENT_TYPE));
    is_form && header(request, "x-amz-target").is_none() && signed_service(request).is_none()
}

/// Whether an unsigned query-protocol form is SNS's: its `Version` decides when
/// it names one of the two; otherwise an action only SNS has, or a `TopicArn`
/// (only SNS takes one). Actions both services have, with neither clue, are SQS's.
fn form_is_sns(form: &[(String, String)]) -> bool {
    let value = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    match value("Version") {
        Some(SNS_VERSION) => return true,
        Some(SQS_VERSION) => return false,
        _ => {}
    }
    let sns_only_action = value("Action").is_some_and(|action| {
        crate::protocol::model::sns().operation(action).is_some()
            && crate::protocol::model::sqs().operation(action).is_none()
    });
    sns_only_action || value("TopicArn").is_some()
}

/// Answers an unsigned query-protocol form: reads it, then hands it to SNS or
/// SQS by what it says (`form_is_sns`).
pub(crate) async fn respond_to_unsigned_form(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    id: &str,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match read_body(body, &shared.config, false).await {
        Ok((body, _)) => body,
        // Before forms were routed by content, SQS answered every unsigned form.
        Err(error) => return crate::sqs::query_error_response(error, id),
    };
    // Only the body: it is all that either service reads a POST's parameters from.
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let request = Request::from_parts(parts, Full::new(body));
    if form_is_sns(&form) {
        respond(shared, request, id).await
    } else {
        crate::sqs::respond(shared, request, id).await
    }
}

/// Answers an SNS request.
pub(crate) async fn respond<B>(shared: Arc<Shared>, request: Request<B>, id: &str) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let Some(sns) = shared.config.sns.clone() else {
        let error = SnsError::new("InvalidAction", "SNS is not enabled on this server.");
        return error_response(&error, id);
    };
    if request.uri().path() == CERTIFICATE_PATH {
        let sinks = sns.sinks();
        return match tokio::task::spawn_blocking(move || {
            sinks.certificate_pem().map(|pem| pem.as_bytes().to_vec())
        })
        .await
        {
            Ok(Ok(pem)) => respond_with(200, "application/x-x509-ca-cert", pem, id),
            Ok(Err(error)) => error_response(&SnsError::new("InternalError", error), id),
            Err(error) => error_response(&SnsError::new("InternalError", error.to_string()), id),
        };
    }
    let is_link = request.method() == Method::GET;
    let query = request.uri().query().unwrap_or("").to_string();
    let (parts, body) = request.into_parts();
    let form = if is_link {
        codec::parse_form(query.as_bytes())
    } else {
        let authenticating = !shared.config.credentials.is_empty();
        let (body, payload) = match read_body(body, &shared.config, authenticating).await {
            Ok(read) => read,
            Err(error) => return error_response(&error.into(), id),
        };
        if let Some(payload) = payload {
            if let Err(error) = authenticate(&shared, &parts, payload) {
                return error_response(&error.into(), id);
            }
        }
        codec::parse_form(&body)
    };
    let request_id = id.to_string();
    let unblocked = match is_link {
        true => None,
        false => publish_unblocked(&sns, &form, &request_id).await,
    };
    let (label, result) = match unblocked {
        Some(answered) => answered,
        None => tokio::task::spawn_blocking(move || {
            let model = crate::protocol::model::sns();
            let Some(action) = form.get("Action").cloned() else {
                let error = SnsError::new(
                    "MissingParameter",
                    "The request must contain the parameter Action.",
                );
                return (ActionLabel::UNKNOWN, Err(error));
            };
            let label = ActionLabel::of(model, &action);
            let request = codec::build_request(&DIALECT, &action, &form);
            let result = codec::validate(&DIALECT, &action, &request)
                .map_err(SnsError::from)
                .and_then(|request| dispatch(&sns, &action, &request, is_link))
                .map(|response| codec::encode(&DIALECT, &action, &response, &request_id));
            (label, result)
        })
        .await
        .unwrap_or_else(|error| {
            let error = SnsError::new("InternalError", format!("request handler failed: {error}"));
            (ActionLabel::UNKNOWN, Err(error))
        }),
    };
    let outcome = result.as_ref().map_or_else(|error| error.code, |_| "OK");
    shared.metrics.request(label, outcome, started.elapsed());
    match result {
        Ok(body) => respond_with(200, "text/xml", body, id),
        Err(error) => error_response(&error, id),
    }
}

/// Answers a Publish or PublishBatch to a standard topic on this thread,
/// awaiting its commit instead of blocking a thread on it (one hand-off less per
/// publish); `None` for every other request, which runs on a blocking thread.
async fn publish_unblocked(
    sns: &super::Sns,
    form: &codec::Form,
    request_id: &str,
) -> Option<(ActionLabel, Result<Vec<u8>, SnsError>)> {
    let action = form.get("Action")?;
    if !matches!(action.as_str(), "Publish" | "PublishBatch") {
        return None;
    }
    let label = ActionLabel::of(crate::protocol::model::sns(), action);
    let request = codec::build_request(&DIALECT, action, form);
    let request = match codec::validate(&DIALECT, action, &request) {
        Ok(request) => request,
        Err(error) => return Some((label, Err(error.into()))),
    };
    let result = super::publish::run_unblocked(sns, action, &request).await?;
    Some((
        label,
        result.map(|response| codec::encode(&DIALECT, action, &response, request_id)),
    ))
}

fn error_response(error: &SnsError, id: &str) -> Response<Body> {
    let body = codec::encode_error(&DIALECT, error.fault(), error.code, &error.message, id);
    respond_with(error.status, "text/xml", body, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service is read from the end of a credential scope, and only there.
    #[test]
    fn credential_scope_names_the_service() {
        assert_eq!(
            scope_service("AKID/20260101/us-east-1/sns/aws4_request"),
            Some("sns")
        );
        assert_eq!(
            scope_service("AKID/20260101/us-east-1/sqs/aws4_request"),
            Some("sqs")
        );
        assert_eq!(scope_service("AKID/20260101/us-east-1/sns"), None);
    }
}

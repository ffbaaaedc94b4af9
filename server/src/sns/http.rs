//! SNS over HTTP: which requests are SNS's, and answering them.
//!
//! Both SNS and SQS speak the form-encoded query protocol on the same port; a
//! form POST is SNS's when its SigV4 credential scope names the `sns` service
//! (every SDK signs), and the unsigned GET links that notifications carry
//! (SubscribeURL, UnsubscribeURL) are SNS's by their action.

use super::envelope::CERTIFICATE_PATH;
use super::{dispatch, SnsError, DIALECT};
use crate::http::{authenticate, read_body, respond as respond_with, Body, Shared};
use crate::metrics::ActionLabel;
use crate::protocol::query as codec;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use std::sync::Arc;
use std::time::Instant;

/// The actions a GET link may run without a signature, as SNS's links do.
const LINK_ACTIONS: [&str; 2] = ["ConfirmSubscription", "Unsubscribe"];

fn header<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
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

/// Whether a request is for SNS.
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
    let signed_for_sns = header(request, "authorization")
        .and_then(|value| value.split("Credential=").nth(1))
        .and_then(|rest| rest.split([',', ' ']).next())
        .and_then(scope_service)
        == Some("sns");
    let presigned_for_sns = form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "X-Amz-Credential")
        .is_some_and(|(_, value)| scope_service(&value) == Some("sns"));
    signed_for_sns || presigned_for_sns
}

/// Answers an SNS request.
pub(crate) async fn respond(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    id: &str,
) -> Response<Body> {
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
    let (label, result) = tokio::task::spawn_blocking(move || {
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
    });
    let outcome = result.as_ref().map_or_else(|error| error.code, |_| "OK");
    shared.metrics.request(label, outcome, started.elapsed());
    match result {
        Ok(body) => respond_with(200, "text/xml", body, id),
        Err(error) => error_response(&error, id),
    }
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

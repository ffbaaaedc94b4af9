//! The services this server speaks, as one table. The front end (`http`) finds a
//! request's service by its `X-Amz-Target` prefix, checks that the service speaks
//! the request's wire format, validates the body against the service's published
//! model, and hands the validated request to the service's `run` on a blocking
//! thread. A service whose answer to some action is an event stream names that
//! action, and the front end hands it the raw request instead.
//!
//! Adding a service is a module and a line in [`SERVICES`]. SQS (`sqs/`) is answered
//! before this table: its JSON 1.0 errors carry an `x-amzn-query-error` header and
//! its query protocol names the action in a form field, neither of which a row
//! expresses yet; moving it in means a row able to say both (and SNS would need the
//! same form lookup).

use crate::error::ApiError;
use crate::http::{Body, Shared};
use crate::protocol::model::Model;
use crate::protocol::value::{Format, Value};
use bytes::Bytes;
use hyper::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

/// Runs an action on its validated request; the answer is the response body in
/// the request's format.
pub(crate) type Run = fn(&Shared, &str, Format, &Value) -> Result<Vec<u8>, ApiError>;

/// Runs an action straight from its body when the service can read that body
/// in one pass and vouch that the model accepts it: the answer's future, run
/// on the request's task (it must not block); `None` leaves the request to
/// validation and [`Run`].
pub(crate) type RunBody = for<'a> fn(&'a Shared, &str, Format, &'a [u8]) -> Option<BodyFuture<'a>>;

/// The answer of a [`RunBody`]: the response body in the request's format.
pub(crate) type BodyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>> + Send + 'a>>;

/// One service: how requests name it, what it speaks, and how it runs them.
pub(crate) struct Service {
    /// The `X-Amz-Target` prefix with its dot, e.g. `Kinesis_20131202.`.
    pub(crate) target_prefix: &'static str,
    /// The published API model requests are validated against.
    pub(crate) model: fn() -> &'static Model,
    /// The wire formats it accepts (and answers in).
    pub(crate) formats: &'static [Format],
    /// Runs an action on its validated request. Called on a blocking thread: the
    /// engine blocks (fsync, waits).
    pub(crate) run: Run,
    /// Runs the actions it reads from the body itself (a hot path), before
    /// validation, on the request's task.
    pub(crate) run_body: Option<RunBody>,
    /// The action answered with an event stream, if the service has one.
    pub(crate) streaming: Option<Streaming>,
}

/// A response that is built as it goes (an event stream).
pub(crate) type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// An action whose answer is an event stream: it gets the request as read and
/// builds its own response, records its own metrics and validates its own body.
pub(crate) struct Streaming {
    /// The action's name.
    pub(crate) action: &'static str,
    /// Answers it: shared state, wire format, body, request id, when it started.
    pub(crate) respond: fn(Arc<Shared>, Format, Bytes, String, Instant) -> ResponseFuture,
}

/// Every service this server speaks.
pub(crate) const SERVICES: [&Service; 2] = [&crate::kinesis::SERVICE, &crate::firehose::SERVICE];

/// An action of a service this server speaks, as an `X-Amz-Target` names it.
pub(crate) struct Named {
    /// The service.
    pub(crate) service: &'static Service,
    /// The part of the target after the service's prefix.
    pub(crate) action: String,
}

impl Named {
    /// The service and action `target` names, by its prefix.
    pub(crate) fn parse(target: &str) -> Option<Named> {
        SERVICES.iter().find_map(|service| {
            target
                .strip_prefix(service.target_prefix)
                .map(|action| Named {
                    service,
                    action: action.to_string(),
                })
        })
    }

    /// The service's model.
    pub(crate) fn model(&self) -> &'static Model {
        (self.service.model)()
    }

    /// Whether the action answers with no output (an empty body, as AWS sends).
    pub(crate) fn has_no_output(&self) -> bool {
        self.model()
            .operation(&self.action)
            .is_some_and(|operation| operation.output.is_none())
    }

    /// How to answer the action when its answer is an event stream.
    pub(crate) fn streaming(&self) -> Option<&'static Streaming> {
        self.service
            .streaming
            .as_ref()
            .filter(|streaming| streaming.action == self.action)
    }

    /// The answer of the service's [`RunBody`], if it reads this request
    /// itself: a future to await on the request's task.
    pub(crate) fn run_body<'a>(
        &self,
        shared: &'a Shared,
        format: Format,
        body: &'a [u8],
    ) -> Option<BodyFuture<'a>> {
        (self.service.run_body?)(shared, &self.action, format, body)
    }

    /// Validates `body` against the model and runs the action (on a blocking
    /// thread); the answer is the response body in `format`.
    pub(crate) fn run(
        &self,
        shared: &Shared,
        format: Format,
        body: &[u8],
    ) -> Result<Vec<u8>, ApiError> {
        let request = crate::protocol::validate::request(self.model(), &self.action, format, body)?;
        (self.service.run)(shared, &self.action, format, &request)
    }
}

#[cfg(test)]
mod tests {
    //! Targets find their service by prefix, and only theirs.
    use super::*;

    /// Each service's prefix names it; an unknown prefix or a bare action names none.
    #[test]
    fn targets_find_their_service() {
        let kinesis = Named::parse("Kinesis_20131202.PutRecord").unwrap();
        assert_eq!(kinesis.service.target_prefix, "Kinesis_20131202.");
        assert_eq!(kinesis.action, "PutRecord");
        assert!(!kinesis.has_no_output());
        assert!(kinesis.streaming().is_none());
        let subscribe = Named::parse("Kinesis_20131202.SubscribeToShard").unwrap();
        assert_eq!(subscribe.streaming().unwrap().action, "SubscribeToShard");
        let firehose = Named::parse("Firehose_20150804.DeleteDeliveryStream").unwrap();
        assert_eq!(firehose.model().target_prefix, "Firehose_20150804");
        assert!(firehose.streaming().is_none());
        for target in ["AmazonSQS.SendMessage", "PutRecord", "Kinesis_20131202", ""] {
            assert!(Named::parse(target).is_none(), "{target}");
        }
        assert!(Named::parse("Kinesis_20131202.DeleteStream")
            .unwrap()
            .has_no_output());
    }
}

//! The Kinesis Data Firehose API (`Firehose_20150804.*`): its actions and error codes.

pub(crate) mod actions;
mod requests;
mod responses;

pub use actions::FIREHOSE_TARGET_PREFIX;

use crate::error::ApiError;
use crate::http::Shared;
use crate::protocol::value::{Format, Value};
use crate::service::Service;

/// Firehose in the front end's table of services.
pub(crate) const SERVICE: Service = Service {
    target_prefix: FIREHOSE_TARGET_PREFIX,
    model: crate::protocol::model::firehose,
    formats: &[Format::Json, Format::Cbor],
    run,
    run_body: None,
    streaming: None,
};

fn run(
    shared: &Shared,
    action: &str,
    format: Format,
    request: &Value,
) -> Result<Vec<u8>, ApiError> {
    let account = shared.config.identity.account();
    actions::dispatch(
        shared.config.firehose.as_ref(),
        account,
        action,
        format,
        request,
    )
}

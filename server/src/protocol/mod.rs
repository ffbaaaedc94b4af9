//! The wire protocols: one codec per protocol (`json` for JSON 1.1, `cbor`
//! for CBOR) to and from the request and response tree of [`value`], the
//! event-stream framing ([`eventstream`]), and validation ([`validate`]) from
//! the published service models ([`model`]). Actions converted to typed requests
//! read the validated tree into their own serde struct (`typed`).

mod cbor;
pub mod eventstream;
mod json;
pub mod model;
pub mod query;
pub(crate) mod typed;
pub mod validate;
pub mod value;
pub mod wire;

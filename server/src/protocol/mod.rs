//! The wire protocols: one codec per protocol (`json` for JSON 1.1, `cbor`
//! for CBOR) to and from the request and response tree of [`value`], the
//! event-stream framing ([`eventstream`]), and validation ([`validate`]) from
//! the published service models ([`model`]).

mod cbor;
pub mod eventstream;
mod json;
pub mod model;
pub mod validate;
pub mod value;

//! The wire protocols: one codec per protocol (`json` for JSON 1.1, `cbor`
//! for CBOR) to and from the request and response tree of [`value`], the
//! event-stream framing ([`eventstream`]), and validation ([`validate`]) from
//! the published service models ([`model`]). Every action reads the validated
//! tree into its own serde struct (`typed::read`); none looks a member up by name.

mod cbor;
pub mod eventstream;
mod json;
pub mod model;
pub mod query;
pub(crate) mod typed;
pub mod validate;
pub mod value;
pub mod wire;

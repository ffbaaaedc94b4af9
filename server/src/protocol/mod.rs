//! The wire protocols: request and response bodies in JSON 1.1 and CBOR
//! ([`value`]), the event-stream framing ([`eventstream`]), and validation
//! ([`validate`]) from the published service models ([`model`]).

pub mod eventstream;
pub mod model;
pub mod validate;
pub mod value;

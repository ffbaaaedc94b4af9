//! SNS semantics on segment logs: topics, subscriptions, filter policies and
//! at-least-once delivery from each topic's log to its subscriptions' sinks.
//!
//! No AWS wording lives here: errors are facts, values are types. The server
//! implements the sinks (queues of this server, Firehose delivery streams, HTTP
//! endpoints), so this crate knows neither SQS nor Firehose.

#![forbid(unsafe_code)]

pub mod filter;
mod message;
pub mod retry;

pub use message::{AttributeValue, MessageAttribute, MessageAttributes};

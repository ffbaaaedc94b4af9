//! The Kinesis Data Streams API (`Kinesis_20131202.*`): its actions, the business
//! rules Kinesis applies beyond its model, and SubscribeToShard's event stream.

pub(crate) mod actions;
pub(crate) mod rules;
pub(crate) mod subscribe;
mod subscribe_event;

//! The Kinesis Data Firehose API (`Firehose_20150804.*`): its actions and error codes.

pub(crate) mod actions;

pub use actions::FIREHOSE_TARGET_PREFIX;

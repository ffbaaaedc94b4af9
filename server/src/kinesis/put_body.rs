//! PutRecords read straight from its body, in one pass: every payload borrowed
//! from the body (CBOR) or decoded from base64 into one buffer (JSON), and
//! every key copied into one string, so that a call of 500 records allocates
//! a handful of buffers rather than a request tree of several allocations and
//! two payload copies per record.
//!
//! The reader only vouches for a request that the general path
//! (`validate::request`, then `typed::read`) would accept and read the same:
//! it knows the members of the model, their types and their constraints. On
//! anything else (a wrong type, a broken constraint, an unknown or repeated
//! member, a null, a CBOR tag or chunked string) it gives up, and the general
//! path answers, with AWS's errors in AWS's order.

use super::requests::StreamRef;
use crate::protocol::model::{Kind, Model, Shape};
use crate::protocol::value::Format;
use std::borrow::Cow;
use std::ops::Range;

mod cbor;
mod json;

/// A PutRecords request as read from its body.
#[derive(Debug, Default)]
pub(crate) struct PutRecordsBody<'a> {
    /// The stream, as named.
    pub(crate) stream: StreamRef,
    /// What the records' payloads are ranges of: the body itself (CBOR, whose
    /// byte strings are the payloads), or their decoded bytes end to end (JSON).
    data: Cow<'a, [u8]>,
    /// Every record's partition key and explicit hash key, end to end.
    keys: String,
    /// The records, in order.
    entries: Vec<Entry>,
}

/// One record: where its parts are in the body's buffers.
#[derive(Debug, Default, Clone)]
struct Entry {
    data: Range<usize>,
    partition_key: Range<usize>,
    explicit_hash_key: Option<Range<usize>>,
}

/// One record as borrowed from a [`PutRecordsBody`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRef<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) partition_key: &'a str,
    pub(crate) explicit_hash_key: Option<&'a str>,
}

/// The members the reader knows: a request naming another is left to the
/// general path. The model's required members must be among them (a test checks).
const REQUEST_MEMBERS: [&str; 3] = ["StreamName", "StreamARN", "Records"];
const ENTRY_MEMBERS: [&str; 3] = ["Data", "PartitionKey", "ExplicitHashKey"];

impl<'a> PutRecordsBody<'a> {
    /// Reads `body`, a PutRecords request in `format`, if it is one the model
    /// accepts; `None` leaves it to the general path.
    pub(crate) fn read(model: &Model, format: Format, body: &'a [u8]) -> Option<Self> {
        let read = match format {
            Format::Json => json::read(body)?,
            Format::Cbor => cbor::read(body)?,
        };
        read.satisfies(model).then_some(read)
    }

    /// The records, in order.
    pub(crate) fn records(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> {
        self.entries.iter().map(|entry| RecordRef {
            data: &self.data[entry.data.clone()],
            partition_key: &self.keys[entry.partition_key.clone()],
            explicit_hash_key: entry
                .explicit_hash_key
                .clone()
                .map(|range| &self.keys[range]),
        })
    }

    /// Whether every member satisfies the model's constraints (Records itself
    /// is required, so an absent one fails the length's lower bound).
    fn satisfies(&self, model: &Model) -> bool {
        let (Some(input), Some(entry)) = (
            member_shape(model, "PutRecordsInput", "Records"),
            member_shape(model, "PutRecordsRequestEntry", "Data"),
        ) else {
            return false;
        };
        let stream_fits = |member: &str, text: &Option<String>| {
            text.as_deref().is_none_or(|text| {
                member_shape(model, "PutRecordsInput", member)
                    .is_some_and(|shape| text_fits(shape, text))
            })
        };
        let (Some(key), Some(hash_key)) = (
            member_shape(model, "PutRecordsRequestEntry", "PartitionKey"),
            member_shape(model, "PutRecordsRequestEntry", "ExplicitHashKey"),
        ) else {
            return false;
        };
        within(input, self.entries.len())
            && stream_fits("StreamName", &self.stream.stream_name)
            && stream_fits("StreamARN", &self.stream.stream_arn)
            && self.records().all(|record| {
                within(entry, record.data.len())
                    && text_fits(key, record.partition_key)
                    && record
                        .explicit_hash_key
                        .is_none_or(|text| text_fits(hash_key, text))
            })
    }
}

/// The shape of `structure`'s member `member`.
fn member_shape<'m>(model: &'m Model, structure: &str, member: &str) -> Option<&'m Shape> {
    let Kind::Structure { members, .. } = &model.shape(structure).kind else {
        return None;
    };
    let (_, shape) = members.iter().find(|(name, _)| name == member)?;
    Some(model.shape(shape))
}

/// Whether a length (of a list, blob or string) is within the shape's bounds.
fn within(shape: &Shape, len: usize) -> bool {
    let len = len as f64;
    shape.min.is_none_or(|min| len >= min) && shape.max.is_none_or(|max| len <= max)
}

/// Whether a string satisfies the shape's pattern, enum and length (counted in
/// UTF-16 code units, as Java counts).
fn text_fits(shape: &Shape, text: &str) -> bool {
    let len = if text.is_ascii() {
        text.len()
    } else {
        text.encode_utf16().count()
    };
    within(shape, len)
        && shape
            .enum_values
            .as_ref()
            .is_none_or(|values| values.iter().any(|value| value == text))
        && shape
            .pattern
            .as_ref()
            .is_none_or(|pattern| pattern.matches(text))
}

/// Which member a name is, for the readers of both formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    StreamName,
    StreamArn,
    Records,
    Data,
    PartitionKey,
    ExplicitHashKey,
}

impl Member {
    /// The member `name` names among `known` (the request's or an entry's).
    fn of(name: &[u8], known: &[&str; 3]) -> Option<Member> {
        let member = match name {
            b"StreamName" => Member::StreamName,
            b"StreamARN" => Member::StreamArn,
            b"Records" => Member::Records,
            b"Data" => Member::Data,
            b"PartitionKey" => Member::PartitionKey,
            b"ExplicitHashKey" => Member::ExplicitHashKey,
            _ => return None,
        };
        known
            .iter()
            .any(|known| known.as_bytes() == name)
            .then_some(member)
    }
}

/// Members seen so far in one structure: a repeated one is left to the general
/// path (whose decoders keep the last value).
#[derive(Debug, Default)]
struct Seen(u8);

impl Seen {
    /// Marks `member`; false if it was already seen.
    fn first(&mut self, member: Member) -> bool {
        let bit = 1 << member as u8;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first
    }

    /// Whether every one of `members` was seen (the required ones).
    fn all_of(&self, members: &[Member]) -> bool {
        members
            .iter()
            .all(|member| self.0 & (1 << *member as u8) != 0)
    }
}

#[cfg(test)]
mod tests;

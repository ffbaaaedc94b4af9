//! Checking and staging sends: a standard queue's sends are checked, encoded and
//! staged without the queue's lock, a FIFO queue's under it (see `queue.rs`).

use crate::error::{Error, Result};
use crate::message::{message_size_bytes, validate_parts, StoredMessage};
use crate::queue::{message_record, Inner, PendingSend, Queue, SendOutcome, SendRequest};
use crate::types::MessageId;
use shardlog_segment::{PendingAppend, Record};

/// The attributes a send is checked and built with, read under the queue's lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendLimits {
    max_bytes: usize,
    delay_s: u32,
}

impl SendLimits {
    pub(crate) fn of(inner: &Inner) -> SendLimits {
        SendLimits {
            max_bytes: inner.attributes.maximum_message_bytes as usize,
            delay_s: inner.attributes.delay_s,
        }
    }
}

impl Queue {
    /// [`Queue::submit_sends`] of a standard queue. Nothing here reads or changes
    /// the delivery state, so the queue's lock is taken only to read the limits:
    /// the batch's encoding, copy and checksum, the costliest part of a send, no
    /// longer hold up the receives and deletes that wait for that lock. The append
    /// keeps the batch's messages in order; concurrent batches are ordered by the
    /// log, as before.
    pub(crate) fn submit_standard_sends(
        &self,
        requests: Vec<SendRequest>,
        now_ms: u64,
    ) -> Result<PendingSend<'_>> {
        let limits = SendLimits::of(&self.lock());
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut stored = Vec::with_capacity(requests.len());
        for request in requests {
            let outcome = self
                .build(limits, request, now_ms)
                .map(|message| keep_new(&mut stored, message));
            outcomes.push(outcome);
        }
        let append = if stored.is_empty() {
            None
        } else {
            Some(self.stage_messages(&stored)?)
        };
        // Standard queues do not deduplicate: nothing to forget on failure.
        let scope = crate::attributes::DeduplicationScope::Queue;
        Ok(PendingSend {
            queue: self,
            outcomes,
            append,
            stored,
            scope,
            told: false,
        })
    }

    /// Stages `messages` as one append, encoded into one buffer.
    pub(crate) fn stage_messages(&self, messages: &[StoredMessage]) -> Result<PendingAppend> {
        let mut encoded = Vec::with_capacity(
            messages
                .iter()
                .map(StoredMessage::encoded_len_hint)
                .sum::<usize>(),
        );
        let lens: Vec<usize> = messages
            .iter()
            .map(|message| {
                let start = encoded.len();
                message.encode_into(&mut encoded);
                encoded.len() - start
            })
            .collect();
        Ok(self
            .messages
            .submit(&split_records(&encoded, &lens, message_record))?)
    }

    /// Checks one message and builds its record (FIFO: before deduplication).
    pub(crate) fn build(
        &self,
        limits: SendLimits,
        request: SendRequest,
        now_ms: u64,
    ) -> Result<StoredMessage> {
        if request.body.is_empty() {
            return Err(Error::InvalidParameter {
                parameter: "MessageBody",
                reason: "a message body has at least 1 byte".into(),
            });
        }
        let size_bytes = message_size_bytes(&request.body, &request.attributes);
        if size_bytes > limits.max_bytes {
            return Err(Error::MessageTooLarge {
                size_bytes,
                max_bytes: limits.max_bytes,
            });
        }
        validate_parts(
            &request.attributes,
            [
                request.group_id.as_deref(),
                request.deduplication_id.as_deref(),
            ],
        )?;
        if let Some(trace) = &request.trace_header {
            if trace.is_empty() || trace.len() > crate::message::TRACE_HEADER_BYTES_MAX {
                return Err(Error::InvalidParameter {
                    parameter: "AWSTraceHeader",
                    reason: format!(
                        "{} bytes; 1 to {} are allowed",
                        trace.len(),
                        crate::message::TRACE_HEADER_BYTES_MAX
                    ),
                });
            }
        }
        check_delay(self.name.is_fifo(), &request)?;
        Ok(StoredMessage {
            message_id: MessageId::random(),
            sent_ms: now_ms,
            visible_from_ms: now_ms + 1000 * u64::from(request.delay_s.unwrap_or(limits.delay_s)),
            receive_count_base: 0,
            group_id: request.group_id,
            deduplication_id: request.deduplication_id,
            source_queue: None,
            trace_header: request.trace_header,
            body_digest: request.body_digest,
            body: request.body,
            attributes: request.attributes,
        })
    }
}

/// Keeps a new message for its append; its outcome (no sequence number yet).
pub(crate) fn keep_new(stored: &mut Vec<StoredMessage>, message: StoredMessage) -> SendOutcome {
    let outcome = SendOutcome {
        message_id: message.message_id,
        sequence_number: None,
    };
    stored.push(message);
    outcome
}

/// The records of consecutive encodings in `encoded`, of lengths `lens`: one
/// buffer for a batch instead of one allocation per record.
pub(crate) fn split_records<'a>(
    encoded: &'a [u8],
    lens: &[usize],
    record: fn(&[u8]) -> Record<'_>,
) -> Vec<Record<'a>> {
    let mut rest = encoded;
    lens.iter()
        .map(|&len| {
            let (data, after) = rest.split_at(len);
            rest = after;
            record(data)
        })
        .collect()
}

/// The delay and the FIFO-only ids of a send, for its kind of queue.
fn check_delay(fifo: bool, request: &SendRequest) -> Result<()> {
    if let Some(delay_s) = request.delay_s {
        if delay_s > 900 {
            return Err(Error::InvalidParameter {
                parameter: "DelaySeconds",
                reason: format!("{delay_s} is outside 0..=900"),
            });
        }
        if fifo {
            return Err(Error::InvalidParameter {
                parameter: "DelaySeconds",
                reason: "FIFO queues take a delay per queue only".into(),
            });
        }
    }
    if !fifo && (request.group_id.is_some() || request.deduplication_id.is_some()) {
        return Err(Error::InvalidParameter {
            parameter: "MessageGroupId",
            reason: "group and deduplication ids apply to FIFO queues only".into(),
        });
    }
    Ok(())
}

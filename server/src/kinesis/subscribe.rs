//! SubscribeToShard: the response is an event stream
//! (`application/vnd.amazon.eventstream`) that starts with an `initial-response`
//! event and then pushes `SubscribeToShardEvent`s as records arrive, until the
//! subscription's lifetime is over (a clean end of the body), the closed shard is
//! read to its end (the last event carries ChildShards), or an error (an
//! `exception` message, then the end). Works over HTTP/1.1 (chunked) and HTTP/2,
//! in the request's JSON or CBOR.
//!
//! Each subscription reads on its own thread (the engine blocks while it waits for
//! appends); the thread count is bounded by the engine's subscription limit. The
//! thread hands frames to the connection through a bounded channel, so a slow
//! client slows its own subscription only, and a client that goes away ends it.

use crate::error::ApiError;
use crate::http::{Body, Shared};
use crate::kinesis::actions::{iterator_start, StartNames};
use crate::kinesis::errors::{
    consumer_arn_not_found, starting_sequence_number_invalid, Failure, Worded,
};
use crate::kinesis::requests::SubscribeToShardInput;
use crate::kinesis::responses::{EventExceptionOut, NoOutput, SubscribeToShardEventOut};
use crate::metrics::ActionLabel;
use crate::protocol::eventstream;
use crate::protocol::value::Format;
use bytes::Bytes;
use hyper::body::Frame;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::Response;
use shardlog_engine::Subscription;
use shardlog_engine::SubscriptionBatch;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The action name.
pub const ACTION: &str = "SubscribeToShard";
/// The response's Content-Type.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";
/// Frames queued between a subscription's reader and its connection.
const FRAMES_QUEUED_MAX: usize = 8;
/// Longest one wait for records: how soon a gone client or a takeover is noticed
/// while the shard is idle (records wake the reader at once).
const WAIT_SLICE_MS: u64 = 250;
/// An event with no records is sent after this long without one, so that clients
/// and proxies see the stream alive and MillisBehindLatest stays fresh.
const IDLE_EVENT_MS: u64 = 5_000;
/// How long past the subscription's end a frame may wait for a client that stopped
/// reading; then the subscription is dropped, so a stuck client cannot hold its
/// reader and slot for ever.
const SEND_GRACE_MS: u64 = 5_000;

/// Payload bytes `batch` will take, roughly (base64 is the largest expansion), so
/// that its frame is written into one allocation.
fn size_hint(batch: &SubscriptionBatch) -> usize {
    batch
        .records
        .iter()
        .map(|r| r.data.len() / 3 * 4 + r.partition_key.len() + 160)
        .sum::<usize>()
        + 200
}

/// A response body fed by a channel of frames; it ends when the sender is dropped.
struct ChannelBody {
    frames: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.frames
            .poll_recv(cx)
            .map(|frame| frame.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// The event-stream `:content-type` of payloads in `format`.
fn payload_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json",
        Format::Cbor => "application/cbor",
    }
}

/// An event message whose payload `write_payload` serializes into a buffer of
/// `payload_bytes_hint`: the framing then takes that buffer without copying it.
fn event_frame(
    format: Format,
    event_type: &str,
    payload_bytes_hint: usize,
    write_payload: impl FnOnce(&mut Vec<u8>),
) -> Result<Bytes, eventstream::FrameError> {
    let headers = [
        (":message-type", "event"),
        (":event-type", event_type),
        (":content-type", payload_type(format)),
    ];
    let mut payload = Vec::with_capacity(payload_bytes_hint);
    write_payload(&mut payload);
    eventstream::encode(&headers, payload).map(Bytes::from)
}

fn exception_frame(format: Format, error: &ApiError) -> Result<Bytes, eventstream::FrameError> {
    // The event stream's members name the internal error (the one server-side
    // error, status 500) with the suffix.
    let code = if error.status >= 500 {
        "InternalFailureException"
    } else {
        error.code
    };
    let headers = [
        (":message-type", "exception"),
        (":exception-type", code),
        (":content-type", payload_type(format)),
    ];
    let payload = EventExceptionOut {
        message: &error.message,
    };
    eventstream::encode(&headers, format.serialize(&payload)).map(Bytes::from)
}

fn start(shared: &Shared, format: Format, body: &[u8]) -> Result<Subscription, ApiError> {
    let request = crate::protocol::validate::request(
        crate::protocol::model::kinesis(),
        ACTION,
        format,
        body,
    )?;
    let input: SubscribeToShardInput = crate::protocol::typed::read(&request)?;
    let consumer_arn = input.consumer_arn.as_str();
    // The stream named in the consumer ARN (`...:stream/<name>/consumer/...`), for
    // the message about a shard id that names no shard.
    let stream = consumer_arn
        .split_once(":stream/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(consumer_arn);
    let account = shared.config.identity.account();
    let shard = crate::kinesis::rules::shard_id(account, stream, &input.shard_id)?;
    let position = input.starting_position;
    let names = StartNames {
        kind: "Type",
        sequence: "SequenceNumber",
        timestamp: "Timestamp",
    };
    // The consumer is read before a malformed sequence number is reported, so that
    // the checks the engine makes first come first.
    let consumer = account
        .parse_consumer_arn(consumer_arn)
        .map(|parsed| parsed.id());
    let malformed = |text: &str| -> Failure {
        let consumer = match &consumer {
            Ok(Some(consumer)) => consumer,
            Ok(None) => return consumer_arn_not_found(consumer_arn).into(),
            Err(error) => return error.clone().into(),
        };
        match shared.engine.check_subscription(consumer, shard) {
            Err(error) => error.into(),
            Ok(()) => starting_sequence_number_invalid(text, stream, shard, account).into(),
        }
    };
    let start = iterator_start(
        position.kind,
        position.sequence_number,
        position.timestamp,
        &names,
        malformed,
    )
    .map_err(|failure| failure.into_api(account))?;
    let consumer = consumer?.ok_or_else(|| consumer_arn_not_found(consumer_arn))?;
    shared
        .engine
        .subscribe_to_shard(&consumer, shard, start)
        .map_err(|error| error.worded(account))
}

/// Answers a SubscribeToShard request: an error response, or the event stream.
pub(crate) async fn respond(
    shared: Arc<Shared>,
    format: Format,
    body: Bytes,
    id: &str,
    started: Instant,
) -> Response<Body> {
    let starting = Arc::clone(&shared);
    // Checking the consumer and shard takes engine locks: not on a worker thread.
    let subscription = tokio::task::spawn_blocking(move || start(&starting, format, &body))
        .await
        .unwrap_or_else(|error| Err(ApiError::internal(format!("subscribe failed: {error}"))));
    let outcome = subscription
        .as_ref()
        .map_or_else(|error| error.code, |_| "OK");
    let label = ActionLabel::of(crate::protocol::model::kinesis(), ACTION);
    shared.metrics.request(label, outcome, started.elapsed());
    let subscription = match subscription {
        Ok(subscription) => subscription,
        Err(error) => return crate::http::error_response(&error, format, id),
    };
    let (frames, receiver) = mpsc::channel(FRAMES_QUEUED_MAX);
    let initial = event_frame(format, "initial-response", 16, |out| {
        format.serialize_into(&NoOutput {}, out);
    });
    let initial = match initial {
        Ok(initial) => initial,
        Err(error) => {
            let error = ApiError::internal(format!("cannot frame the initial response: {error}"));
            return crate::http::error_response(&error, format, id);
        }
    };
    // The channel is new and empty: this cannot fail for want of room.
    let _ = frames.try_send(initial);
    let reader = Reader {
        shared: Arc::clone(&shared),
        runtime: tokio::runtime::Handle::current(),
        frames,
        format,
    };
    let spawned = std::thread::Builder::new()
        .name("shardlog-subscription".into())
        .spawn(move || reader.push_events(subscription));
    if let Err(error) = spawned {
        let error = ApiError::internal(format!("cannot start the subscription reader: {error}"));
        return crate::http::error_response(&error, format, id);
    }
    let mut response = Response::new(http_body_util::BodyExt::boxed_unsync(ChannelBody {
        frames: receiver,
    }));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(EVENT_STREAM_CONTENT_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

/// A subscription's reader thread and where it sends its frames.
struct Reader {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    frames: mpsc::Sender<Bytes>,
    format: Format,
}

impl Reader {
    /// Queues a frame, waiting at most `limit` for the client to make room.
    /// Whether it was queued.
    fn send(&self, frame: Bytes, limit: Duration) -> bool {
        // The timer is made inside the runtime's context, where it must be.
        let sending = async { tokio::time::timeout(limit, self.frames.send(frame)).await };
        matches!(self.runtime.block_on(sending), Ok(Ok(())))
    }

    /// Sends `error` as the stream's last message; a message that cannot be framed
    /// (not one of ours: their headers are short) just ends the stream.
    fn send_exception(&self, error: &ApiError, limit: Duration) {
        if let Ok(frame) = exception_frame(self.format, error) {
            self.send(frame, limit);
        }
    }

    /// Pushes events until the subscription ends, the server stops, or the client
    /// goes away (the receiver is dropped) or stops reading.
    fn push_events(self, mut subscription: Subscription) {
        let format = self.format;
        let shard = subscription.shard_id();
        let stream = subscription.stream_name().to_string();
        let mut last_event = Instant::now();
        while !self.frames.is_closed() {
            let limit = subscription.remaining() + Duration::from_millis(SEND_GRACE_MS);
            let batch = match subscription.next_batch(Duration::from_millis(WAIT_SLICE_MS)) {
                Ok(Some(batch)) => batch,
                Ok(None) => return,
                Err(error) => {
                    let error = error.worded(self.shared.config.identity.account());
                    self.send_exception(&error, limit);
                    return;
                }
            };
            let idle = last_event.elapsed() >= Duration::from_millis(IDLE_EVENT_MS);
            if batch.records.is_empty() && batch.child_shards.is_none() && !idle {
                continue;
            }
            let bytes: usize = batch.records.iter().map(|r| r.data.len()).sum();
            self.shared.metrics.outgoing(
                &stream,
                shard,
                batch.records.len() as u64,
                bytes as u64,
                batch.millis_behind_latest,
            );
            let frame = event_frame(format, "SubscribeToShardEvent", size_hint(&batch), |out| {
                format.serialize_into(&SubscribeToShardEventOut::of(&batch), out);
            });
            let frame = match frame {
                Ok(frame) => frame,
                Err(error) => {
                    let error = ApiError::internal(format!("cannot frame an event: {error}"));
                    self.send_exception(&error, limit);
                    return;
                }
            };
            if !self.send(frame, limit) {
                return;
            }
            last_event = Instant::now();
        }
    }
}

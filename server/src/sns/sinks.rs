//! Where notifications go: queues of this server (through the queue's own
//! durable send), delivery streams of this server, and HTTP(S) endpoints. One
//! [`shardlog_topic::Sink`] for all, chosen by the subscription's protocol.

use super::envelope::{self, Signing};
use super::signing::LazySigner;
use super::Names;
use shardlog_topic::TopicAttributes;
use shardlog_topic::{AttributeValue, Delivery, Failure, Protocol, Published, SubscriptionRecord};
use std::sync::Arc;
use std::time::Duration;

/// The delivery policy this server applies to HTTP(S) endpoints (AWS's default).
pub(super) const EFFECTIVE_DELIVERY_POLICY: &str = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#;

/// The content type of HTTP(S) deliveries unless a DeliveryPolicy's
/// `requestPolicy.headerContentType` says otherwise.
const TEXT_PLAIN: &str = "text/plain; charset=UTF-8";

/// How long one HTTP(S) delivery may take, as SNS (15 s).
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The server's sink.
pub(crate) struct Sinks {
    names: Names,
    signer: LazySigner,
    sqs: Option<crate::sqs::Sqs>,
    firehose: Option<shardlog_firehose::Firehose>,
    http: ureq::Agent,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks").finish_non_exhaustive()
    }
}

fn refused(reason: impl Into<String>, retryable: bool) -> Failure {
    Failure {
        reason: reason.into(),
        retryable,
    }
}

/// The protocol's name in the API (and in a MessageStructure JSON).
pub(super) fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Sqs => "sqs",
        Protocol::Firehose => "firehose",
        Protocol::Http => "http",
        Protocol::Https => "https",
    }
}

/// Whether the subscription asked for the message alone, without the envelope.
pub(super) fn is_raw(subscription: &SubscriptionRecord) -> bool {
    subscription
        .attributes
        .get("RawMessageDelivery")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

impl Sinks {
    pub(super) fn new(
        names: Names,
        signer: LazySigner,
        sqs: Option<crate::sqs::Sqs>,
        firehose: Option<shardlog_firehose::Firehose>,
    ) -> Sinks {
        let http = ureq::Agent::config_builder()
            .timeout_global(Some(HTTP_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Sinks {
            names,
            signer,
            sqs,
            firehose,
            http,
        }
    }

    /// Opens or makes the signing key on a thread of its own, unless it is ready
    /// or under way: making one takes 0.1 to 0.6 s on this project's machine,
    /// which the first signed notification would wait for, and every delivery
    /// of its topic behind it. Called once a topic exists.
    pub(super) fn prepare_signer(self: &Arc<Self>) {
        if !self.signer.claim_preparation() {
            return;
        }
        let sinks = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("sns-signing-key".into())
            .spawn(move || {
                if let Err(error) = sinks.signer.get() {
                    tracing::error!(%error, "the SNS signing key is not usable: signed notifications fail");
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start a thread for the SNS signing key; it is made at its first use");
        }
    }

    /// [`Sinks::signing`] if the signing key is open already: `None` while it is
    /// being made (or could not be), for work that need not wait for it.
    pub(super) fn signing_if_ready(&self, attributes: &TopicAttributes) -> Option<Signing<'_>> {
        Some(Signing {
            signer: self.signer.ready()?,
            version: envelope::signature_version(attributes),
        })
    }

    /// How documents of a topic with `attributes` are signed.
    pub(super) fn signing(&self, attributes: &TopicAttributes) -> Result<Signing<'_>, String> {
        Ok(Signing {
            signer: self.signer.get()?,
            version: envelope::signature_version(attributes),
        })
    }

    /// The signing certificate (PEM), served at the SigningCertURL.
    pub(super) fn certificate_pem(&self) -> Result<&str, String> {
        Ok(self.signer.get()?.certificate_pem())
    }

    fn subscription_arn(&self, delivery: &Delivery<'_>) -> String {
        self.names
            .subscription_arn(delivery.topic.as_str(), delivery.subscription.id.as_str())
    }

    /// The body a destination gets: the message itself, or the notification document.
    fn body(&self, delivery: &Delivery<'_>) -> Result<String, Failure> {
        let protocol = protocol_name(delivery.subscription.endpoint.protocol);
        if is_raw(delivery.subscription) {
            return Ok(delivery.message.message_for(protocol));
        }
        let sequence = delivery.topic.is_fifo().then_some(delivery.position);
        let signing = self
            .signing(delivery.topic_attributes)
            .map_err(|reason| refused(reason, true))?;
        envelope::notification(
            &self.names,
            &signing,
            delivery.topic.as_str(),
            &self.subscription_arn(delivery),
            protocol,
            delivery.message,
            sequence,
        )
        .map_err(|reason| refused(reason, true))
    }

    /// The queue of this server that `arn` names.
    fn queue_of(&self, arn: &str) -> Result<std::sync::Arc<shardlog_queue::Queue>, Failure> {
        let sqs = self
            .sqs
            .as_ref()
            .ok_or_else(|| refused("SQS is not enabled on this server", false))?;
        let name = self
            .names
            .queue_of_arn(arn)
            .ok_or_else(|| refused(format!("{arn} is not a queue of this server"), false))?;
        sqs.queues()
            .queue(name)
            .map_err(|error| refused(error.to_string(), false))
    }

    /// What `delivery` sends to `queue`; raw deliveries carry the message
    /// attributes as queue message attributes.
    fn queue_request(
        &self,
        queue: &shardlog_queue::Queue,
        delivery: &Delivery<'_>,
        raw: bool,
    ) -> Result<shardlog_queue::SendRequest, Failure> {
        let message = delivery.message;
        let protocol = protocol_name(delivery.subscription.endpoint.protocol);
        let fifo = queue.name().is_fifo();
        Ok(shardlog_queue::SendRequest {
            body: if raw {
                message.message_for(protocol).into_bytes()
            } else {
                self.body(delivery)?.into_bytes()
            },
            attributes: if raw {
                queue_attributes(message)
            } else {
                Default::default()
            },
            delay_s: None,
            group_id: fifo.then(|| message.group_id.clone()).flatten(),
            deduplication_id: fifo.then(|| message.deduplication_id.clone()).flatten(),
            trace_header: None,
            // Not taken: a delivery's answer carries no digest, and a receive takes it.
            body_digest: None,
        })
    }

    /// Sends to the queue of this server that `arn` names.
    fn to_queue(&self, arn: &str, delivery: &Delivery<'_>, raw: bool) -> Result<(), Failure> {
        self.to_queue_batch(arn, std::slice::from_ref(delivery), raw)
            .pop()
            .expect("one outcome for one delivery")
    }

    /// Sends `deliveries` to the queue `arn` names in one append, so one commit
    /// round makes them all durable. Outcomes as [`shardlog_topic::Sink::deliver_batch`]
    /// asks: a failure of the whole append is retryable and answers for the first
    /// delivery alone (the worker retries it, then the rest).
    fn to_queue_batch(
        &self,
        arn: &str,
        deliveries: &[Delivery<'_>],
        raw: bool,
    ) -> Vec<Result<(), Failure>> {
        let queue = match self.queue_of(arn) {
            Ok(queue) => queue,
            Err(failure) => return vec![Err(failure); deliveries.len()],
        };
        let made = self.queue_requests(&queue, deliveries, raw);
        QueueSend::submit(&queue, made).outcomes()
    }

    /// [`Sinks::to_queue_batch`] for the batches of several queue subscriptions:
    /// every append is staged before any is waited for, so that one commit round
    /// makes them all durable (batches of other protocols are delivered as
    /// they come).
    fn to_queues(&self, batches: &[&[Delivery<'_>]]) -> Vec<Vec<Result<(), Failure>>> {
        let queues: Vec<Option<Result<std::sync::Arc<shardlog_queue::Queue>, Failure>>> = batches
            .iter()
            .map(|deliveries| {
                let subscription = deliveries.first()?.subscription;
                (subscription.endpoint.protocol == Protocol::Sqs)
                    .then(|| self.queue_of(&subscription.endpoint.address))
            })
            .collect();
        // Bodies first, then the appends one right after the other: the writer
        // takes what is staged when it wakes, so staging close together puts
        // the appends in one round.
        let made: Vec<Result<QueueRequests, Vec<Result<(), Failure>>>> = batches
            .iter()
            .zip(&queues)
            .map(|(deliveries, queue)| match queue {
                Some(Ok(queue)) => {
                    let raw = is_raw(deliveries[0].subscription);
                    Ok(self.queue_requests(queue, deliveries, raw))
                }
                Some(Err(failure)) => Err(vec![Err(failure.clone()); deliveries.len()]),
                None => Err(shardlog_topic::Sink::deliver_batch(self, deliveries)),
            })
            .collect();
        let mut sends: Vec<QueueSend<'_>> = made
            .into_iter()
            .zip(&queues)
            .map(|(made, queue)| match (made, queue) {
                (Ok(made), Some(Ok(queue))) => QueueSend::submit(queue, made),
                (Err(outcomes), _) => QueueSend::Answered(outcomes),
                (Ok(_), _) => unreachable!("requests are made only for a queue found"),
            })
            .collect();
        // The last staged first: rounds are written and acknowledged in the order
        // their appends were staged, so once it is readable (acknowledged), the
        // others are too, and this thread is woken once rather than once per
        // queue. Each queue's receivers learn of its messages once they are
        // written, while the round syncs.
        sends.iter_mut().rev().for_each(QueueSend::wait_readable);
        let mut outcomes: Vec<Vec<Result<(), Failure>>> =
            sends.into_iter().rev().map(QueueSend::outcomes).collect();
        outcomes.reverse();
        outcomes
    }

    /// The requests of a prefix of `deliveries` to `queue`: a message whose body
    /// cannot be made (no signing key yet) ends the batch there, since nothing
    /// behind it may go ahead of it.
    fn queue_requests(
        &self,
        queue: &shardlog_queue::Queue,
        deliveries: &[Delivery<'_>],
        raw: bool,
    ) -> QueueRequests {
        let mut requests = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match self.queue_request(queue, delivery, raw) {
                Ok(request) => requests.push(request),
                Err(failure) => {
                    return QueueRequests {
                        requests,
                        unmade: Some(failure),
                    }
                }
            }
        }
        QueueRequests {
            requests,
            unmade: None,
        }
    }

    fn to_firehose(&self, delivery: &Delivery<'_>) -> Result<(), Failure> {
        self.to_firehose_batch(std::slice::from_ref(delivery))
            .pop()
            .expect("one outcome for one delivery")
    }

    /// Puts a prefix of `deliveries` (what fits one PutRecordBatch) into the
    /// delivery stream of this server their subscription names, as one staged
    /// append. Outcomes as [`shardlog_topic::Sink::deliver_batch`] asks: the put is
    /// all or nothing, so a retryable failure answers for the first delivery alone,
    /// and a batch refused for what one record is (too large) is put one at a
    /// time to find out which.
    fn to_firehose_batch(&self, deliveries: &[Delivery<'_>]) -> Vec<Result<(), Failure>> {
        let Some(first) = deliveries.first() else {
            return Vec::new();
        };
        let firehose = match self.firehose.as_ref() {
            Some(firehose) => firehose,
            None => {
                let failure = refused("Firehose is not enabled on this server", false);
                return vec![Err(failure); deliveries.len()];
            }
        };
        let arn = &first.subscription.endpoint.address;
        let Some(name) = self.names.delivery_stream_of_arn(arn) else {
            let failure = refused(
                format!("{arn} is not a delivery stream of this server"),
                false,
            );
            return vec![Err(failure); deliveries.len()];
        };
        let (records, unmade) = self.firehose_records(deliveries);
        let mut outcomes = Vec::with_capacity(records.len() + 1);
        if !records.is_empty() {
            let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            match firehose.put_records(name, &slices) {
                Ok(_) => outcomes.extend(records.iter().map(|_| Ok(()))),
                Err(error @ shardlog_firehose::Error::Unavailable(_))
                | Err(error @ shardlog_firehose::Error::Segment(_)) => {
                    return vec![Err(refused(error.to_string(), true))];
                }
                Err(error) if records.len() == 1 => {
                    return vec![Err(refused(error.to_string(), false))];
                }
                Err(_) => {
                    return shardlog_topic::deliver_each(self, &deliveries[..records.len()]);
                }
            }
        }
        outcomes.extend(unmade.map(Err));
        outcomes
    }

    /// The records (newline-terminated notifications, so that records stay apart
    /// in the objects Firehose writes) of the prefix of `deliveries` that fits one
    /// PutRecordBatch, and why the record after them could not be made, if that
    /// is what ended the prefix (nothing behind it may go ahead of it).
    fn firehose_records(&self, deliveries: &[Delivery<'_>]) -> (Vec<Vec<u8>>, Option<Failure>) {
        let mut records: Vec<Vec<u8>> = Vec::new();
        let mut bytes = 0;
        for delivery in deliveries
            .iter()
            .take(shardlog_firehose::service::BATCH_RECORDS_MAX)
        {
            let mut record = match self.body(delivery) {
                Ok(body) => body.into_bytes(),
                Err(failure) => return (records, Some(failure)),
            };
            record.push(b'\n');
            bytes += record.len();
            // A record too large on its own still goes first, alone: the put
            // refuses it and the worker settles it.
            if !records.is_empty() && bytes > shardlog_firehose::service::BATCH_BYTES_MAX {
                break;
            }
            records.push(record);
        }
        (records, None)
    }

    fn to_endpoint(&self, delivery: &Delivery<'_>) -> Result<(), Failure> {
        let url = &delivery.subscription.endpoint.address;
        let raw = is_raw(delivery.subscription);
        let content_type = delivery
            .endpoint_policy()
            .header_content_type
            .unwrap_or_else(|| TEXT_PLAIN.to_string());
        let mut request = self
            .http
            .post(url)
            .header("x-amz-sns-message-type", "Notification")
            .header("x-amz-sns-message-id", &delivery.message.message_id)
            .header(
                "x-amz-sns-topic-arn",
                self.names.topic_arn(delivery.topic.as_str()),
            )
            .header(
                "x-amz-sns-subscription-arn",
                self.subscription_arn(delivery),
            )
            .header("content-type", content_type)
            .header("user-agent", "Amazon Simple Notification Service Agent");
        if raw {
            request = request.header("x-amz-sns-rawdelivery", "true");
        }
        match request.send(self.body(delivery)?.as_bytes()) {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(refused(
                format!("{url} answered {}", response.status()),
                true,
            )),
            Err(error) => Err(refused(format!("{url}: {error}"), true)),
        }
    }

    /// POSTs a SubscriptionConfirmation or UnsubscribeConfirmation to an endpoint.
    pub(super) fn post_confirmation(
        &self,
        url: &str,
        kind: &str,
        topic: &str,
        subscription_arn: &str,
        document: String,
    ) -> Result<(), String> {
        let response = self
            .http
            .post(url)
            .header("x-amz-sns-message-type", kind)
            .header("x-amz-sns-topic-arn", self.names.topic_arn(topic))
            .header("x-amz-sns-subscription-arn", subscription_arn)
            .header("content-type", TEXT_PLAIN)
            .header("user-agent", "Amazon Simple Notification Service Agent")
            .send(document.as_bytes())
            .map_err(|error| error.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{url} answered {}", response.status()))
        }
    }
}

/// A message's attributes as queue message attributes (same names, types, values).
fn queue_attributes(message: &Published) -> shardlog_queue::MessageAttributes {
    message
        .attributes
        .iter()
        .map(|(name, attribute)| {
            let value = match &attribute.value {
                AttributeValue::String(text) => {
                    shardlog_queue::AttributeValue::String(text.clone())
                }
                AttributeValue::Binary(bytes) => {
                    shardlog_queue::AttributeValue::Binary(bytes.clone())
                }
            };
            let attribute = shardlog_queue::MessageAttribute {
                data_type: attribute.data_type.clone(),
                value,
            };
            (name.clone(), attribute)
        })
        .collect()
}

/// The dead-letter queue ARN of a subscription's RedrivePolicy, if it has one.
pub(super) fn dead_letter_arn(subscription: &SubscriptionRecord) -> Option<String> {
    let policy = subscription.attributes.get("RedrivePolicy")?;
    let policy: serde_json::Value = serde_json::from_str(policy).ok()?;
    policy["deadLetterTargetArn"].as_str().map(str::to_string)
}

impl shardlog_topic::Sink for Sinks {
    fn deliver_batch(&self, deliveries: &[Delivery<'_>]) -> Vec<Result<(), Failure>> {
        match deliveries.first().map(|first| first.subscription) {
            Some(subscription) if subscription.endpoint.protocol == Protocol::Sqs => self
                .to_queue_batch(
                    &subscription.endpoint.address,
                    deliveries,
                    is_raw(subscription),
                ),
            Some(subscription) if subscription.endpoint.protocol == Protocol::Firehose => {
                self.to_firehose_batch(deliveries)
            }
            _ => shardlog_topic::deliver_each(self, deliveries),
        }
    }

    fn deliver_batches(&self, batches: &[&[Delivery<'_>]]) -> Vec<Vec<Result<(), Failure>>> {
        self.to_queues(batches)
    }

    fn deliver(&self, delivery: &Delivery<'_>) -> Result<(), Failure> {
        let subscription = delivery.subscription;
        match subscription.endpoint.protocol {
            Protocol::Sqs => self.to_queue(
                &subscription.endpoint.address,
                delivery,
                is_raw(subscription),
            ),
            Protocol::Firehose => self.to_firehose(delivery),
            Protocol::Http | Protocol::Https => self.to_endpoint(delivery),
        }
    }

    fn dead_letter(&self, delivery: &Delivery<'_>, failure: &Failure) -> Result<(), Failure> {
        let Some(arn) = dead_letter_arn(delivery.subscription) else {
            tracing::warn!(topic = %delivery.topic, subscription = %delivery.subscription.id,
                reason = %failure.reason, "undeliverable message dropped (no dead-letter queue)");
            return Ok(());
        };
        self.to_queue(&arn, delivery, is_raw(delivery.subscription))
    }
}

/// The requests made of a batch of deliveries to one queue.
struct QueueRequests {
    requests: Vec<shardlog_queue::SendRequest>,
    /// Why the request after them could not be made, if that ended them.
    unmade: Option<Failure>,
}

/// A batch of deliveries to one queue: staged and not yet durable, or answered.
enum QueueSend<'q> {
    Staged {
        pending: shardlog_queue::PendingSend<'q>,
        count: usize,
        unmade: Option<Failure>,
    },
    Answered(Vec<Result<(), Failure>>),
}

impl<'q> QueueSend<'q> {
    /// Stages `made` as one append to `queue`.
    fn submit(queue: &'q shardlog_queue::Queue, made: QueueRequests) -> QueueSend<'q> {
        let QueueRequests { requests, unmade } = made;
        let count = requests.len();
        if count == 0 {
            return QueueSend::Answered(unmade.map(Err).into_iter().collect());
        }
        match queue.submit_sends(requests) {
            Ok(pending) => QueueSend::Staged {
                pending,
                count,
                unmade,
            },
            Err(error) => QueueSend::Answered(send_outcomes(Err(error), count, unmade)),
        }
    }

    /// Waits until the append is readable and wakes the queue's long polls.
    fn wait_readable(&mut self) {
        if let QueueSend::Staged { pending, .. } = self {
            pending.wait_readable();
        }
    }

    /// Waits until the append is durable; then the outcomes, as
    /// [`shardlog_topic::Sink::deliver_batch`] asks.
    fn outcomes(self) -> Vec<Result<(), Failure>> {
        match self {
            QueueSend::Staged {
                pending,
                count,
                unmade,
            } => send_outcomes(pending.wait(), count, unmade),
            QueueSend::Answered(outcomes) => outcomes,
        }
    }
}

/// The outcomes of `count` staged sends whose append ended with `sent`, then
/// `unmade` (the request after them that could not be made). A failure of the
/// whole append is retryable and answers for the first delivery alone.
fn send_outcomes(
    sent: shardlog_queue::Result<Vec<shardlog_queue::Result<shardlog_queue::SendOutcome>>>,
    count: usize,
    unmade: Option<Failure>,
) -> Vec<Result<(), Failure>> {
    let mut outcomes = Vec::with_capacity(count + 1);
    match sent {
        Ok(sent) => outcomes.extend(sent.into_iter().map(|outcome| {
            // An entry fails alone only for what it is (too large, a bad
            // attribute): trying it again cannot help.
            outcome.map(drop).map_err(|e| refused(e.to_string(), false))
        })),
        Err(error @ shardlog_queue::Error::Storage(_)) => {
            return vec![Err(refused(error.to_string(), true))];
        }
        Err(error) => outcomes.extend(vec![Err(refused(error.to_string(), false)); count]),
    }
    outcomes.extend(unmade.map(Err));
    outcomes
}

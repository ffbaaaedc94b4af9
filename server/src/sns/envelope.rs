//! The JSON documents SNS sends: Notification, SubscriptionConfirmation and
//! UnsubscribeConfirmation, with AWS's field names and order.
//!
//! Each document is signed as AWS signs it (SignatureVersion, Signature,
//! SigningCertURL): [`signature_fields`] is the one place that happens.

use super::signing::{canonical_string, SignatureVersion, Signer};
use super::Names;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use shardlog_topic::{AttributeValue, Published};
use std::fmt::Write as _;

/// `2026-11-22T03:00:00.000Z`.
pub(super) fn iso_time(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || "1970-01-01T00:00:00.000Z".to_string(),
        |time| time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    )
}

/// Writes `"key":value` pairs in order as one JSON object.
fn object(fields: &[(&str, serde_json::Value)]) -> String {
    let mut out = String::from("{");
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:{}", serde_json::Value::from(*key), value);
    }
    out.push('}');
    out
}

/// The path the signing certificate is served at (its `SigningCertURL`).
pub(super) const CERTIFICATE_PATH: &str = "/SimpleNotificationService-shardlog.pem";

/// How a topic's documents are signed.
pub(super) struct Signing<'a> {
    pub signer: &'a Signer,
    pub version: SignatureVersion,
}

impl Signing<'_> {
    /// SignatureVersion, Signature and SigningCertURL of a document with `fields`.
    fn fields(
        &self,
        names: &Names,
        fields: &[(&str, serde_json::Value)],
    ) -> Result<Vec<(&'static str, serde_json::Value)>, String> {
        let texts: Vec<(&str, &str)> = fields
            .iter()
            .filter_map(|(name, value)| Some((*name, value.as_str()?)))
            .collect();
        let signature = self.signer.sign(&canonical_string(&texts), self.version)?;
        Ok(vec![
            ("SignatureVersion", self.version.as_str().into()),
            ("Signature", signature.into()),
            (
                "SigningCertURL",
                format!("{}{CERTIFICATE_PATH}", names.public_url).into(),
            ),
        ])
    }
}

/// The signature version a topic asks for (its `SignatureVersion`, default 1).
pub(super) fn signature_version(attributes: &shardlog_topic::TopicAttributes) -> SignatureVersion {
    match attributes.kept.get("SignatureVersion").map(String::as_str) {
        Some("2") => SignatureVersion::V2,
        _ => SignatureVersion::V1,
    }
}

/// `http://host/?Action=Unsubscribe&SubscriptionArn=...`.
pub(super) fn unsubscribe_url(names: &Names, subscription_arn: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "Unsubscribe")
        .append_pair("SubscriptionArn", subscription_arn)
        .finish();
    format!("{}/?{query}", names.public_url)
}

/// `http://host/?Action=ConfirmSubscription&TopicArn=...&Token=...`.
pub(super) fn subscribe_url(names: &Names, topic_arn: &str, token: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "ConfirmSubscription")
        .append_pair("TopicArn", topic_arn)
        .append_pair("Token", token)
        .finish();
    format!("{}/?{query}", names.public_url)
}

/// The message attributes as a notification carries them:
/// `{"name": {"Type": "String", "Value": "..."}}` (binary values in base64).
fn attributes_json(message: &Published) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = message
        .attributes
        .iter()
        .map(|(name, attribute)| {
            let value = match &attribute.value {
                AttributeValue::String(text) => text.clone(),
                AttributeValue::Binary(bytes) => STANDARD.encode(bytes),
            };
            (
                name.clone(),
                serde_json::json!({"Type": attribute.data_type, "Value": value}),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

/// The fields of a Notification document that its signature covers, in order.
fn signed_notification_fields(
    names: &Names,
    topic: &str,
    protocol: &str,
    message: &Published,
    sequence_number: Option<u64>,
) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::Value as J;
    let mut fields: Vec<(&str, J)> = vec![
        ("Type", J::from("Notification")),
        ("MessageId", J::from(message.message_id.as_str())),
    ];
    if let Some(sequence) = sequence_number {
        fields.push(("SequenceNumber", J::from(format!("{sequence:020}"))));
    }
    fields.push(("TopicArn", J::from(names.topic_arn(topic))));
    if let Some(subject) = &message.subject {
        fields.push(("Subject", J::from(subject.as_str())));
    }
    fields.push(("Message", J::from(message.message_for(protocol))));
    fields.push(("Timestamp", J::from(iso_time(message.published_ms))));
    fields
}

/// Signs the Notification of `message` to a subscription of `protocol` on
/// standard topic `topic` ahead of its delivery: the signer keeps the signature,
/// and [`notification`] finds it there.
pub(super) fn sign_notification(
    names: &Names,
    signing: &Signing<'_>,
    topic: &str,
    protocol: &str,
    message: &Published,
) -> Result<(), String> {
    let fields = signed_notification_fields(names, topic, protocol, message, None);
    signing.fields(names, &fields).map(drop)
}

/// The Notification document for `message` on `topic` to `subscription_arn`;
/// `sequence_number` for FIFO topics.
pub(super) fn notification(
    names: &Names,
    signing: &Signing<'_>,
    topic: &str,
    subscription_arn: &str,
    protocol: &str,
    message: &Published,
    sequence_number: Option<u64>,
) -> Result<String, String> {
    use serde_json::Value as J;
    let mut fields = signed_notification_fields(names, topic, protocol, message, sequence_number);
    let signature = signing.fields(names, &fields)?;
    fields.extend(signature);
    fields.push((
        "UnsubscribeURL",
        J::from(unsubscribe_url(names, subscription_arn)),
    ));
    if !message.attributes.is_empty() {
        fields.push(("MessageAttributes", attributes_json(message)));
    }
    Ok(object(&fields))
}

/// A SubscriptionConfirmation or UnsubscribeConfirmation document.
pub(super) fn confirmation(
    names: &Names,
    signing: &Signing<'_>,
    kind: &str,
    topic: &str,
    token: &str,
    now_ms: u64,
) -> Result<String, String> {
    use serde_json::Value as J;
    let topic_arn = names.topic_arn(topic);
    let message = if kind == "SubscriptionConfirmation" {
        format!("You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.")
    } else {
        format!("You have chosen to deactivate subscription to the topic {topic_arn}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.")
    };
    let mut fields: Vec<(&str, J)> = vec![
        ("Type", J::from(kind)),
        ("MessageId", J::from(uuid::Uuid::new_v4().to_string())),
        ("Token", J::from(token)),
        ("TopicArn", J::from(topic_arn.as_str())),
        ("Message", J::from(message)),
        (
            "SubscribeURL",
            J::from(subscribe_url(names, &topic_arn, token)),
        ),
        ("Timestamp", J::from(iso_time(now_ms))),
    ];
    let signature = signing.fields(names, &fields)?;
    fields.extend(signature);
    Ok(object(&fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardlog_topic::MessageAttribute;

    fn names() -> Names {
        Names {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            public_url: "http://127.0.0.1:4566".into(),
        }
    }

    /// A notification has AWS's fields in AWS's order, attributes as Type/Value.
    #[test]
    fn notification_fields_in_order() {
        let message = Published {
            message_id: "m-1".into(),
            published_ms: 1_700_000_000_123,
            subject: Some("s".into()),
            message: "hello \"you\"".into(),
            attributes: [(
                "b".to_string(),
                MessageAttribute {
                    data_type: "Binary".into(),
                    value: AttributeValue::Binary(vec![0, 1, 2]),
                },
            )]
            .into(),
            group_id: None,
            deduplication_id: None,
            structure_json: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::open_or_create(&shardlog_segment::io::RealFs, dir.path()).unwrap();
        let signing = Signing {
            signer: &signer,
            version: SignatureVersion::V2,
        };
        let text = notification(
            &names(),
            &signing,
            "t",
            "arn:aws:sns:us-east-1:000000000000:t:x",
            "sqs",
            &message,
            None,
        )
        .unwrap();
        let keys: Vec<&str> = [
            "\"Type\"",
            "\"MessageId\"",
            "\"TopicArn\"",
            "\"Subject\"",
            "\"Message\"",
            "\"Timestamp\"",
            "\"SignatureVersion\"",
            "\"Signature\"",
            "\"SigningCertURL\"",
            "\"UnsubscribeURL\"",
            "\"MessageAttributes\"",
        ]
        .into_iter()
        .collect();
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["Message"], "hello \"you\"");
        assert_eq!(parsed["Timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(parsed["MessageAttributes"]["b"]["Value"], "AAEC");
        assert_eq!(parsed["SignatureVersion"], "2");
        assert_eq!(
            parsed["SigningCertURL"],
            format!("http://127.0.0.1:4566{CERTIFICATE_PATH}")
        );
        assert!(parsed["UnsubscribeURL"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:4566/?Action=Unsubscribe&SubscriptionArn=arn%3Aaws"));
    }

    fn plain(id: &str, text: &str) -> Published {
        Published {
            message_id: id.into(),
            published_ms: 1_700_000_000_123,
            subject: None,
            message: text.into(),
            attributes: Default::default(),
            group_id: None,
            deduplication_id: None,
            structure_json: false,
        }
    }

    /// The signing key is made ahead of the first signed notification once a
    /// topic exists (making one takes 0.1 to 0.6 s, which that notification and
    /// every delivery behind it would wait for): after CreateTopic, and when a
    /// data directory with topics opens. A server without topics makes none.
    #[test]
    fn the_signing_key_is_made_once_a_topic_exists() {
        use crate::protocol::value::Value;
        let dir = tempfile::tempdir().unwrap();
        let signing = dir.path().join("sns-signing");
        let key = signing.join("sns-signing-key.pem");
        // Written after the key: once it is there, nothing more is written.
        let certificate = signing.join("sns-signing-cert.pem");
        let open = || {
            let config = shardlog_segment::StorageConfig::default();
            let fs = shardlog_segment::io::RealFs::shared();
            let storage = shardlog_segment::Storage::open(fs, config).unwrap();
            let names = ("us-east-1", "000000000000", "http://127.0.0.1:1");
            let topics = dir.path().join("topics");
            let sns = super::super::Sns::open(storage.clone(), &topics, names, None, None);
            (storage, sns.unwrap())
        };
        let made = || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !certificate.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            key.exists() && certificate.exists()
        };
        let (storage, sns) = open();
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!key.exists(), "no topic, no key");
        let name = [("Name".to_string(), Value::Text("t".into()))];
        super::super::dispatch(&sns, "CreateTopic", &Value::Map(name.into()), false).unwrap();
        assert!(made(), "CreateTopic makes the key");
        sns.shutdown().unwrap();
        storage.shutdown().unwrap();

        std::fs::remove_dir_all(&signing).unwrap();
        let (storage, sns) = open();
        assert!(made(), "opening a directory with a topic makes the key");
        sns.shutdown().unwrap();
        storage.shutdown().unwrap();
    }

    /// A publish signs ahead what its enveloped deliveries will need: one
    /// signature per message whatever the number of subscriptions, none for raw
    /// deliveries, none for a message that no enveloped subscription's filter
    /// policy passes, and nothing while the signing key is not made yet.
    #[test]
    fn a_publish_signs_ahead_what_its_deliveries_need() {
        use shardlog_topic::{Endpoint, FilterSpec, Protocol, SubscriptionRecord, TopicName};
        let dir = tempfile::tempdir().unwrap();
        let config = shardlog_segment::StorageConfig::default();
        let storage =
            shardlog_segment::Storage::open(shardlog_segment::io::RealFs::shared(), config)
                .unwrap();
        let names = ("us-east-1", "000000000000", "http://127.0.0.1:1");
        let sns = super::super::Sns::open(
            storage.clone(),
            &dir.path().join("topics"),
            names,
            None,
            None,
        )
        .unwrap();
        let topics = sns.topics();
        for name in ["t", "f", "r"] {
            let name = TopicName::new(name).unwrap();
            topics
                .create_topic(&name, Default::default(), Default::default())
                .unwrap();
        }
        let queue = |name: &str| Endpoint {
            protocol: Protocol::Sqs,
            address: format!("arn:aws:sqs:us-east-1:000000000000:{name}"),
        };
        let raw = |record: &mut SubscriptionRecord| {
            let raw = ("RawMessageDelivery".to_string(), "true".to_string());
            record.attributes.extend([raw]);
            Ok(())
        };
        let computed = || {
            sns.sinks()
                .signing(&Default::default())
                .unwrap()
                .signer
                .computed()
        };
        let t = topics.topic("t").unwrap();
        for name in ["a", "b", "c"] {
            topics.subscribe("t", queue(name), |_| Ok(())).unwrap();
        }
        // The key not made yet (topics made here, not by CreateTopic): a
        // publish does not wait for it, its deliveries will.
        sns.presign(&t, &[plain("m-0", "zero")]);
        let key = dir.path().join("sns-signing").join("sns-signing-key.pem");
        assert!(!key.exists());
        assert_eq!(computed(), 0, "nothing was signed ahead without the key");
        topics.subscribe("t", queue("raw"), raw).unwrap();
        let r = topics.topic("r").unwrap();
        topics.subscribe("r", queue("raw-only"), raw).unwrap();
        sns.presign(&r, &[plain("m-1", "one")]);
        assert_eq!(computed(), 0, "raw deliveries are not signed");
        sns.presign(&t, &[plain("m-1", "one"), plain("m-2", "two")]);
        assert_eq!(computed(), 2, "one signature a message");

        let f = topics.topic("f").unwrap();
        let only_two = |record: &mut SubscriptionRecord| {
            record.filter = Some(FilterSpec {
                policy: r#"{"n": ["two"]}"#.into(),
                body_scope: true,
            });
            Ok(())
        };
        topics.subscribe("f", queue("filtered"), only_two).unwrap();
        sns.presign(&f, &[plain("m-3", r#"{"n": "one"}"#)]);
        assert_eq!(computed(), 2, "a message no filter passes");
        sns.presign(&f, &[plain("m-4", r#"{"n": "two"}"#)]);
        assert_eq!(computed(), 3);
        topics.close().unwrap();
        storage.shutdown().unwrap();
    }

    /// The signature of a notification made ahead of its delivery
    /// ([`sign_notification`]) is the one its delivery uses: nothing is signed twice.
    #[test]
    fn a_notification_signed_ahead_is_not_signed_again() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::open_or_create(&shardlog_segment::io::RealFs, dir.path()).unwrap();
        let v1 = Signing {
            signer: &signer,
            version: SignatureVersion::V1,
        };
        let message = plain("m-1", "one");
        sign_notification(&names(), &v1, "t", "sqs", &message).unwrap();
        assert_eq!(signer.computed(), 1);
        let arn = "arn:aws:sns:us-east-1:000000000000:t:sub-0";
        let document = notification(&names(), &v1, "t", arn, "sqs", &message, None).unwrap();
        assert_eq!(
            signer.computed(),
            1,
            "the delivery found the signature made ahead"
        );
        let document: serde_json::Value = serde_json::from_str(&document).unwrap();
        assert_eq!(document["Signature"], fresh_signature_of_m1(dir.path()));
    }

    /// What a signer of the key in `dir` that has kept nothing signs the
    /// notification of `plain("m-1", "one")` on topic `t` with (version 1).
    fn fresh_signature_of_m1(dir: &std::path::Path) -> String {
        let canonical = canonical_string(&[
            ("Type", "Notification"),
            ("MessageId", "m-1"),
            ("TopicArn", "arn:aws:sns:us-east-1:000000000000:t"),
            ("Message", "one"),
            ("Timestamp", "2023-11-14T22:13:20.123Z"),
        ]);
        let fresh = Signer::open_or_create(&shardlog_segment::io::RealFs, dir).unwrap();
        let signature = fresh.sign(&canonical, SignatureVersion::V1).unwrap();
        assert_eq!(fresh.computed(), 1);
        signature
    }

    /// A message delivered to several subscriptions is signed once: the signed
    /// string does not name the subscription. Another message, or the same one
    /// under the other signature version, is signed anew.
    #[test]
    fn one_signature_per_message_whatever_the_subscriptions() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::open_or_create(&shardlog_segment::io::RealFs, dir.path()).unwrap();
        let signing = |version| Signing {
            signer: &signer,
            version,
        };
        let v1 = signing(SignatureVersion::V1);
        let first = plain("m-1", "one");
        let fields = |text: Result<String, String>| -> serde_json::Value {
            serde_json::from_str(&text.unwrap()).unwrap()
        };
        let documents: Vec<serde_json::Value> = (0..10)
            .map(|k| {
                let arn = format!("arn:aws:sns:us-east-1:000000000000:t:sub-{k}");
                fields(notification(&names(), &v1, "t", &arn, "sqs", &first, None))
            })
            .collect();
        assert_eq!(signer.computed(), 1);
        assert!(documents
            .iter()
            .all(|d| d["Signature"] == documents[0]["Signature"]));
        assert_ne!(
            documents[0]["UnsubscribeURL"],
            documents[1]["UnsubscribeURL"]
        );

        let arn = "arn:aws:sns:us-east-1:000000000000:t:sub-0";
        let second = fields(notification(
            &names(),
            &v1,
            "t",
            arn,
            "sqs",
            &plain("m-2", "one"),
            None,
        ));
        assert_eq!(signer.computed(), 2);
        assert_ne!(second["Signature"], documents[0]["Signature"]);
        let v2 = signing(SignatureVersion::V2);
        let again = fields(notification(&names(), &v2, "t", arn, "sqs", &first, None));
        assert_eq!(signer.computed(), 3);
        assert_ne!(again["Signature"], documents[0]["Signature"]);
        // A kept signature is the one signing again makes (PKCS#1 v1.5).
        assert_eq!(documents[0]["Signature"], fresh_signature_of_m1(dir.path()));
    }
}

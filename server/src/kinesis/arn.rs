//! Kinesis ARNs, built and read here only: the engine names a stream by its name
//! and a consumer by its [`ConsumerId`]; the server adds its region and account.
//!
//! `arn:aws:kinesis:<region>:<account>:stream/<stream>` and, for a consumer,
//! `<stream-arn>/consumer/<name>:<registration-second>`.

use crate::error::ApiError;
use crate::kinesis::errors::Account;
use shardlog_engine::ConsumerId;

/// A consumer ARN of this account and region, split into its parts (as written:
/// the registration second is read only where it matters, by SubscribeToShard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerArn<'a> {
    /// The stream's name.
    pub stream: &'a str,
    /// The consumer's name.
    pub consumer: &'a str,
    /// The text after the last `:`, the registration second when well formed.
    pub created: &'a str,
}

impl ConsumerArn<'_> {
    /// The registration the ARN names, if its second is written as this server
    /// writes it (decimal, no sign, no leading zero): only then can it be the ARN
    /// of a registered consumer.
    pub fn id(&self) -> Option<ConsumerId> {
        let created_s: u64 = self.created.parse().ok()?;
        (created_s.to_string() == self.created).then(|| ConsumerId {
            stream: self.stream.to_string(),
            consumer: self.consumer.to_string(),
            created_s,
        })
    }
}

impl<'a> Account<'a> {
    fn stream_arn_prefix(&self) -> String {
        format!("arn:aws:kinesis:{}:{}:stream/", self.region, self.id)
    }

    /// The ARN of stream `name`.
    pub fn stream_arn(&self, name: &str) -> String {
        format!("{}{name}", self.stream_arn_prefix())
    }

    /// The ARN of a registered consumer.
    pub fn consumer_arn(&self, consumer: &ConsumerId) -> String {
        format!(
            "{}/consumer/{}:{}",
            self.stream_arn(&consumer.stream),
            consumer.consumer,
            consumer.created_s
        )
    }

    /// The stream a stream ARN of this account and region names.
    pub fn stream_of_arn<'t>(&self, arn: &'t str) -> Option<&'t str> {
        arn.strip_prefix(&self.stream_arn_prefix())
            .filter(|name| !name.contains('/'))
    }

    /// The parts of a consumer ARN a client gave; one that is malformed or not of
    /// this account and region is an invalid argument, in Kinesis's words.
    pub fn parse_consumer_arn<'t>(&self, arn: &'t str) -> Result<ConsumerArn<'t>, ApiError> {
        let parts = arn
            .strip_prefix(&self.stream_arn_prefix())
            .and_then(|rest| rest.split_once("/consumer/"))
            .and_then(|(stream, rest)| Some((stream, rest.rsplit_once(':')?)));
        let (stream, (consumer, created)) = parts.ok_or_else(|| {
            ApiError::invalid_argument(format!("ConsumerARN {arn} is not valid."))
        })?;
        Ok(ConsumerArn {
            stream,
            consumer,
            created,
        })
    }
}

#[cfg(test)]
mod tests {
    //! ARNs built here read back to what built them; others are refused.
    use super::*;
    use crate::kinesis::errors::TEST_ACCOUNT;

    /// Stream and consumer ARNs round-trip; foreign, malformed and non-canonical
    /// ones do not name a registration.
    #[test]
    fn arns_round_trip() {
        let stream_arn = TEST_ACCOUNT.stream_arn("s");
        assert_eq!(
            stream_arn,
            "arn:aws:kinesis:eu-west-1:123456789012:stream/s"
        );
        assert_eq!(TEST_ACCOUNT.stream_of_arn(&stream_arn), Some("s"));
        let id = ConsumerId {
            stream: "s".into(),
            consumer: "c".into(),
            created_s: 1_700_000_000,
        };
        let arn = TEST_ACCOUNT.consumer_arn(&id);
        assert_eq!(
            arn,
            "arn:aws:kinesis:eu-west-1:123456789012:stream/s/consumer/c:1700000000"
        );
        assert_eq!(TEST_ACCOUNT.stream_of_arn(&arn), None);
        assert_eq!(
            TEST_ACCOUNT.parse_consumer_arn(&arn).unwrap().id(),
            Some(id)
        );
        let other = Account {
            id: "123456789012",
            region: "us-east-1",
        };
        let foreign = other.parse_consumer_arn(&arn).unwrap_err();
        assert_eq!(foreign.code, "InvalidArgumentException");
        assert_eq!(foreign.message, format!("ConsumerARN {arn} is not valid."));
        assert_eq!(other.stream_of_arn(&stream_arn), None);
        assert!(TEST_ACCOUNT.parse_consumer_arn(&stream_arn).is_err());
        for created in ["01700000000", "+1", "x", ""] {
            let text = format!("{stream_arn}/consumer/c:{created}");
            let parsed = TEST_ACCOUNT.parse_consumer_arn(&text).unwrap();
            assert_eq!((parsed.stream, parsed.consumer), ("s", "c"));
            assert_eq!(parsed.id(), None, "{created}");
        }
    }
}

//! The digests SQS returns with a message, which SDKs recompute and compare:
//! the MD5 of the body, and the MD5 of the message attributes in SQS's encoding.

use md5::{Digest, Md5};
use shardlog_queue::{AttributeValue, BodyDigest, MessageAttribute};

/// Hex MD5 of the body as sent: `stored`, the digest the send took, if given.
pub fn of_body(body: &[u8], stored: Option<BodyDigest>) -> String {
    let digest = stored.map_or_else(|| Md5::digest(body).into(), |digest| digest.0);
    hex(&digest)
}

/// Hex MD5 of the attributes, or `None` when there are none (SQS then leaves
/// the field out). Each attribute, in name order: the name, the data type, a
/// transport byte (1 text, 2 binary), the value; names, types and values are
/// prefixed with their length as 4 bytes big-endian. `attributes` must come in
/// name order, as a [`MessageAttributes`](shardlog_queue::MessageAttributes) map (or a filter of one) yields them.
pub fn of_attributes<'a>(
    attributes: impl IntoIterator<Item = (&'a String, &'a MessageAttribute)>,
) -> Option<String> {
    let mut attributes = attributes.into_iter().peekable();
    attributes.peek()?;
    let mut encoded = Vec::new();
    let field = |encoded: &mut Vec<u8>, bytes: &[u8]| {
        let len = u32::try_from(bytes.len()).expect("attribute fields are at most 1 MiB");
        encoded.extend_from_slice(&len.to_be_bytes());
        encoded.extend_from_slice(bytes);
    };
    for (name, attribute) in attributes {
        field(&mut encoded, name.as_bytes());
        field(&mut encoded, attribute.data_type.as_bytes());
        let (transport, value): (u8, &[u8]) = match &attribute.value {
            AttributeValue::String(text) => (1, text.as_bytes()),
            AttributeValue::Binary(bytes) => (2, bytes),
        };
        encoded.push(transport);
        field(&mut encoded, value);
    }
    Some(hex(&Md5::digest(&encoded).into()))
}

/// Lowercase hex of a 16-byte digest: one integer format, not one per byte.
fn hex(digest: &[u8; 16]) -> String {
    format!("{:032x}", u128::from_be_bytes(*digest))
}

#[cfg(test)]
mod tests {
    //! Digests against values computed independently (Python's hashlib over the
    //! same encoding, as botocore's checker builds it).
    use super::*;
    use shardlog_queue::MessageAttributes;

    /// The body digest is the plain MD5; the attribute digest follows SQS's encoding.
    #[test]
    fn digests_match_known_values() {
        assert_eq!(of_body(b"hello", None), "5d41402abc4b2a76b9719d911017c592");
        let stored = Some(BodyDigest::of(b"hello"));
        assert_eq!(
            of_body(b"hello", stored),
            "5d41402abc4b2a76b9719d911017c592"
        );
        let mut attributes = MessageAttributes::new();
        assert_eq!(of_attributes(&attributes), None);
        attributes.insert(
            "b".into(),
            MessageAttribute {
                data_type: "Binary".into(),
                value: AttributeValue::Binary(vec![0, 1, 2]),
            },
        );
        attributes.insert(
            "a".into(),
            MessageAttribute {
                data_type: "String".into(),
                value: AttributeValue::String("x".into()),
            },
        );
        assert_eq!(
            of_attributes(&attributes).unwrap(),
            "c7b075151a8e2e09ccb36b393bdb284a"
        );
    }
}

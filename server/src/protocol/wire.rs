//! Values whose wire form differs between the JSON and CBOR protocols, as types
//! that requests read and responses write: a [`Blob`] is base64 text in JSON and a
//! byte string in CBOR; a [`Timestamp`] is epoch seconds (a number) in JSON and
//! epoch milliseconds (an integer) in CBOR. Requests reach these types already
//! converted by validation (blobs as bytes, timestamps as ms); responses pick
//! their form by `Serializer::is_human_readable` (true for serde_json, false for
//! ciborium).

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// Binary data: owned in requests, borrowed or owned in responses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blob<B = Vec<u8>>(pub B);

impl<B: AsRef<[u8]>> Serialize for Blob<B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.0.as_ref();
        if serializer.is_human_readable() {
            // Written through the formatter: no base64 copy of the data.
            serializer.collect_str(&Base64Display::new(bytes, &STANDARD))
        } else {
            serializer.serialize_bytes(bytes)
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("binary data")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(bytes.to_vec()))
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

/// A request's blob borrowed from the validated request tree where the tree is
/// read by reference (the typed requests), owned where it is not.
impl<'de: 'a, 'a> Deserialize<'de> for Blob<Cow<'a, [u8]>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes<'a>(std::marker::PhantomData<&'a [u8]>);
        impl<'de: 'a, 'a> Visitor<'de> for Bytes<'a> {
            type Value = Blob<Cow<'a, [u8]>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("binary data")
            }
            fn visit_borrowed_bytes<E: de::Error>(
                self,
                bytes: &'de [u8],
            ) -> Result<Self::Value, E> {
                Ok(Blob(Cow::Borrowed(bytes)))
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
                Ok(Blob(Cow::Owned(bytes.to_vec())))
            }
            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Self::Value, E> {
                Ok(Blob(Cow::Owned(bytes)))
            }
        }
        deserializer.deserialize_bytes(Bytes(std::marker::PhantomData))
    }
}

/// A point in time, ms since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_f64(self.0 as f64 / 1000.0)
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u64::deserialize(deserializer).map(Timestamp)
    }
}

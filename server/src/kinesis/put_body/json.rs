//! The JSON reader: serde visitors over the body (serde_json), base64 decoded
//! (SIMD) straight from the body's text into the payload buffer.

use super::{Entry, Member, PutRecordsBody, Seen, ENTRY_MEMBERS, REQUEST_MEMBERS};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Reads `body` into `out`; `None` when the reader does not vouch for it.
pub(super) fn read(body: &[u8]) -> Option<PutRecordsBody<'static>> {
    let mut read = PutRecordsBody {
        // Decoded payloads are never longer than the body that carries them.
        data: Cow::Owned(Vec::with_capacity(body.len())),
        ..PutRecordsBody::default()
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Request(&mut read).deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(read)
}

/// Why the reader gave up; the general path words the error, if there is one.
fn give_up<E: de::Error>() -> E {
    E::custom("left to the general path")
}

/// A member name, as one of `known`.
struct Name(&'static [&'static str; 3]);

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Member;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Member, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Name {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
        Member::of(name.as_bytes(), self.0).ok_or_else(give_up)
    }
}

/// The request: a structure.
struct Request<'a>(&'a mut PutRecordsBody<'static>);

impl<'de> DeserializeSeed<'de> for Request<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Request<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PutRecords request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.0;
        let mut seen = Seen::default();
        while let Some(member) = map.next_key_seed(Name(&REQUEST_MEMBERS))? {
            if !seen.first(member) {
                return Err(give_up());
            }
            match member {
                Member::StreamName => out.stream.stream_name = Some(map.next_value()?),
                Member::StreamArn => out.stream.stream_arn = Some(map.next_value()?),
                _ => map.next_value_seed(Records(out))?,
            }
        }
        Ok(())
    }
}

/// The list of records.
struct Records<'a>(&'a mut PutRecordsBody<'static>);

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Record(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One record: a structure with its payload and its keys.
struct Record<'a>(&'a mut PutRecordsBody<'static>);

impl<'de> DeserializeSeed<'de> for Record<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Record<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.0;
        let mut seen = Seen::default();
        let mut entry = Entry::default();
        while let Some(member) = map.next_key_seed(Name(&ENTRY_MEMBERS))? {
            if !seen.first(member) {
                return Err(give_up());
            }
            match member {
                Member::Data => entry.data = map.next_value_seed(Base64(out.data.to_mut()))?,
                Member::PartitionKey => {
                    entry.partition_key = map.next_value_seed(Text(&mut out.keys))?;
                }
                _ => entry.explicit_hash_key = Some(map.next_value_seed(Text(&mut out.keys))?),
            }
        }
        if !seen.all_of(&[Member::Data, Member::PartitionKey]) {
            return Err(give_up());
        }
        out.entries.push(entry);
        Ok(())
    }
}

/// A blob: base64 text, decoded onto the end of the payload buffer.
struct Base64<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for Base64<'_> {
    type Value = std::ops::Range<usize>;

    /// Read as a JSON string's raw bytes (escapes undone), which serde_json
    /// hands over without checking them as UTF-8 (1.4 % of a server's profile):
    /// base64 accepts only ASCII, so the decoding refuses whatever that check
    /// would have (and anything else but a string is refused as before).
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl Visitor<'_> for Base64<'_> {
    type Value = std::ops::Range<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("base64 text")
    }

    fn visit_bytes<E: de::Error>(self, text: &[u8]) -> Result<Self::Value, E> {
        let start = self.0.len();
        // As strict as validation's decoding (the same engine), so that what it
        // refuses is refused here too, and worded there.
        base64_simd::STANDARD
            .decode_append(text, self.0)
            .map_err(|_| give_up())?;
        Ok(start..self.0.len())
    }
}

/// A string, copied onto the end of the key buffer.
struct Text<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for Text<'_> {
    type Value = std::ops::Range<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Text<'_> {
    type Value = std::ops::Range<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        let start = self.0.len();
        self.0.push_str(text);
        Ok(start..self.0.len())
    }
}

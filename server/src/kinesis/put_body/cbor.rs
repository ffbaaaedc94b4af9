//! The CBOR reader: item headers pulled one at a time (ciborium-ll); each
//! payload is a byte string of the body, borrowed where it lies (not copied).
//! Definite and indefinite maps and lists are read (the Java SDK writes
//! indefinite maps); tags, chunked strings and every other type are left to
//! the general path.

use super::{Entry, Member, PutRecordsBody, Seen, ENTRY_MEMBERS, REQUEST_MEMBERS};
use ciborium_io::Read as _;
use ciborium_ll::{Decoder, Header};
use std::borrow::Cow;
use std::ops::Range;

/// The body being read, and a decoder of what follows `base` in it.
struct Body<'a> {
    whole: &'a [u8],
    base: usize,
    decoder: Decoder<&'a [u8]>,
    /// A text's bytes until checked as UTF-8.
    scratch: Vec<u8>,
}

/// Reads `body`; `None` when the reader does not vouch for it.
pub(super) fn read(body: &[u8]) -> Option<PutRecordsBody<'_>> {
    let mut out = PutRecordsBody {
        data: Cow::Borrowed(body),
        ..PutRecordsBody::default()
    };
    let mut body = Body {
        whole: body,
        base: 0,
        decoder: Decoder::from(body),
        scratch: Vec::new(),
    };
    let mut members = Items::map(&mut body)?;
    let mut seen = Seen::default();
    while members.next(&mut body)? {
        let member = body.name(&REQUEST_MEMBERS)?;
        if !seen.first(member) {
            return None;
        }
        match member {
            Member::StreamName => out.stream.stream_name = Some(body.text()?.to_owned()),
            Member::StreamArn => out.stream.stream_arn = Some(body.text()?.to_owned()),
            _ => records(&mut body, &mut out)?,
        }
    }
    // Whatever follows the request is left to the general path to judge.
    (body.offset() == body.whole.len()).then_some(())?;
    Some(out)
}

fn records(body: &mut Body<'_>, out: &mut PutRecordsBody) -> Option<()> {
    let mut records = Items::list(body)?;
    while records.next(body)? {
        let mut fields = Items::map(body)?;
        let mut seen = Seen::default();
        let mut entry = Entry::default();
        while fields.next(body)? {
            let member = body.name(&ENTRY_MEMBERS)?;
            if !seen.first(member) {
                return None;
            }
            match member {
                Member::Data => entry.data = body.bytes()?,
                Member::PartitionKey => entry.partition_key = body.key(&mut out.keys)?,
                _ => entry.explicit_hash_key = Some(body.key(&mut out.keys)?),
            }
        }
        if !seen.all_of(&[Member::Data, Member::PartitionKey]) {
            return None;
        }
        out.entries.push(entry);
    }
    Some(())
}

/// The items of a map (pairs) or list still to read: a count, or `None` until
/// the break of an indefinite one.
struct Items(Option<usize>);

impl Items {
    fn map(body: &mut Body<'_>) -> Option<Items> {
        match body.decoder.pull().ok()? {
            Header::Map(len) => Some(Items(len)),
            _ => None,
        }
    }

    fn list(body: &mut Body<'_>) -> Option<Items> {
        match body.decoder.pull().ok()? {
            Header::Array(len) => Some(Items(len)),
            _ => None,
        }
    }

    /// Whether another item follows; `None` if the body ends first.
    fn next(&mut self, body: &mut Body<'_>) -> Option<bool> {
        match &mut self.0 {
            Some(0) => Some(false),
            Some(left) => {
                *left -= 1;
                Some(true)
            }
            None => match body.decoder.pull().ok()? {
                Header::Break => Some(false),
                header => {
                    body.decoder.push(header);
                    Some(true)
                }
            },
        }
    }
}

impl Body<'_> {
    /// A member name among `known`.
    fn name(&mut self, known: &'static [&'static str; 3]) -> Option<Member> {
        let Header::Text(Some(len)) = self.decoder.pull().ok()? else {
            return None;
        };
        let mut name = [0u8; 16];
        let name = name.get_mut(..len)?;
        self.decoder.read_exact(name).ok()?;
        Member::of(name, known)
    }

    /// A definite text string, valid UTF-8.
    fn text(&mut self) -> Option<&str> {
        let Header::Text(Some(len)) = self.decoder.pull().ok()? else {
            return None;
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let read = self.read_onto(len, &mut scratch);
        self.scratch = scratch;
        read?;
        std::str::from_utf8(&self.scratch).ok()
    }

    /// A definite text string, valid UTF-8, appended to `keys`.
    fn key(&mut self, keys: &mut String) -> Option<Range<usize>> {
        let start = keys.len();
        keys.push_str(self.text()?);
        Some(start..keys.len())
    }

    /// Where in the body the next item starts.
    fn offset(&mut self) -> usize {
        self.base + self.decoder.offset()
    }

    /// A definite byte string: where it lies in the body, skipped (not copied).
    fn bytes(&mut self) -> Option<Range<usize>> {
        let Header::Bytes(Some(len)) = self.decoder.pull().ok()? else {
            return None;
        };
        let start = self.offset();
        let end = start
            .checked_add(len)
            .filter(|end| *end <= self.whole.len())?;
        self.base = end;
        self.decoder = Decoder::from(&self.whole[end..]);
        Some(start..end)
    }

    /// Reads the `len` bytes that follow onto the end of `buffer`.
    fn read_onto(&mut self, len: usize, buffer: &mut Vec<u8>) -> Option<Range<usize>> {
        if len > self.whole.len() - self.offset() {
            return None;
        }
        let start = buffer.len();
        buffer.resize(start + len, 0);
        self.decoder.read_exact(&mut buffer[start..]).ok()?;
        Some(start..buffer.len())
    }
}

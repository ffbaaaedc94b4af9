//! Shard iterator tokens: opaque, tamper-proof, expiring strings.
//!
//! Kinesis shard iterators are opaque strings of at most 512 characters that
//! expire 5 minutes after they are issued (`ExpiredIteratorException`) and that
//! a client cannot forge or alter. A token here carries everything a read needs
//! (stream, shard, position), so the server keeps no per-iterator state; an
//! HMAC-SHA256 tag under a secret [`IteratorKey`] makes it unforgeable.
//!
//! # Format (version 1)
//!
//! The token text is `base64url_nopad(payload || tag)`:
//!
//! ```text
//! offset  width  field
//!      0      1  version        = 1
//!      1      8  stream_epoch   u64 LE (stream creation time, ms)
//!      9      4  shard_index    u32 LE
//!     13      8  position       u64 LE (next record position to read)
//!     21      8  issued_ms      u64 LE (Unix time the token was issued, ms)
//!     29      1  name_len       u8, 1..=128
//!     30      n  stream_name    ASCII [a-zA-Z0-9_.-], n = name_len
//!   30+n     16  tag            HMAC-SHA256(key, bytes 0..30+n), first 16 bytes
//! ```
//!
//! The tag covers the whole payload, version byte included. The longest token
//! (128-character name) is 174 bytes, 232 base64 characters.
//!
//! Version history: 1 — initial format.

use crate::position::Position;
use shardlog_segment::io::{read_exact_at, write_private_file_atomic, FileSystem, OpenOptions};
use std::fmt;
use std::io;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a token stays valid after it is issued, in milliseconds (5 minutes).
pub const ITERATOR_TTL_MS: u64 = 300_000;

/// Longest token text accepted or produced, in characters (the Kinesis limit).
pub const TOKEN_CHARS_MAX: usize = 512;

/// How far in the future a token's issue time may lie before it is rejected,
/// in milliseconds: tolerates clock steps between issue and use.
pub const CLOCK_SKEW_MS_MAX: u64 = 60_000;

/// Length of an [`IteratorKey`] in bytes.
pub const KEY_LEN: usize = 32;

/// Stream names are 1..=128 characters.
const STREAM_NAME_LEN_MAX: usize = 128;
const TOKEN_VERSION: u8 = 1;

const VERSION_OFFSET: usize = 0;
const EPOCH_OFFSET: usize = VERSION_OFFSET + 1;
const SHARD_OFFSET: usize = EPOCH_OFFSET + 8;
const POSITION_OFFSET: usize = SHARD_OFFSET + 4;
const ISSUED_OFFSET: usize = POSITION_OFFSET + 8;
const NAME_LEN_OFFSET: usize = ISSUED_OFFSET + 8;
const NAME_OFFSET: usize = NAME_LEN_OFFSET + 1;
const TAG_LEN: usize = 16;

const TOKEN_BYTES_MIN: usize = NAME_OFFSET + 1 + TAG_LEN;
const TOKEN_BYTES_MAX: usize = NAME_OFFSET + STREAM_NAME_LEN_MAX + TAG_LEN;

const _: () = assert!(NAME_OFFSET == 30);
const _: () = assert!(TOKEN_BYTES_MAX == 174);
const _: () = assert!(STREAM_NAME_LEN_MAX <= u8::MAX as usize);
// Unpadded base64 of the longest token must fit the Kinesis limit.
const _: () = assert!(TOKEN_BYTES_MAX.div_ceil(3) * 4 <= TOKEN_CHARS_MAX);

type HmacSha256 = Hmac<Sha256>;

/// The secret that signs iterator tokens, kept in the data directory so that
/// tokens stay valid across restarts.
#[derive(Clone)]
pub struct IteratorKey([u8; KEY_LEN]);

impl fmt::Debug for IteratorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.write_str("IteratorKey(..)")
    }
}

impl IteratorKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> io::Result<IteratorKey> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| match e.raw_os_error() {
            Some(errno) => io::Error::from_raw_os_error(errno),
            None => io::Error::other(format!("getrandom: {e}")),
        })?;
        Ok(IteratorKey(bytes))
    }

    /// A key with the given bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> IteratorKey {
        IteratorKey(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Reads the key stored at `path`, or creates one there if the file does
    /// not exist, through the storage's file-system seam.
    ///
    /// A new key is written atomically (temporary file, fsync, rename, fsync of
    /// the directory), so a crash leaves either no key or a whole one. A file of
    /// the wrong length is an `InvalidData` error rather than being replaced:
    /// replacing it would silently invalidate every outstanding token and hide
    /// whatever damaged it. The caller owns the data directory (no concurrent
    /// creator).
    pub fn load_or_create(fs: &dyn FileSystem, path: &Path) -> io::Result<IteratorKey> {
        if !fs.exists(path) {
            let key = IteratorKey::generate()?;
            // The key signs iterators: only the server's user may read it.
            write_private_file_atomic(fs, path, key.as_bytes())?;
            return Ok(key);
        }
        let file = fs.open(path, OpenOptions::READ)?;
        let len = file.len()?;
        if len != KEY_LEN as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "iterator key file {} has {len} bytes, expected {KEY_LEN}",
                    path.display()
                ),
            ));
        }
        let mut bytes = [0u8; KEY_LEN];
        read_exact_at(file.as_ref(), &mut bytes, 0)?;
        Ok(IteratorKey(bytes))
    }
}

/// Why a token text was refused. The texts are for logs; a service words each
/// case for its clients.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token this format describes.
    #[error("malformed shard iterator: {0}")]
    Malformed(Malformed),
    /// The tag does not match: altered, forged, or signed with another key.
    #[error("shard iterator signature does not match")]
    BadSignature,
    /// Authentic, but older than its time-to-live.
    #[error("shard iterator issued at {issued_ms} ms expired (now {now_ms} ms, ttl {ttl_ms} ms)")]
    Expired {
        /// When the token was issued, Unix ms.
        issued_ms: u64,
        /// The time it was presented, Unix ms.
        now_ms: u64,
        /// How long a token lives, ms.
        ttl_ms: u64,
    },
}

/// What makes a token text malformed, checked in this order.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// Longer than [`TOKEN_CHARS_MAX`] characters.
    #[error("{chars} characters, more than {TOKEN_CHARS_MAX}")]
    TooLong {
        /// The text's length.
        chars: usize,
    },
    /// Not unpadded base64url: the decoder's reason (which byte, where).
    #[error("not base64url ({reason})")]
    NotBase64 {
        /// What the decoder refused.
        reason: String,
    },
    /// Decodes to a length no token has.
    #[error("{bytes} bytes, expected {TOKEN_BYTES_MIN}..={TOKEN_BYTES_MAX}")]
    WrongLength {
        /// The decoded length.
        bytes: usize,
    },
    /// Signed, but of a version this server does not read.
    #[error("version {found}, expected {TOKEN_VERSION}")]
    Version {
        /// The version byte found.
        found: u8,
    },
    /// Signed, but its name length field disagrees with its name.
    #[error("name length field {field}, but {actual} name bytes")]
    NameLength {
        /// The length field.
        field: usize,
        /// The name bytes present.
        actual: usize,
    },
    /// Signed, but the stream name is not a valid one.
    #[error("invalid stream name")]
    StreamName,
    /// Issued more than [`CLOCK_SKEW_MS_MAX`] after now.
    #[error("issued at {issued_ms} ms, more than {CLOCK_SKEW_MS_MAX} ms after now ({now_ms} ms)")]
    IssuedInFuture {
        /// When it says it was issued, Unix ms.
        issued_ms: u64,
        /// Now, Unix ms.
        now_ms: u64,
    },
}

/// The state a shard iterator carries between `GetShardIterator` and
/// `GetRecords` calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IteratorToken {
    /// The stream's name: 1..=128 characters of `[a-zA-Z0-9_.-]`.
    pub stream_name: String,
    /// The stream's creation time in ms, which tells it apart from an earlier,
    /// deleted stream of the same name.
    pub stream_epoch: u64,
    /// The shard within the stream.
    pub shard_index: u32,
    /// The next record position to read in the shard.
    pub position: Position,
    /// When the token was issued, Unix ms.
    pub issued_ms: u64,
}

impl IteratorToken {
    /// Encodes and signs the token as URL- and JSON-safe text of at most
    /// [`TOKEN_CHARS_MAX`] characters.
    ///
    /// # Panics
    ///
    /// If `stream_name` is not a valid stream name: names are validated when
    /// a stream is created, so an invalid one here is a bug in the caller.
    pub fn encode(&self, key: &IteratorKey) -> String {
        assert!(
            is_valid_stream_name(&self.stream_name),
            "invalid stream name in iterator token: {:?}",
            self.stream_name
        );
        let text = seal(&self.payload(), key);
        assert!(text.len() <= TOKEN_CHARS_MAX);
        text
    }

    /// Decodes `text`, checking its signature under `key` and its age at
    /// `now_ms` (Unix ms). Never panics, whatever the input.
    ///
    /// Checks run in this order: length, base64, signature, fields, time. The
    /// fields are only parsed once the signature proves we wrote them.
    pub fn decode(text: &str, key: &IteratorKey, now_ms: u64) -> Result<IteratorToken, TokenError> {
        Self::decode_with_ttl(text, key, now_ms, ITERATOR_TTL_MS)
    }

    /// [`IteratorToken::decode`] with another lifetime than Kinesis's 5 minutes
    /// (for tests of expiry that cannot wait that long).
    pub fn decode_with_ttl(
        text: &str,
        key: &IteratorKey,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Result<IteratorToken, TokenError> {
        let bytes = unseal(text, key)?;
        let token = parse_payload(bytes.as_slice())?;
        token.check_time(now_ms, ttl_ms)?;
        Ok(token)
    }

    fn payload(&self) -> Vec<u8> {
        let name = self.stream_name.as_bytes();
        let mut payload = Vec::with_capacity(NAME_OFFSET + name.len());
        payload.push(TOKEN_VERSION);
        payload.extend_from_slice(&self.stream_epoch.to_le_bytes());
        payload.extend_from_slice(&self.shard_index.to_le_bytes());
        payload.extend_from_slice(&self.position.get().to_le_bytes());
        payload.extend_from_slice(&self.issued_ms.to_le_bytes());
        // Fits: the name was checked to be at most 128 bytes.
        payload.push(name.len() as u8);
        payload.extend_from_slice(name);
        assert_eq!(payload.len(), NAME_OFFSET + name.len());
        payload
    }

    fn check_time(&self, now_ms: u64, ttl_ms: u64) -> Result<(), TokenError> {
        if self.issued_ms > now_ms.saturating_add(CLOCK_SKEW_MS_MAX) {
            return Err(TokenError::Malformed(Malformed::IssuedInFuture {
                issued_ms: self.issued_ms,
                now_ms,
            }));
        }
        if now_ms >= self.issued_ms.saturating_add(ttl_ms) {
            return Err(TokenError::Expired {
                issued_ms: self.issued_ms,
                now_ms,
                ttl_ms,
            });
        }
        Ok(())
    }
}

/// Whether `name` is a valid stream name: 1..=128 characters of `[a-zA-Z0-9_.-]`.
fn is_valid_stream_name(name: &str) -> bool {
    (1..=STREAM_NAME_LEN_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn new_mac(key: &IteratorKey) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length")
}

/// Appends the tag to `payload` and encodes the result.
fn seal(payload: &[u8], key: &IteratorKey) -> String {
    let mut mac = new_mac(key);
    mac.update(payload);
    let tag = mac.finalize().into_bytes();
    let mut bytes = Vec::with_capacity(payload.len() + TAG_LEN);
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&tag[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes `text` and verifies its tag; returns the payload without the tag.
fn unseal(text: &str, key: &IteratorKey) -> Result<Vec<u8>, TokenError> {
    if text.len() > TOKEN_CHARS_MAX {
        return Err(TokenError::Malformed(Malformed::TooLong {
            chars: text.len(),
        }));
    }
    let mut bytes = URL_SAFE_NO_PAD.decode(text).map_err(|error| {
        TokenError::Malformed(Malformed::NotBase64 {
            reason: error.to_string(),
        })
    })?;
    if !(TOKEN_BYTES_MIN..=TOKEN_BYTES_MAX).contains(&bytes.len()) {
        return Err(TokenError::Malformed(Malformed::WrongLength {
            bytes: bytes.len(),
        }));
    }
    let tag = bytes.split_off(bytes.len() - TAG_LEN);
    let mut mac = new_mac(key);
    mac.update(&bytes);
    // Constant-time comparison against the first TAG_LEN bytes of the MAC.
    mac.verify_truncated_left(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    Ok(bytes)
}

/// Parses an authenticated payload (tag already removed).
fn parse_payload(payload: &[u8]) -> Result<IteratorToken, TokenError> {
    let (header, name) = payload
        .split_at_checked(NAME_OFFSET)
        .ok_or(TokenError::Malformed(Malformed::WrongLength {
            bytes: payload.len() + TAG_LEN,
        }))?;
    if header[VERSION_OFFSET] != TOKEN_VERSION {
        return Err(TokenError::Malformed(Malformed::Version {
            found: header[VERSION_OFFSET],
        }));
    }
    let name_len = usize::from(header[NAME_LEN_OFFSET]);
    if name_len != name.len() {
        return Err(TokenError::Malformed(Malformed::NameLength {
            field: name_len,
            actual: name.len(),
        }));
    }
    let stream_name = std::str::from_utf8(name)
        .ok()
        .filter(|n| is_valid_stream_name(n))
        .ok_or(TokenError::Malformed(Malformed::StreamName))?;
    Ok(IteratorToken {
        stream_name: stream_name.to_owned(),
        stream_epoch: u64::from_le_bytes(field(header, EPOCH_OFFSET)),
        shard_index: u32::from_le_bytes(field(header, SHARD_OFFSET)),
        position: Position::new(u64::from_le_bytes(field(header, POSITION_OFFSET))),
        issued_ms: u64::from_le_bytes(field(header, ISSUED_OFFSET)),
    })
}

/// The `N` bytes of `header` at `offset`; the header is `NAME_OFFSET` bytes,
/// so every fixed field lies within it.
fn field<const N: usize>(header: &[u8], offset: usize) -> [u8; N] {
    header[offset..offset + N]
        .try_into()
        .expect("fixed field lies within the header")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use shardlog_segment::io::{read_file, MemFs};

    const NOW_MS: u64 = 1_700_000_000_000;

    fn key(seed: u8) -> IteratorKey {
        IteratorKey::from_bytes([seed; KEY_LEN])
    }

    fn token(name: &str) -> IteratorToken {
        IteratorToken {
            stream_name: name.to_owned(),
            stream_epoch: 1_690_000_000_123,
            shard_index: 7,
            position: Position::new(42_000),
            issued_ms: NOW_MS,
        }
    }

    fn longest_name() -> String {
        "x".repeat(STREAM_NAME_LEN_MAX)
    }

    const BASE64URL_ALPHABET: &str =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn stream_name_strategy() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_.-]{1,128}"
    }

    fn token_strategy() -> impl Strategy<Value = IteratorToken> {
        (
            stream_name_strategy(),
            any::<u64>(),
            any::<u32>(),
            any::<u64>(),
            0..=u64::MAX - ITERATOR_TTL_MS,
        )
            .prop_map(
                |(stream_name, stream_epoch, shard_index, position, issued_ms)| IteratorToken {
                    stream_name,
                    stream_epoch,
                    shard_index,
                    position: Position::new(position),
                    issued_ms,
                },
            )
    }

    /// Replaces the character at `index` of an ASCII token with `c`.
    fn with_char(text: &str, index: usize, c: char) -> String {
        let mut changed = String::with_capacity(text.len() + 4);
        changed.push_str(&text[..index]);
        changed.push(c);
        changed.push_str(&text[index + 1..]);
        changed
    }

    /// Asserts that `text` is refused without being reported as authentic.
    fn assert_refused_as_altered(text: &str, key: &IteratorKey) {
        let result = IteratorToken::decode(text, key, NOW_MS);
        assert!(
            matches!(
                result,
                Err(TokenError::BadSignature | TokenError::Malformed(_))
            ),
            "{text:?} decoded to {result:?}"
        );
    }

    proptest! {
        /// Every valid token decodes to what was encoded while it is fresh.
        #[test]
        fn round_trip(t in token_strategy(), age_ms in 0..ITERATOR_TTL_MS, seed: u8) {
            let key = key(seed);
            let text = t.encode(&key);
            prop_assert!(text.len() <= TOKEN_CHARS_MAX);
            prop_assert_eq!(IteratorToken::decode(&text, &key, t.issued_ms + age_ms), Ok(t));
        }

        /// Any one character of a valid token replaced by any other character is refused.
        #[test]
        fn any_changed_character_is_refused(
            t in token_strategy(),
            index: prop::sample::Index,
            replacement: char,
        ) {
            let key = key(1);
            let text = t.encode(&key);
            let i = index.index(text.len());
            prop_assume!(!text[i..].starts_with(replacement));
            let changed = with_char(&text, i, replacement);
            let result = IteratorToken::decode(&changed, &key, t.issued_ms);
            prop_assert!(
                matches!(result, Err(TokenError::BadSignature | TokenError::Malformed(_))),
                "{:?} decoded to {:?}", changed, result
            );
        }

        /// Arbitrary text never panics and never decodes.
        #[test]
        fn arbitrary_text_is_refused(text in "\\PC*") {
            prop_assert!(IteratorToken::decode(&text, &key(0), NOW_MS).is_err());
        }

        /// Random bytes of any length, correctly base64url-encoded, never decode.
        #[test]
        fn arbitrary_base64_is_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            let result = IteratorToken::decode(&text, &key(0), NOW_MS);
            prop_assert!(
                matches!(result, Err(TokenError::BadSignature | TokenError::Malformed(_))),
                "{:?}", result
            );
        }
    }

    /// Every position of one token, replaced by every other base64url
    /// character, is refused: no single-character edit survives.
    #[test]
    fn every_single_character_edit_is_refused() {
        let key = key(3);
        for name in ["a", "orders.v2-eu_west", longest_name().as_str()] {
            let text = token(name).encode(&key);
            for (i, original) in text.char_indices() {
                for c in BASE64URL_ALPHABET.chars().filter(|&c| c != original) {
                    assert_refused_as_altered(&with_char(&text, i, c), &key);
                }
            }
        }
    }

    /// A token signed with one key is refused under another as a bad signature.
    #[test]
    fn token_from_another_key_is_bad_signature() {
        let text = token("orders").encode(&key(1));
        assert_eq!(
            IteratorToken::decode(&text, &key(2), NOW_MS),
            Err(TokenError::BadSignature)
        );
        assert!(IteratorToken::decode(&text, &key(1), NOW_MS).is_ok());
    }

    /// A token is valid until one millisecond before its TTL ends and expired from then on.
    #[test]
    fn expiry_boundaries() {
        let key = key(4);
        let t = token("orders");
        let text = t.encode(&key);
        let last_valid_ms = t.issued_ms + ITERATOR_TTL_MS - 1;
        assert_eq!(
            IteratorToken::decode(&text, &key, last_valid_ms),
            Ok(t.clone())
        );
        let expired_ms = t.issued_ms + ITERATOR_TTL_MS;
        assert_eq!(
            IteratorToken::decode(&text, &key, expired_ms),
            Err(TokenError::Expired {
                issued_ms: t.issued_ms,
                now_ms: expired_ms,
                ttl_ms: ITERATOR_TTL_MS,
            })
        );
    }

    /// A token issued up to the clock skew in the future is accepted; beyond it, malformed.
    #[test]
    fn future_issue_time_beyond_skew_is_malformed() {
        let key = key(5);
        let t = token("orders");
        let text = t.encode(&key);
        let earliest_ok_ms = t.issued_ms - CLOCK_SKEW_MS_MAX;
        assert_eq!(IteratorToken::decode(&text, &key, earliest_ok_ms), Ok(t));
        let result = IteratorToken::decode(&text, &key, earliest_ok_ms - 1);
        assert!(
            matches!(result, Err(TokenError::Malformed(_))),
            "{result:?}"
        );
    }

    /// Extreme issue times neither overflow nor decode as valid.
    #[test]
    fn extreme_issue_times_do_not_overflow() {
        let key = key(6);
        let mut t = token("orders");
        t.issued_ms = u64::MAX;
        let text = t.encode(&key);
        assert_eq!(
            IteratorToken::decode(&text, &key, u64::MAX - 1),
            Ok(t.clone())
        );
        let result = IteratorToken::decode(&text, &key, 0);
        assert!(
            matches!(result, Err(TokenError::Malformed(_))),
            "{result:?}"
        );
    }

    /// The longest stream name gives a token within the Kinesis 512-character limit.
    #[test]
    fn longest_name_fits_the_limit() {
        let text = token(&longest_name()).encode(&key(7));
        assert_eq!(text.len(), TOKEN_BYTES_MAX.div_ceil(3) * 4);
        assert!(text.len() <= TOKEN_CHARS_MAX);
    }

    /// Text longer than the limit is malformed before any decoding.
    #[test]
    fn overlong_text_is_malformed() {
        let text = "A".repeat(TOKEN_CHARS_MAX + 1);
        let result = IteratorToken::decode(&text, &key(0), NOW_MS);
        assert!(
            matches!(result, Err(TokenError::Malformed(_))),
            "{result:?}"
        );
    }

    /// Correctly signed payloads with a bad version, name length or name are malformed.
    #[test]
    fn signed_but_invalid_payloads_are_malformed() {
        let key = key(8);
        let good = token("orders").payload();
        let mut bad_version = good.clone();
        bad_version[VERSION_OFFSET] = 2;
        let mut bad_name_len = good.clone();
        bad_name_len[NAME_LEN_OFFSET] += 1;
        let mut bad_name = good.clone();
        bad_name[NAME_OFFSET] = b'/';
        let mut non_utf8_name = good.clone();
        non_utf8_name[NAME_OFFSET] = 0xFF;
        for payload in [bad_version, bad_name_len, bad_name, non_utf8_name] {
            let result = IteratorToken::decode(&seal(&payload, &key), &key, NOW_MS);
            assert!(
                matches!(result, Err(TokenError::Malformed(_))),
                "{result:?}"
            );
        }
        assert!(IteratorToken::decode(&seal(&good, &key), &key, NOW_MS).is_ok());
    }

    /// Encoding a token whose stream name is invalid is a caller bug and panics.
    #[test]
    #[should_panic(expected = "invalid stream name")]
    fn encode_rejects_invalid_stream_name() {
        token("has space").encode(&key(0));
    }

    /// The version 1 encoding is fixed: tokens issued before a restart must
    /// still decode after an upgrade.
    #[test]
    fn golden_version_1_token() {
        let key = IteratorKey::from_bytes(std::array::from_fn(|i| i as u8));
        let t = IteratorToken {
            stream_name: "golden-stream_1.x".to_owned(),
            stream_epoch: 1_600_000_000_000,
            shard_index: 3,
            position: Position::new(123_456_789),
            issued_ms: NOW_MS,
        };
        // Computed independently of this module, with Python's hmac, struct and base64.
        let golden =
            "AQCAbod0AQAAAwAAABXNWwcAAAAAAGjlz4sBAAARZ29sZGVuLXN0cmVhbV8xLnj6zR2mmRMF8M9gnp1oLDT7";
        assert_eq!(t.encode(&key), golden);
        assert_eq!(IteratorToken::decode(golden, &key, NOW_MS), Ok(t));
    }

    /// The key file is created with 32 bytes and reloads as the same key.
    #[test]
    fn load_or_create_creates_then_reloads() {
        let fs = MemFs::new();
        let path = Path::new("/iterator.key");
        let created = IteratorKey::load_or_create(fs.as_ref(), path).unwrap();
        assert_eq!(read_file(fs.as_ref(), path).unwrap(), created.as_bytes());
        let loaded = IteratorKey::load_or_create(fs.as_ref(), path).unwrap();
        assert_eq!(loaded.as_bytes(), created.as_bytes());
    }

    /// A key file of the wrong length is an InvalidData error and is left untouched.
    #[test]
    fn load_or_create_refuses_wrong_length() {
        let fs = MemFs::new();
        let path = Path::new("/iterator.key");
        for len in [0, KEY_LEN - 1, KEY_LEN + 1, 4096] {
            shardlog_segment::io::write_file_atomic(fs.as_ref(), path, &vec![9u8; len]).unwrap();
            let err = IteratorKey::load_or_create(fs.as_ref(), path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{len} bytes: {err}");
            assert_eq!(read_file(fs.as_ref(), path).unwrap().len(), len);
        }
    }

    /// Two generated keys differ, and the Debug output hides the secret.
    #[test]
    fn generated_keys_differ_and_debug_hides_them() {
        let a = IteratorKey::generate().unwrap();
        let b = IteratorKey::generate().unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_eq!(format!("{a:?}"), "IteratorKey(..)");
    }
}

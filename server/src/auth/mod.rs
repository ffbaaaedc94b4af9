//! AWS Signature Version 4 verification of incoming requests, as Kinesis checks them.
//!
//! The `Authorization` header form and the query-string form (`X-Amz-Algorithm`,
//! `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`, `X-Amz-Signature`, and
//! optionally `X-Amz-Expires`; the signature covers the body's hash) are accepted;
//! a request carrying both is refused, as AWS refuses it.
//! The canonical request follows the SigV4 rules for every service but S3, as botocore
//! builds it: the raw path is dot-segment-normalised and consecutive slashes collapsed,
//! then URI-encoded once more, so a `%` already on the wire becomes `%25`
//! (botocore: `quote(normalize_url_path(path), safe='/~')`). Kinesis always uses `/`.
//!
//! Checks run in this order, and the first failure is returned:
//! 1. `Authorization` or `X-Amz-Algorithm` present, else
//!    [`SigV4Error::MissingAuthenticationToken`], but not both
//!    ([`SigV4Error::BothAuthorizationForms`]);
//! 2. `Credential`, `SignedHeaders`, `Signature` and a date header present (or the
//!    five query parameters), else [`SigV4Error::IncompleteSignature`] naming each
//!    missing piece;
//! 3. algorithm `AWS4-HMAC-SHA256`, five-part credential, well-formed date;
//! 4. `host` (or `:authority`) signed, scope terminator and scope date;
//! 5. the date within [`CLOCK_SKEW_MAX_MINUTES`] of `now`;
//! 6. the access key known, else [`SigV4Error::UnrecognizedClient`];
//! 7. `x-amz-content-sha256` (when sent) equal to the body's hash, and the signature.
//!
//! Error codes and messages are the ones AWS returns over the JSON protocol; where each
//! came from is noted on [`SigV4Error`].
//!
//! The module is split by concern: `header` reads the `Authorization` header,
//! `presign` the query-string form, and `canonical` builds the canonical request,
//! the string to sign and the signing key, which [`verify`] and [`sign`] share.

mod canonical;
mod header;
mod presign;
#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDateTime};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use canonical::{
    canonical_request, decode_signature, hex, hmac_sha256, signing_key, string_to_sign,
};
use header::{
    parse_authorization, parse_credential, parse_signed_headers, CredentialScope, RequestDate,
};
use presign::{without_signature, QueryParams};

type HmacSha256 = Hmac<Sha256>;

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far the request date may be from the server clock, either way.
///
/// The brief fixes 15 minutes (DynamoDB's and the IAM docs' window). Production Kinesis
/// has been seen answering `... - 5 min.`; change this one constant to match it.
pub const CLOCK_SKEW_MAX_MINUTES: i64 = 15;

const CLOCK_SKEW_MAX_SECS: i64 = CLOCK_SKEW_MAX_MINUTES * 60;
const SCOPE_TERMINATOR: &str = "aws4_request";

/// An incoming request as the verifier needs to see it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Request path exactly as received, still percent-encoded, without the query.
    pub path: &'a str,
    /// Raw query string without the leading `?`; empty when there is none.
    pub query: &'a str,
    /// Headers as received: names in any case, values untrimmed, names may repeat.
    /// Over HTTP/2 the caller adds `host` from `:authority`.
    pub headers: &'a [(String, String)],
    /// SHA-256 of the complete request body.
    pub payload: PayloadHash,
}

/// The SHA-256 of a request body, which SigV4 signs. The server computes it
/// piece by piece as the body arrives ([`PayloadHasher`]), so a 16 MiB body is
/// never hashed in one go on an async worker thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadHash([u8; 32]);

impl PayloadHash {
    /// The hash of a whole body.
    pub fn of(body: &[u8]) -> PayloadHash {
        PayloadHash(Sha256::digest(body).into())
    }

    /// Lowercase hex, as the canonical request and `x-amz-content-sha256` carry it.
    pub fn to_hex(self) -> String {
        hex(&self.0)
    }
}

/// Hashes a body piece by piece as it arrives.
#[derive(Debug, Clone, Default)]
pub struct PayloadHasher(Sha256);

impl PayloadHasher {
    /// Adds the next piece of the body.
    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    /// The hash of everything added.
    pub fn finish(self) -> PayloadHash {
        PayloadHash(self.0.finalize().into())
    }
}

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// Region from the credential scope; the caller decides whether it is acceptable.
    pub region: String,
    /// Service from the credential scope, `kinesis` for real clients.
    pub service: String,
}

/// Why a request's signature was refused.
///
/// Display gives the AWS message. Sources: `MissingAuthenticationToken` and the
/// `IncompleteSignature` "requires" messages follow kinesalite (mhart/kinesalite
/// `index.js`, `test/connection.js`), a Kinesis emulator whose tests record real Kinesis
/// answers; `InvalidSignatureException` with the "does not match" and "Signature expired"
/// messages at status 400, and `UnrecognizedClientException` at 400, are quoted from
/// Kinesis client reports (apache/camel-k#1608, remind101/logspout-kinesis#21,
/// awslabs/amazon-kinesis-scaling-utils#46); the host, credential-shape, scope and date
/// format messages are the AWS wordings collected by dacut/scratchstack-aws-signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header or date header is missing parts or malformed.
    #[error("{message}")]
    IncompleteSignature {
        /// AWS-style message naming what is missing or malformed.
        message: String,
    },
    /// The access key id is not known.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient {
        /// The access key id the request named.
        access_key_id: String,
    },
    /// The signature, or the declared payload hash, does not match the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    )]
    SignatureDoesNotMatch,
    /// Both an `Authorization` header and an `X-Amz-Algorithm` query parameter.
    #[error(
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    )]
    BothAuthorizationForms,
    /// Neither `host` nor `:authority` is in `SignedHeaders`.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// The credential scope does not end in `aws4_request`.
    #[error(
        "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
    )]
    CredentialTerminator {
        /// The fifth credential element as sent.
        terminator: String,
    },
    /// The credential scope date is not the request date.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
         from HTTP: '{scope_date}' != '{request_date}', from '{amz_date}'."
    )]
    CredentialDate {
        /// Date in the credential scope.
        scope_date: String,
        /// `YYYYMMDD` of the request date.
        request_date: String,
        /// The request date in ISO-8601 basic format.
        amz_date: String,
    },
    /// The request date is more than [`CLOCK_SKEW_MAX_MINUTES`] before `now`.
    #[error(
        "Signature expired: {signed_at} is now earlier than {earliest} ({now} - {} min.)",
        CLOCK_SKEW_MAX_MINUTES
    )]
    SignatureExpired {
        /// Request date.
        signed_at: String,
        /// Earliest acceptable date.
        earliest: String,
        /// Server clock.
        now: String,
    },
    /// The request date is more than [`CLOCK_SKEW_MAX_MINUTES`] after `now`.
    #[error(
        "Signature not yet current: {signed_at} is still later than {latest} ({now} + {} min.)",
        CLOCK_SKEW_MAX_MINUTES
    )]
    SignatureNotYetCurrent {
        /// Request date.
        signed_at: String,
        /// Latest acceptable date.
        latest: String,
        /// Server clock.
        now: String,
    },
}

impl SigV4Error {
    /// The `__type` Kinesis puts in the JSON error body for this failure.
    pub fn code(&self) -> &'static str {
        use crate::error::AuthFailure;
        match self.failure() {
            AuthFailure::MissingToken => "MissingAuthenticationTokenException",
            AuthFailure::IncompleteSignature => "IncompleteSignatureException",
            AuthFailure::UnknownClient => "UnrecognizedClientException",
            AuthFailure::BadSignature => "InvalidSignatureException",
        }
    }

    /// How it failed, for the services that word it their own way.
    pub fn failure(&self) -> crate::error::AuthFailure {
        use crate::error::AuthFailure;
        match self {
            Self::MissingAuthenticationToken => AuthFailure::MissingToken,
            Self::IncompleteSignature { .. } => AuthFailure::IncompleteSignature,
            Self::UnrecognizedClient { .. } => AuthFailure::UnknownClient,
            Self::SignatureDoesNotMatch
            | Self::BothAuthorizationForms
            | Self::HostNotSigned
            | Self::CredentialTerminator { .. }
            | Self::CredentialDate { .. }
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. } => AuthFailure::BadSignature,
        }
    }

    /// The HTTP status Kinesis answers with: 400 for every authentication error of the
    /// JSON protocol (kinesalite answers 403 only to non-JSON content types, which the
    /// server rejects before authentication).
    pub fn http_status(&self) -> u16 {
        400
    }
}

/// Credentials and scope for [`sign`].
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Region, e.g. `us-east-1`.
    pub region: &'a str,
    /// Service, e.g. `kinesis`.
    pub service: &'a str,
    /// Signing time as `yyyymmddThhmmssZ`; the request should carry the same `X-Amz-Date`.
    pub amz_date: &'a str,
}

/// Verifies the SigV4 signature of `request` (its `Authorization` header or its
/// query-string parameters) and names who signed it.
///
/// `secret_for` maps an access key id to its secret; `now` is the server clock.
pub fn verify(
    request: &SignedRequest<'_>,
    secret_for: &dyn Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Result<Principal, SigV4Error> {
    let query = QueryParams::parse(request.query);
    let query_signed = query.get("X-Amz-Algorithm").is_some();
    let (auth, expires_secs, unsigned_query) =
        match (header_first(request.headers, "authorization"), query_signed) {
            (Some(_), true) => return Err(SigV4Error::BothAuthorizationForms),
            (None, false) => return Err(SigV4Error::MissingAuthenticationToken),
            (Some(authorization), false) => {
                let date = header_first(request.headers, "x-amz-date")
                    .map(|value| RequestDate {
                        value,
                        parse: parse_amz_date,
                    })
                    .or_else(|| {
                        header_first(request.headers, "date").map(|value| RequestDate {
                            value,
                            parse: parse_http_date,
                        })
                    });
                let auth = parse_authorization(authorization, date)?;
                (auth, None, request.query.to_owned())
            }
            (None, true) => {
                let auth = query.authorization()?;
                let expires = query
                    .get("X-Amz-Expires")
                    .and_then(|v| v.parse::<i64>().ok());
                (auth, expires, without_signature(request.query))
            }
        };
    if auth.algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{}'.",
            auth.algorithm
        )));
    }
    let scope = parse_credential(auth.credential)?;
    let signed_at = (auth.date.parse)(auth.date.value.trim()).ok_or_else(|| {
        incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            auth.date.value
        ))
    })?;
    let signed_headers = parse_signed_headers(auth.signed_headers);
    if !signed_headers
        .iter()
        .any(|name| name == "host" || name == ":authority")
    {
        return Err(SigV4Error::HostNotSigned);
    }
    let amz_date = format_amz_secs(signed_at);
    check_scope(&scope, &amz_date)?;
    let now_secs = system_time_secs(now);
    // A presigned request stays valid for X-Amz-Expires seconds after signing.
    let unexpired = expires_secs
        .is_some_and(|expires| (signed_at..=signed_at.saturating_add(expires)).contains(&now_secs));
    if !unexpired {
        check_clock(signed_at, now_secs)?;
    }

    let secret = secret_for(scope.access_key_id).ok_or_else(|| SigV4Error::UnrecognizedClient {
        access_key_id: scope.access_key_id.to_owned(),
    })?;
    let payload_hash = request.payload.to_hex();
    if header_first(request.headers, "x-amz-content-sha256")
        .is_some_and(|declared| declared.trim() != payload_hash)
    {
        return Err(SigV4Error::SignatureDoesNotMatch);
    }
    let provided = decode_signature(auth.signature).ok_or(SigV4Error::SignatureDoesNotMatch)?;
    let signed = SignedRequest {
        query: &unsigned_query,
        ..*request
    };
    let canonical = canonical_request(&signed, &signed_headers, &payload_hash);
    let to_sign = string_to_sign(&amz_date, &scope.string(), &canonical);
    let key = signing_key(&secret, scope.date, scope.region, scope.service);
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(to_sign.as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(&provided)
        .map_err(|_| SigV4Error::SignatureDoesNotMatch)?;

    Ok(Principal {
        access_key_id: scope.access_key_id.to_owned(),
        region: scope.region.to_owned(),
        service: scope.service.to_owned(),
    })
}

/// Signs `request` and returns the `Authorization` header value to send with it.
///
/// Every header in `request.headers` except `authorization` is signed; the caller puts
/// `host` and `x-amz-date` (equal to `params.amz_date`) there first. The payload hash is
/// `request.payload`.
///
/// # Panics
/// If `params.amz_date` is not `yyyymmddThhmmssZ`.
pub fn sign(request: &SignedRequest<'_>, params: &SigningParams<'_>) -> String {
    assert!(
        parse_amz_date(params.amz_date).is_some(),
        "amz_date must be yyyymmddThhmmssZ, got {:?}",
        params.amz_date
    );
    let mut signed_headers: Vec<String> = request
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| name != "authorization")
        .collect();
    signed_headers.sort();
    signed_headers.dedup();
    let scope = CredentialScope {
        access_key_id: params.access_key_id,
        date: &params.amz_date[..8],
        region: params.region,
        service: params.service,
    };
    let canonical = canonical_request(request, &signed_headers, &request.payload.to_hex());
    let to_sign = string_to_sign(params.amz_date, &scope.string(), &canonical);
    let key = signing_key(
        params.secret_access_key,
        scope.date,
        scope.region,
        scope.service,
    );
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
        params.access_key_id,
        scope.string(),
        signed_headers.join(";")
    )
}

/// Formats `time` as an `X-Amz-Date` value, `yyyymmddThhmmssZ` in UTC.
pub fn format_amz_date(time: SystemTime) -> String {
    format_amz_secs(system_time_secs(time))
}

fn incomplete(message: String) -> SigV4Error {
    SigV4Error::IncompleteSignature { message }
}

fn check_scope(scope: &CredentialScope<'_>, amz_date: &str) -> Result<(), SigV4Error> {
    // amz_date comes from format_amz_secs over a parsed date: ASCII, 16 bytes.
    let request_date = &amz_date[..8];
    if scope.date != request_date {
        return Err(SigV4Error::CredentialDate {
            scope_date: scope.date.to_owned(),
            request_date: request_date.to_owned(),
            amz_date: amz_date.to_owned(),
        });
    }
    Ok(())
}

fn check_clock(signed_at: i64, now: i64) -> Result<(), SigV4Error> {
    let earliest = now.saturating_sub(CLOCK_SKEW_MAX_SECS);
    let latest = now.saturating_add(CLOCK_SKEW_MAX_SECS);
    if signed_at < earliest {
        return Err(SigV4Error::SignatureExpired {
            signed_at: format_amz_secs(signed_at),
            earliest: format_amz_secs(earliest),
            now: format_amz_secs(now),
        });
    }
    if signed_at > latest {
        return Err(SigV4Error::SignatureNotYetCurrent {
            signed_at: format_amz_secs(signed_at),
            latest: format_amz_secs(latest),
            now: format_amz_secs(now),
        });
    }
    Ok(())
}

fn header_first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn system_time_secs(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |secs| -secs),
    }
}

/// Parses `yyyymmddThhmmssZ` into seconds since the Unix epoch.
fn parse_amz_date(text: &str) -> Option<i64> {
    // chrono alone would also take fields of other widths and a leap second.
    let digits_at =
        |range: std::ops::Range<usize>| text.as_bytes()[range].iter().all(u8::is_ascii_digit);
    if text.len() != 16
        || !digits_at(0..8)
        || !digits_at(9..15)
        || text.as_bytes()[13..15] == *b"60"
    {
        return None;
    }
    NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|time| time.and_utc().timestamp())
}

/// Parses an HTTP `Date` (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, or the
/// two obsolete forms HTTP still allows).
fn parse_http_date(text: &str) -> Option<i64> {
    httpdate::parse_http_date(text).ok().map(system_time_secs)
}

fn format_amz_secs(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0).map_or_else(
        || "invalid date".to_string(),
        |time| time.format("%Y%m%dT%H%M%SZ").to_string(),
    )
}

//! The canonical request, the string to sign and the signing key, as SigV4 builds
//! them for every service but S3, with the URI encoding they use.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{SignedRequest, ALGORITHM, SCOPE_TERMINATOR};

type HmacSha256 = Hmac<Sha256>;

pub(super) fn canonical_request(
    request: &SignedRequest<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(256 + request.path.len() + request.query.len());
    out.push_str(request.method);
    out.push('\n');
    out.push_str(&canonical_uri(request.path));
    out.push('\n');
    out.push_str(&canonical_query(request.query));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// botocore's `remove_dot_segments` (which also collapses `//`), then one more encoding.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut normalized = String::with_capacity(path.len());
    if path.starts_with('/') {
        normalized.push('/');
    }
    normalized.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        normalized.push('/');
    }
    uri_encode(normalized.as_bytes(), true)
}

/// Decodes each name and value, re-encodes it with the SigV4 unreserved set, and sorts by
/// encoded name then value. `+` is taken literally, as RFC 3986 reads it.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(name), false),
                uri_encode(&percent_decode(value), false),
            )
        })
        .collect();
    pairs.sort();
    let encoded: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    encoded.join("&")
}

fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-decodes; a `%` not followed by two hex digits is kept as a literal `%`.
pub(super) fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = match bytes.get(index + 1..index + 3) {
            Some(&[high, low]) if bytes[index] == b'%' => hex_value(high).zip(hex_value(low)),
            _ => None,
        };
        if let Some((high, low)) = escaped {
            out.push(high << 4 | low);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The signature as 32 bytes; only 64 lower-case hex digits are accepted, as signers emit.
pub(super) fn decode_signature(signature: &str) -> Option<[u8; 32]> {
    let digits = signature.as_bytes();
    if digits.len() != 64
        || !digits
            .iter()
            .all(|d| d.is_ascii_digit() || (b'a'..=b'f').contains(d))
    {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(out)
}

pub(super) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

pub(super) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, SCOPE_TERMINATOR.as_bytes())
}

pub(super) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    //! The AWS SigV4 test suite's vectors and the canonical forms it publishes.
    use super::*;
    use crate::auth::tests::{
        at, headers, request, secrets, SUITE_AKID, SUITE_DATE, SUITE_EPOCH_SECS, SUITE_SECRET,
    };
    use crate::auth::{sign, verify, Principal, SigningParams};

    /// Signs one AWS test-suite request, checks the published signature, then verifies
    /// the published `Authorization` header itself.
    fn check_suite_case(
        method: &str,
        path: &str,
        query: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        signed: &str,
        signature: &str,
    ) {
        let mut pairs = vec![
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", SUITE_DATE),
        ];
        pairs.extend_from_slice(extra);
        let mut hs = headers(&pairs);
        let params = SigningParams {
            access_key_id: SUITE_AKID,
            secret_access_key: SUITE_SECRET,
            region: "us-east-1",
            service: "service",
            amz_date: SUITE_DATE,
        };
        let expected = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={signature}"
        );
        assert_eq!(
            sign(&request(method, path, query, &hs, body), &params),
            expected,
            "{method} {path}?{query}"
        );
        hs.push(("Authorization".to_owned(), expected));
        let principal = verify(
            &request(method, path, query, &hs, body),
            &secrets,
            at(SUITE_EPOCH_SECS),
        );
        let expected_principal = Principal {
            access_key_id: SUITE_AKID.into(),
            region: "us-east-1".into(),
            service: "service".into(),
        };
        assert_eq!(principal, Ok(expected_principal), "{method} {path}?{query}");
    }

    /// The GET and POST vectors of the AWS SigV4 test suite (awslabs/aws-c-auth
    /// tests/aws-signing-test-suite/v4/*/header-signed-request.txt) sign and verify exactly.
    #[test]
    fn aws_suite_vectors_sign_and_verify() {
        let host = "host;x-amz-date";
        let empty = b"".as_slice();
        check_suite_case(
            "GET",
            "/",
            "",
            &[],
            empty,
            host,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
        check_suite_case(
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            &[],
            empty,
            host,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        );
        check_suite_case(
            "GET",
            "/",
            "Param1=value1",
            &[],
            empty,
            host,
            "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
        );
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        check_suite_case(
            "GET",
            "/",
            &format!("{unreserved}={unreserved}"),
            &[],
            empty,
            host,
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        );
        check_suite_case(
            "GET",
            "/",
            "\u{1234}=bar",
            &[],
            empty,
            host,
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        );
        check_suite_case(
            "GET",
            "/\u{1234}",
            "",
            &[],
            empty,
            host,
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        );
        check_suite_case(
            "GET",
            "/example space/",
            "",
            &[],
            empty,
            host,
            "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
        );
        check_suite_case(
            "GET",
            "//example//",
            "",
            &[],
            empty,
            host,
            "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
        );
        check_suite_case(
            "GET",
            "/example1/example2/../..",
            "",
            &[],
            empty,
            host,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        );
        check_suite_case(
            "GET",
            "/",
            "",
            &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            empty,
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        );
        check_suite_case(
            "GET",
            "/",
            "",
            &[
                ("My-Header1", "value2"),
                ("My-Header1", "value2"),
                ("My-Header1", "value1"),
            ],
            empty,
            "host;my-header1;x-amz-date",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        );
        check_suite_case(
            "POST",
            "/",
            "",
            &[],
            empty,
            host,
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        );
        // post-x-www-form-urlencoded as first published by AWS (2015 suite).
        check_suite_case(
            "POST",
            "/",
            "",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"Param1=value1",
            "content-type;host;x-amz-date",
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        );
        // The same request as aws-c-auth now signs it, with the payload hash header signed.
        check_suite_case(
            "POST",
            "/",
            "",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "13"),
                (
                    "x-amz-content-sha256",
                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                ),
            ],
            b"Param1=value1",
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        );
    }

    /// The canonical request of get-vanilla is byte-for-byte the one AWS publishes.
    #[test]
    fn canonical_request_matches_the_published_get_vanilla() {
        let hs = headers(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", SUITE_DATE),
        ]);
        let signed = vec!["host".to_owned(), "x-amz-date".to_owned()];
        let canonical = canonical_request(
            &request("GET", "/", "", &hs, b""),
            &signed,
            &hex(&Sha256::digest(b"")),
        );
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// The path is encoded once more as received, as botocore signs non-S3 services.
    #[test]
    fn canonical_uri_encodes_the_received_path_again() {
        assert_eq!(canonical_uri("/a%20b/c:d"), "/a%2520b/c%3Ad");
        assert_eq!(canonical_uri("/./a/../b/"), "/b/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/.."), "/");
    }

    /// Query pairs are decoded, re-encoded and sorted by name then value.
    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(
            canonical_query("b=2&a=%7e&a=1&c&&A=x+y"),
            "A=x%2By&a=1&a=~&b=2&c="
        );
        assert_eq!(canonical_query("bad=%zz%4"), "bad=%25zz%254");
    }
}

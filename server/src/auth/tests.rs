//! Verification end to end: Kinesis requests signed and verified, every byte that
//! must matter breaking the signature, and the errors of each malformed form.
//! The fixtures here are shared with the test-suite vectors in `canonical`.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

pub(super) const SUITE_AKID: &str = "AKIDEXAMPLE";
pub(super) const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub(super) const SUITE_DATE: &str = "20150830T123600Z";
pub(super) const SUITE_EPOCH_SECS: u64 = 1_440_938_160;
const KINESIS_DATE: &str = "20240102T030405Z";
const KINESIS_EPOCH_SECS: u64 = 1_704_164_645;
const KINESIS_BODY: &[u8] = br#"{"StreamName":"orders","Data":"aGVsbG8=","PartitionKey":"p-1"}"#;

pub(super) fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub(super) fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

pub(super) fn secrets(akid: &str) -> Option<String> {
    match akid {
        SUITE_AKID => Some(SUITE_SECRET.to_owned()),
        "AKIAKINESIS" => Some("kinesis-secret".to_owned()),
        _ => None,
    }
}

pub(super) fn request<'a>(
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a [(String, String)],
    body: &'a [u8],
) -> SignedRequest<'a> {
    SignedRequest {
        method,
        path,
        query,
        headers,
        payload: PayloadHash::of(body),
    }
}
fn kinesis_headers(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Host", "kinesis.us-east-1.amazonaws.com"),
        ("X-Amz-Date", KINESIS_DATE),
        ("X-Amz-Target", "Kinesis_20131202.PutRecord"),
    ];
    pairs.extend_from_slice(extra);
    headers(&pairs)
}

fn kinesis_params(amz_date: &str) -> SigningParams<'_> {
    SigningParams {
        access_key_id: "AKIAKINESIS",
        secret_access_key: "kinesis-secret",
        region: "us-east-1",
        service: "kinesis",
        amz_date,
    }
}

/// A botocore-style Kinesis request with its `Authorization` header added.
fn signed_kinesis(extra: &[(&str, &str)], body: &[u8]) -> Vec<(String, String)> {
    let mut hs = kinesis_headers(extra);
    let authorization = sign(
        &request("POST", "/", "", &hs, body),
        &kinesis_params(KINESIS_DATE),
    );
    hs.push(("Authorization".to_owned(), authorization));
    hs
}

fn verify_kinesis(
    hs: &[(String, String)],
    body: &[u8],
    now_secs: u64,
) -> Result<Principal, SigV4Error> {
    verify(&request("POST", "/", "", hs, body), &secrets, at(now_secs))
}

fn set_header(hs: &mut [(String, String)], name: &str, value: String) {
    let slot = hs
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .expect("header present");
    slot.1 = value;
}

/// A Kinesis PutRecord signed by `sign` verifies, and unsigned headers may change freely.
#[test]
fn kinesis_request_round_trips() {
    let mut hs = signed_kinesis(&[], KINESIS_BODY);
    assert!(hs
        .last()
        .unwrap()
        .1
        .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));
    hs.push(("User-Agent".to_owned(), "Boto3/1.34 unsigned".to_owned()));
    let principal = verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS).expect("verifies");
    assert_eq!(
        principal,
        Principal {
            access_key_id: "AKIAKINESIS".into(),
            region: "us-east-1".into(),
            service: "kinesis".into()
        }
    );
    assert_eq!(format_amz_date(at(KINESIS_EPOCH_SECS)), KINESIS_DATE);
    assert_eq!(format_amz_date(at(SUITE_EPOCH_SECS)), SUITE_DATE);
}

/// Flipping any single byte of the body breaks the signature.
#[test]
fn flipped_body_byte_fails() {
    let hs = signed_kinesis(&[], KINESIS_BODY);
    for index in 0..KINESIS_BODY.len() {
        let mut body = KINESIS_BODY.to_vec();
        body[index] ^= 0x01;
        assert_eq!(
            verify_kinesis(&hs, &body, KINESIS_EPOCH_SECS),
            Err(SigV4Error::SignatureDoesNotMatch),
            "byte {index}"
        );
    }
}

/// Flipping any single byte of a signed header value, or of the signature, breaks it.
#[test]
fn flipped_signed_header_or_signature_byte_fails() {
    let hs = signed_kinesis(&[], KINESIS_BODY);
    for name in ["Content-Type", "Host", "X-Amz-Target"] {
        let original = header_first(&hs, name).unwrap().to_owned();
        for index in 0..original.len() {
            let mut bytes = original.clone().into_bytes();
            bytes[index] ^= 0x01;
            let mut changed = hs.clone();
            set_header(&mut changed, name, String::from_utf8(bytes).unwrap());
            let result = verify_kinesis(&changed, KINESIS_BODY, KINESIS_EPOCH_SECS);
            assert_eq!(
                result,
                Err(SigV4Error::SignatureDoesNotMatch),
                "{name} byte {index}"
            );
        }
    }
    let authorization = header_first(&hs, "authorization").unwrap().to_owned();
    let signature_start = authorization.find("Signature=").unwrap() + "Signature=".len();
    for index in signature_start..authorization.len() {
        let mut bytes = authorization.clone().into_bytes();
        bytes[index] ^= 0x01;
        let mut changed = hs.clone();
        set_header(
            &mut changed,
            "authorization",
            String::from_utf8(bytes).unwrap(),
        );
        let result = verify_kinesis(&changed, KINESIS_BODY, KINESIS_EPOCH_SECS);
        assert_eq!(
            result,
            Err(SigV4Error::SignatureDoesNotMatch),
            "signature byte {index}"
        );
    }
}

/// Flipping a byte of `X-Amz-Date` fails with the variant that byte's meaning implies.
#[test]
fn flipped_date_byte_fails_with_the_right_variant() {
    let hs = signed_kinesis(&[], KINESIS_BODY);
    for index in 0..KINESIS_DATE.len() {
        let mut bytes = KINESIS_DATE.as_bytes().to_vec();
        bytes[index] ^= 0x01;
        let date = String::from_utf8(bytes).unwrap();
        let mut changed = hs.clone();
        set_header(&mut changed, "x-amz-date", date.clone());
        let result = verify_kinesis(&changed, KINESIS_BODY, KINESIS_EPOCH_SECS);
        let expected_ok = match index {
            // yyyymmdd: "2024" -> "3024"/"2124"/... and "01" -> "00", "02" -> "03".
            0..=7 => matches!(
                result,
                Err(SigV4Error::CredentialDate { .. } | SigV4Error::IncompleteSignature { .. })
            ),
            8 | 15 => matches!(result, Err(SigV4Error::IncompleteSignature { .. })),
            // hh flips by an hour or more; mm and ss by under fifteen minutes.
            9 | 10 => matches!(
                result,
                Err(SigV4Error::SignatureExpired { .. } | SigV4Error::SignatureNotYetCurrent { .. })
            ),
            _ => result == Err(SigV4Error::SignatureDoesNotMatch),
        };
        assert!(expected_ok, "date {date}: {result:?}");
    }
    let mut changed = hs.clone();
    set_header(&mut changed, "x-amz-date", "20240103T030405Z".to_owned());
    let result = verify_kinesis(&changed, KINESIS_BODY, KINESIS_EPOCH_SECS + 86_400);
    assert_eq!(
        result.unwrap_err().to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
         '20240102' != '20240103', from '20240103T030405Z'."
    );
}

/// Dates more than fifteen minutes either side of the clock fail; the edges pass.
#[test]
fn dates_outside_the_skew_window_fail() {
    let hs = signed_kinesis(&[], KINESIS_BODY);
    let window = 15 * 60;
    assert!(verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS + window).is_ok());
    assert!(verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS - window).is_ok());
    let expired = verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS + window + 1).unwrap_err();
    assert!(matches!(expired, SigV4Error::SignatureExpired { .. }));
    assert_eq!(
        expired.to_string(),
        "Signature expired: 20240102T030405Z is now earlier than 20240102T030406Z (20240102T031906Z - 15 min.)"
    );
    assert_eq!(expired.code(), "InvalidSignatureException");
    let future = verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS - window - 1).unwrap_err();
    assert!(matches!(future, SigV4Error::SignatureNotYetCurrent { .. }));
    assert_eq!(
        future.to_string(),
        "Signature not yet current: 20240102T030405Z is still later than 20240102T030404Z (20240102T024904Z + 15 min.)"
    );
    assert_eq!(future.code(), "InvalidSignatureException");
}

/// An access key the lookup does not know is refused as UnrecognizedClient.
#[test]
fn unknown_access_key_fails() {
    let mut hs = kinesis_headers(&[]);
    let params = SigningParams {
        access_key_id: "AKIAUNKNOWN",
        ..kinesis_params(KINESIS_DATE)
    };
    let authorization = sign(&request("POST", "/", "", &hs, KINESIS_BODY), &params);
    hs.push(("Authorization".to_owned(), authorization));
    let error = verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS).unwrap_err();
    assert_eq!(
        error,
        SigV4Error::UnrecognizedClient {
            access_key_id: "AKIAUNKNOWN".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "The security token included in the request is invalid."
    );
    assert_eq!(
        (error.code(), error.http_status()),
        ("UnrecognizedClientException", 400)
    );
}

/// A signature that does not cover `host` is refused even when otherwise valid.
#[test]
fn unsigned_host_fails() {
    let mut hs = headers(&[
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Date", KINESIS_DATE),
    ]);
    let authorization = sign(
        &request("POST", "/", "", &hs, KINESIS_BODY),
        &kinesis_params(KINESIS_DATE),
    );
    hs.push((
        "Host".to_owned(),
        "kinesis.us-east-1.amazonaws.com".to_owned(),
    ));
    hs.push(("Authorization".to_owned(), authorization));
    let error = verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS).unwrap_err();
    assert_eq!(error, SigV4Error::HostNotSigned);
    assert_eq!(
        error.to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
    assert_eq!(error.code(), "InvalidSignatureException");
}

/// A declared payload hash must equal the body's hash.
#[test]
fn content_sha256_header_must_match_the_body() {
    let real = hex(&Sha256::digest(KINESIS_BODY));
    let hs = signed_kinesis(&[("X-Amz-Content-Sha256", real.as_str())], KINESIS_BODY);
    assert!(verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS).is_ok());
    let hs = signed_kinesis(
        &[("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")],
        KINESIS_BODY,
    );
    assert_eq!(
        verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

/// A large body hashed in uneven pieces, as the server reads it, has the hash of
/// the whole body and verifies; a changed last byte does not.
#[test]
fn large_body_hashed_in_pieces_verifies() {
    let body: Vec<u8> = (0..(3u32 << 20) + 17).map(|i| (i % 251) as u8).collect();
    let mut hasher = PayloadHasher::default();
    for piece in body.chunks(16_381) {
        hasher.update(piece);
    }
    let payload = hasher.finish();
    assert_eq!(payload, PayloadHash::of(&body));
    let hs = signed_kinesis(&[], &body);
    let mut signed = request("POST", "/", "", &hs, &[]);
    signed.payload = payload;
    assert!(verify(&signed, &secrets, at(KINESIS_EPOCH_SECS)).is_ok());
    let mut changed = body.clone();
    *changed.last_mut().unwrap() ^= 1;
    signed.payload = PayloadHash::of(&changed);
    assert_eq!(
        verify(&signed, &secrets, at(KINESIS_EPOCH_SECS)),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

/// A request presigned in its query string for `expires` seconds at KINESIS_DATE.
fn presigned_query(expires: u32) -> String {
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAKINESIS%2F20240102%2Fus-east-1%2Fkinesis%2Faws4_request&X-Amz-Date={KINESIS_DATE}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
    );
    let hs = headers(&[("Host", "kinesis.us-east-1.amazonaws.com")]);
    let canonical = canonical_request(
        &request("POST", "/", &query, &hs, KINESIS_BODY),
        &["host".to_owned()],
        &PayloadHash::of(KINESIS_BODY).to_hex(),
    );
    let scope = "20240102/us-east-1/kinesis/aws4_request";
    let to_sign = string_to_sign(KINESIS_DATE, scope, &canonical);
    let key = signing_key("kinesis-secret", "20240102", "us-east-1", "kinesis");
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    format!("{query}&X-Amz-Signature={signature}")
}

/// A query-string signature verifies within its X-Amz-Expires and fails after
/// it, or with a changed body.
#[test]
fn presigned_query_verifies() {
    let hs = headers(&[("Host", "kinesis.us-east-1.amazonaws.com")]);
    let verify_at = |query: &str, body: &[u8], secs: u64| {
        verify(&request("POST", "/", query, &hs, body), &secrets, at(secs))
    };
    let query = presigned_query(7200);
    assert!(verify_at(&query, KINESIS_BODY, KINESIS_EPOCH_SECS).is_ok());
    assert!(verify_at(&query, KINESIS_BODY, KINESIS_EPOCH_SECS + 3600).is_ok());
    assert_eq!(
        verify_at(&query, b"{}", KINESIS_EPOCH_SECS),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    let short = presigned_query(300);
    assert!(matches!(
        verify_at(&short, KINESIS_BODY, KINESIS_EPOCH_SECS + 3600),
        Err(SigV4Error::SignatureExpired { .. })
    ));
}

/// Query-string signing errors in AWS's words: both forms at once, missing or
/// empty parameters named in order, and parameters without X-Amz-Algorithm
/// taken as no signature at all.
#[test]
fn query_signing_errors() {
    let bare = headers(&[("Host", "kinesis.us-east-1.amazonaws.com")]);
    let with_header = signed_kinesis(&[], KINESIS_BODY);
    let check = |query: &str, hs: &[(String, String)]| {
        verify(
            &request("POST", "/", query, hs, KINESIS_BODY),
            &secrets,
            at(KINESIS_EPOCH_SECS),
        )
    };
    let both = check("X-Amz-Algorithm", &with_header).unwrap_err();
    assert_eq!(both, SigV4Error::BothAuthorizationForms);
    assert_eq!(both.code(), "InvalidSignatureException");
    assert_eq!(
        both.to_string(),
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    );
    assert_eq!(
        incomplete_message(check("X-Amz-Algorithm", &bare)),
        "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
    );
    assert_eq!(
        incomplete_message(check(
            "X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c&X-Amz-Date=d",
            &bare
        )),
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
    );
    assert_eq!(
        check(
            "X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=c&X-Amz-Date=d",
            &bare
        ),
        Err(SigV4Error::MissingAuthenticationToken)
    );
}

/// No Authorization header at all is MissingAuthenticationToken.
#[test]
fn missing_authorization_fails() {
    let hs = kinesis_headers(&[]);
    let error = verify_kinesis(&hs, KINESIS_BODY, KINESIS_EPOCH_SECS).unwrap_err();
    assert_eq!(error, SigV4Error::MissingAuthenticationToken);
    assert_eq!(error.to_string(), "Missing Authentication Token");
    assert_eq!(
        (error.code(), error.http_status()),
        ("MissingAuthenticationTokenException", 400)
    );
}

fn verify_authorization(authorization: &str, date: Option<&str>) -> Result<Principal, SigV4Error> {
    let mut pairs = vec![
        ("Host", "kinesis.us-east-1.amazonaws.com"),
        ("Authorization", authorization),
    ];
    if let Some(date) = date {
        pairs.push(("X-Amz-Date", date));
    }
    verify_kinesis(&headers(&pairs), KINESIS_BODY, KINESIS_EPOCH_SECS)
}

fn incomplete_message(result: Result<Principal, SigV4Error>) -> String {
    match result {
        Err(error @ SigV4Error::IncompleteSignature { .. }) => {
            assert_eq!(
                (error.code(), error.http_status()),
                ("IncompleteSignatureException", 400)
            );
            error.to_string()
        }
        other => panic!("expected IncompleteSignature, got {other:?}"),
    }
}

/// Malformed Authorization headers name what is missing, in AWS's words.
#[test]
fn malformed_authorization_is_incomplete_signature() {
    assert_eq!(
        incomplete_message(verify_authorization("X", None)),
        "Authorization header requires 'Credential' parameter. \
         Authorization header requires 'Signature' parameter. \
         Authorization header requires 'SignedHeaders' parameter. \
         Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
         Authorization=X"
    );
    assert_eq!(
        incomplete_message(verify_authorization("AWS4- Signature=b, Credential=a", Some(KINESIS_DATE))),
        "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b, Credential=a"
    );
    let complete = "Credential=AKIAKINESIS/20240102/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00";
    assert_eq!(
        incomplete_message(verify_authorization(
            &format!("AWS4-HMAC-SHA512 {complete}"),
            Some(KINESIS_DATE)
        )),
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."
    );
    assert_eq!(
        incomplete_message(verify_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIAKINESIS/20240102/us-east-1, SignedHeaders=host, Signature=00",
            Some(KINESIS_DATE)
        )),
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, \
         got 'AKIAKINESIS/20240102/us-east-1'"
    );
    assert_eq!(
        incomplete_message(verify_authorization(&format!("AWS4-HMAC-SHA256 {complete}"), Some("2024-01-02T03:04:05Z"))),
        "Date must be in ISO-8601 'basic format'. Got '2024-01-02T03:04:05Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
    let terminator = verify_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIAKINESIS/20240102/us-east-1/kinesis/aws5_request,SignedHeaders=host,Signature=00",
        Some(KINESIS_DATE),
    );
    assert_eq!(
        terminator,
        Err(SigV4Error::CredentialTerminator {
            terminator: "aws5_request".into()
        })
    );
}

/// A request dated only by the HTTP `Date` header verifies like one with X-Amz-Date.
#[test]
fn http_date_header_is_accepted() {
    let mut hs = headers(&[
        ("Date", "Sun, 30 Aug 2015 12:36:00 GMT"),
        ("Host", "example.amazonaws.com"),
    ]);
    let params = SigningParams {
        access_key_id: SUITE_AKID,
        secret_access_key: SUITE_SECRET,
        region: "us-east-1",
        service: "service",
        amz_date: SUITE_DATE,
    };
    let authorization = sign(&request("GET", "/", "", &hs, b""), &params);
    hs.push(("Authorization".to_owned(), authorization));
    assert!(verify(
        &request("GET", "/", "", &hs, b""),
        &secrets,
        at(SUITE_EPOCH_SECS)
    )
    .is_ok());
    assert_eq!(
        parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"),
        Some(1_440_938_160)
    );
    assert_eq!(parse_http_date("Sun, 31 Feb 2015 12:36:00 GMT"), None);
}

/// Every variant maps to the Kinesis error code and status the server returns.
#[test]
fn codes_and_statuses() {
    let cases = [
        (
            SigV4Error::MissingAuthenticationToken,
            "MissingAuthenticationTokenException",
        ),
        (
            SigV4Error::IncompleteSignature {
                message: String::new(),
            },
            "IncompleteSignatureException",
        ),
        (
            SigV4Error::UnrecognizedClient {
                access_key_id: String::new(),
            },
            "UnrecognizedClientException",
        ),
        (
            SigV4Error::SignatureDoesNotMatch,
            "InvalidSignatureException",
        ),
        (SigV4Error::HostNotSigned, "InvalidSignatureException"),
    ];
    for (error, code) in cases {
        assert_eq!(
            (error.code(), error.http_status()),
            (code, 400),
            "{error:?}"
        );
    }
    assert_eq!(
        SigV4Error::SignatureDoesNotMatch.to_string(),
        "The request signature we calculated does not match the signature you provided. Check your AWS \
         Secret Access Key and signing method. Consult the service documentation for details."
    );
}

proptest! {
    /// Any Authorization string is refused without a panic, and one lacking a required
    /// parameter is always IncompleteSignature.
    #[test]
    fn arbitrary_authorization_never_panics(authorization in any::<String>(), with_date in any::<bool>()) {
        let result = verify_authorization(&authorization, with_date.then_some(KINESIS_DATE));
        prop_assert!(result.is_err());
        let complete = ["Credential=", "Signature=", "SignedHeaders="].iter().all(|key| authorization.contains(key));
        if !complete || !with_date {
            prop_assert!(matches!(result, Err(SigV4Error::IncompleteSignature { .. })), "{:?}", result);
        }
    }

    /// Structured but arbitrary parameter values never panic and never verify.
    #[test]
    fn arbitrary_parameters_never_panic(
        credential in "[ -~]{0,40}", signed in "[ -~;]{0,30}", signature in "[0-9a-fA-Z]{0,70}", date in "[0-9TZ]{0,20}",
    ) {
        let authorization = format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature={signature}");
        prop_assert!(verify_authorization(&authorization, Some(&date)).is_err());
    }

    /// Whatever the path, query, body and header value, what `sign` signs `verify` accepts.
    #[test]
    fn sign_then_verify_round_trips(
        path in "/[ -~]{0,30}", query in "[ -~]{0,30}", body in proptest::collection::vec(any::<u8>(), 0..200),
        value in "[ -~]{0,30}",
    ) {
        let mut hs = kinesis_headers(&[("X-Custom", value.as_str())]);
        let authorization = sign(&request("POST", &path, &query, &hs, &body), &kinesis_params(KINESIS_DATE));
        hs.push(("Authorization".to_owned(), authorization));
        let result = verify(&request("POST", &path, &query, &hs, &body), &secrets, at(KINESIS_EPOCH_SECS));
        prop_assert!(result.is_ok(), "{:?}", result);
    }

    /// Formatting then parsing an X-Amz-Date gives back the same second, years 0000-9999.
    #[test]
    fn amz_date_round_trips(secs in -62_167_219_200i64..253_402_300_800) {
        prop_assert_eq!(parse_amz_date(&format_amz_secs(secs)), Some(secs));
    }
}

//! The `Authorization` header: its parameters, the credential scope and the
//! signed header names, with AWS's messages for each missing or malformed part.

use super::{incomplete, SigV4Error, SCOPE_TERMINATOR};

/// The request's date header and the parser for its format.
#[derive(Clone, Copy)]
pub(super) struct RequestDate<'a> {
    pub(super) value: &'a str,
    pub(super) parse: fn(&str) -> Option<i64>,
}

/// The signature's parts, from the header or from the query string.
pub(super) struct AuthorizationParts<'a> {
    pub(super) algorithm: &'a str,
    pub(super) date: RequestDate<'a>,
    pub(super) credential: &'a str,
    pub(super) signed_headers: &'a str,
    pub(super) signature: &'a str,
}

/// `<key>/<date>/<region>/<service>/aws4_request`, split.
pub(super) struct CredentialScope<'a> {
    pub(super) access_key_id: &'a str,
    pub(super) date: &'a str,
    pub(super) region: &'a str,
    pub(super) service: &'a str,
}

impl CredentialScope<'_> {
    pub(super) fn string(&self) -> String {
        format!(
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// Splits `ALG Credential=..., SignedHeaders=..., Signature=...`. Like kinesalite, any run
/// of commas and spaces separates parameters, a parameter with an empty value counts as
/// missing, and a repeated parameter keeps its last value.
pub(super) fn parse_authorization<'a>(
    value: &'a str,
    date: Option<RequestDate<'a>>,
) -> Result<AuthorizationParts<'a>, SigV4Error> {
    let mut tokens = value
        .split([',', ' ', '\t'])
        .filter(|token| !token.is_empty());
    let algorithm = tokens.next().unwrap_or("");
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for token in tokens {
        match token.split_once('=') {
            Some(("Credential", v)) if !v.is_empty() => credential = Some(v),
            Some(("SignedHeaders", v)) if !v.is_empty() => signed_headers = Some(v),
            Some(("Signature", v)) if !v.is_empty() => signature = Some(v),
            _ => {}
        }
    }
    let mut message = String::new();
    for (name, found) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !found {
            message.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if date.is_none() {
        message.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    match (credential, signed_headers, signature, date) {
        (Some(credential), Some(signed_headers), Some(signature), Some(date)) => {
            Ok(AuthorizationParts {
                algorithm,
                date,
                credential,
                signed_headers,
                signature,
            })
        }
        _ => Err(incomplete(format!("{message}Authorization={value}"))),
    }
}

pub(super) fn parse_credential(credential: &str) -> Result<CredentialScope<'_>, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if terminator != SCOPE_TERMINATOR {
        return Err(SigV4Error::CredentialTerminator {
            terminator: terminator.to_owned(),
        });
    }
    Ok(CredentialScope {
        access_key_id,
        date,
        region,
        service,
    })
}

/// Lower-cased, sorted, de-duplicated header names; empty names are dropped.
pub(super) fn parse_signed_headers(list: &str) -> Vec<String> {
    let mut names: Vec<String> = list
        .split(';')
        .filter(|name| !name.is_empty())
        .map(|name| name.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

//! The query-string ("presigned") form: `X-Amz-Algorithm`, `X-Amz-Credential`,
//! `X-Amz-Date`, `X-Amz-SignedHeaders`, `X-Amz-Signature` and optionally
//! `X-Amz-Expires` in the URL instead of an `Authorization` header.

use super::canonical::percent_decode;
use super::header::{AuthorizationParts, RequestDate};
use super::{incomplete, parse_amz_date, SigV4Error};

/// Query-string parameters, names and values percent-decoded.
pub(super) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub(super) fn parse(query: &str) -> QueryParams {
        let decode = |text: &str| String::from_utf8_lossy(&percent_decode(text)).into_owned();
        QueryParams(
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(name), decode(value))
                })
                .collect(),
        )
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// The signature parameters; any missing or empty one is named, in AWS's order
    /// and words.
    pub(super) fn authorization(&self) -> Result<AuthorizationParts<'_>, SigV4Error> {
        let present = |name: &str| self.get(name).filter(|value| !value.is_empty());
        let names = [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-SignedHeaders",
            "X-Amz-Date",
        ];
        let missing: String = names
            .iter()
            .filter(|name| present(name).is_none())
            .map(|name| format!("AWS query-string parameters must include '{name}'. "))
            .collect();
        if !missing.is_empty() {
            return Err(incomplete(format!(
                "{missing}Re-examine the query-string parameters."
            )));
        }
        let [algorithm, credential, signature, signed_headers, date] =
            names.map(|name| present(name).unwrap_or_default());
        Ok(AuthorizationParts {
            algorithm,
            date: RequestDate {
                value: date,
                parse: parse_amz_date,
            },
            credential,
            signed_headers,
            signature,
        })
    }
}

/// The raw query without `X-Amz-Signature`, which the signature cannot cover.
pub(super) fn without_signature(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            percent_decode(name) != b"X-Amz-Signature"
        })
        .collect::<Vec<_>>()
        .join("&")
}

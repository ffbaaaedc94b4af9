//! A minimal blocking client for the Kinesis JSON 1.1 API of a shardlog server (or AWS-compatible endpoint without auth).

use serde_json::Value;
use std::time::Duration;

/// Largest response body read: a GetRecords of 10,000 records of up to 1 MiB is
/// capped at 10 MiB of data by Kinesis, which base64 and JSON inflate.
const RESPONSE_BYTES_MAX: u64 = 64 << 20;
/// Longest a request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The Kinesis JSON 1.1 content type.
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A Kinesis API endpoint and the agent whose connections are reused.
pub struct Client {
    endpoint: String,
    agent: ureq::Agent,
}

/// Why a call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The request did not get an HTTP response (connection refused, timeout, bad URL).
    Transport(String),
    /// The service answered with an error: `__type` (without any `prefix#`), message, HTTP status.
    Service {
        /// The error code, e.g. `ResourceNotFoundException`.
        code: String,
        /// The service's message.
        message: String,
        /// The HTTP status.
        status: u16,
    },
    /// The response was not the JSON expected.
    Decode(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Transport(why) => write!(f, "transport error: {why}"),
            ClientError::Service {
                code,
                message,
                status,
            } => write!(f, "{code}: {message} (HTTP {status})"),
            ClientError::Decode(why) => write!(f, "unexpected response: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl Client {
    /// `endpoint` like "http://127.0.0.1:4567"; errors on a URL that is not http(s).
    pub fn new(endpoint: &str) -> Result<Client, ClientError> {
        let rest = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .ok_or_else(|| {
                ClientError::Transport(format!(
                    "endpoint '{endpoint}' must start with http:// or https://"
                ))
            })?;
        if rest.trim_end_matches('/').is_empty() {
            return Err(ClientError::Transport(format!(
                "endpoint '{endpoint}' has no host"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(Client {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            agent,
        })
    }

    /// POSTs `body` as `Kinesis_20131202.<action>` (application/x-amz-json-1.1) and returns the JSON response.
    pub fn call(&self, action: &str, body: &Value) -> Result<Value, ClientError> {
        let request = serde_json::to_vec(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        let mut response = self
            .agent
            .post(format!("{}/", self.endpoint))
            .header("X-Amz-Target", format!("Kinesis_20131202.{action}"))
            .content_type(CONTENT_TYPE)
            .send(&request[..])
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_vec()
            .map_err(|e| ClientError::Transport(format!("reading the response: {e}")))?;
        if status >= 400 {
            return Err(service_error(status, &bytes));
        }
        if bytes.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Decode(format!(
                "{action} answered HTTP {status} with non-JSON: {e}"
            ))
        })
    }
}

/// The error of a status >= 400 answer: `__type` (after any `#`) and `message`
/// (or `Message`) when the body is Kinesis-shaped JSON, else the raw text.
fn service_error(status: u16, bytes: &[u8]) -> ClientError {
    let json: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let code = json["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .unwrap_or_else(|| format!("HTTP{status}"));
    let message = json["message"]
        .as_str()
        .or_else(|| json["Message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    ClientError::Service {
        code,
        message,
        status,
    }
}

#[cfg(test)]
mod tests {
    //! Endpoint checks and error decoding.
    use super::*;

    /// Only http(s) URLs with a host are accepted.
    #[test]
    fn new_rejects_non_http_urls() {
        assert!(matches!(
            Client::new("ftp://x"),
            Err(ClientError::Transport(_))
        ));
        assert!(matches!(
            Client::new("http://"),
            Err(ClientError::Transport(_))
        ));
        assert!(Client::new("http://127.0.0.1:1").is_ok());
    }

    /// The `prefix#` of `__type` is dropped and the display names code and status.
    #[test]
    fn service_errors_decode() {
        let body = br#"{"__type":"com.amazonaws#ResourceNotFoundException","message":"Stream x not found"}"#;
        let error = service_error(400, body);
        assert_eq!(
            error.to_string(),
            "ResourceNotFoundException: Stream x not found (HTTP 400)"
        );
        let plain = service_error(503, b"busy");
        assert!(
            matches!(plain, ClientError::Service { status: 503, ref message, .. } if message == "busy")
        );
    }

    /// A refused connection is a transport error.
    #[test]
    fn refused_connection_is_transport() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let error = client
            .call("ListStreams", &serde_json::json!({}))
            .unwrap_err();
        assert!(matches!(error, ClientError::Transport(_)), "{error}");
    }
}

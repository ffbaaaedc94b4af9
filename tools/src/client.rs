//! A minimal blocking client for the JSON APIs of a shardlog server (or an AWS-compatible
//! endpoint without auth): Kinesis (JSON 1.1), SQS (JSON 1.0) and SNS (query protocol).

use std::time::Duration;

mod cbor;
mod per_thread;

/// The `X-Amz-Target` prefix of Kinesis actions.
const TARGET_PREFIX: &str = "Kinesis_20131202.";
/// The `X-Amz-Target` prefix of SQS actions.
const SQS_TARGET_PREFIX: &str = "AmazonSQS.";
/// The SNS API version every query request names.
const SNS_VERSION: &str = "2010-03-31";
/// Largest response body read: a GetRecords answer holds up to 10 MiB of data,
/// which base64 makes about 14 MiB.
const RESPONSE_BYTES_MAX: u64 = 64 << 20;
/// The X-Amz-Date of unsigned requests: the date of their credential scope.
const UNSIGNED_DATE: &str = "20260101T000000Z";
/// Longest each phase of a request may take: connecting, sending the request
/// and its body, awaiting the answer, reading its body. Not a timeout on the
/// whole call: with one (ureq's global or per-call timeout) ureq resolves the
/// host on a thread it spawns for each request, hundreds a second in the bench,
/// which was more than half of its SQS load generator's CPU (46 against 20 µs a
/// message). Resolving stays unbounded (an IP address or a local name resolves
/// at once).
const PHASE_TIMEOUT_MS: u64 = 60_000;
/// Idle connections kept for reuse (one endpoint per client). ureq keeps 3 per
/// host by default: with more threads sharing a client (the bench runs 16
/// senders, or 10 SQS consumers and 4 SNS publishers), every call beyond the
/// third in flight closed its connection and the next one connected again, a
/// connect, accept and close per few calls on both sides. This covers the
/// bench's thread counts; the server closes what stays idle too long.
const IDLE_CONNECTIONS_MAX: usize = 1024;

/// A client of one endpoint; connections are reused across calls.
pub struct Client {
    endpoint: String,
    agent: ureq::Agent,
    /// An Authorization header sent with every request (see [`Client::unsigned_scope`]).
    authorization: Option<String>,
    /// `host:port` of a plain-HTTP endpoint whose calls go over one connection
    /// per calling thread (see [`Client::per_thread_connections`]).
    per_thread: Option<String>,
}

/// Why a call failed.
#[derive(Debug)]
pub enum ClientError {
    /// `endpoint` is not an http:// or https:// URL with a host.
    BadUrl(String),
    /// The request did not get an HTTP response (connection refused, timeout, reset).
    Transport {
        /// The endpoint the request went to.
        url: String,
        /// What went wrong.
        message: String,
    },
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
            ClientError::BadUrl(url) => write!(f, "'{url}' is not an http:// or https:// URL"),
            ClientError::Transport { url, message } => {
                write!(f, "cannot reach the server at {url}: {message}")
            }
            ClientError::Service {
                code,
                message,
                status,
            } => write!(f, "{code}: {message} (HTTP {status})"),
            ClientError::Decode(message) => write!(f, "unexpected response: {message}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl Client {
    /// `endpoint` like "http://127.0.0.1:4567"; errors on a URL that is not http(s).
    pub fn new(endpoint: &str) -> Result<Client, ClientError> {
        let rest = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') => {}
            _ => return Err(ClientError::BadUrl(endpoint.to_string())),
        }
        let phase_timeout = Duration::from_millis(PHASE_TIMEOUT_MS);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(phase_timeout))
            .timeout_send_request(Some(phase_timeout))
            .timeout_send_body(Some(phase_timeout))
            .timeout_recv_response(Some(phase_timeout))
            .timeout_recv_body(Some(phase_timeout))
            .max_idle_connections(IDLE_CONNECTIONS_MAX)
            .max_idle_connections_per_host(IDLE_CONNECTIONS_MAX)
            .build()
            .into();
        Ok(Client {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            agent,
            authorization: None,
            per_thread: None,
        })
    }

    /// Makes every call of this client go over one HTTP/1.1 connection per
    /// calling thread, kept for that thread's next calls, instead of ureq's
    /// shared pool: for the bench's load generators, whose threads call without
    /// pause. Only for plain-HTTP endpoints without a path; others keep ureq.
    pub fn per_thread_connections(mut self) -> Client {
        let authority = self.endpoint.strip_prefix("http://");
        self.per_thread = authority
            .filter(|authority| !authority.contains('/'))
            .map(str::to_string);
        self
    }

    /// Sends an unsigned AWS Signature V4 Authorization header whose credential
    /// scope names `service`: servers that route requests by that scope (moto's
    /// server, which takes every service on one port) then know the service, as
    /// they do from the SDKs' signed requests. The signature is zeros: a server
    /// that checks signatures refuses it, as it refuses no header at all.
    pub fn unsigned_scope(mut self, service: &str) -> Client {
        self.authorization = Some(format!(
            "AWS4-HMAC-SHA256 Credential=shardlog/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={}",
            "0".repeat(64)
        ));
        self
    }

    /// POSTs `body` as `Kinesis_20131202.<action>` (application/x-amz-json-1.1) and returns the JSON response.
    pub fn call(
        &self,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        self.call_json(TARGET_PREFIX, "application/x-amz-json-1.1", action, body)
    }

    /// POSTs `body`, already JSON, as `Kinesis_20131202.<action>` and reads the
    /// answer into `answer` (cleared first): for callers that encode their own
    /// requests and reuse their buffers (the bench's producers). An error answer is
    /// a [`ClientError::Service`].
    pub fn send_json(
        &self,
        action: &str,
        body: &[u8],
        answer: &mut Vec<u8>,
    ) -> Result<(), ClientError> {
        let target = (TARGET_PREFIX, action);
        self.send_encoded(target, "application/x-amz-json-1.1", body, answer)
    }

    /// POSTs `body`, already JSON, as `AmazonSQS.<action>` and reads the answer
    /// into `answer` (cleared first), as [`Client::send_json`] does for Kinesis:
    /// for the bench's SQS senders and receivers.
    pub fn send_sqs(
        &self,
        action: &str,
        body: &[u8],
        answer: &mut Vec<u8>,
    ) -> Result<(), ClientError> {
        let target = (SQS_TARGET_PREFIX, action);
        self.send_encoded(target, "application/x-amz-json-1.0", body, answer)
    }

    /// [`Client::send`] with an error answer turned into a [`ClientError::Service`].
    fn send_encoded(
        &self,
        target: (&str, &str),
        content_type: &str,
        body: &[u8],
        answer: &mut Vec<u8>,
    ) -> Result<(), ClientError> {
        let status = self.send(target, content_type, body, answer)?;
        if status >= 400 {
            return Err(service_error(status, &String::from_utf8_lossy(answer)));
        }
        Ok(())
    }

    /// POSTs `body` with `content_type` as the action `target` names (prefix and
    /// action) and reads the answer, at most [`RESPONSE_BYTES_MAX`], into `answer`;
    /// returns the HTTP status.
    fn send(
        &self,
        (target_prefix, action): (&str, &str),
        content_type: &str,
        body: &[u8],
        answer: &mut Vec<u8>,
    ) -> Result<u16, ClientError> {
        use std::io::Read as _;
        if let Some(authority) = &self.per_thread {
            let target = format!("{target_prefix}{action}");
            let mut headers = vec![("x-amz-target", target.as_str())];
            headers.push(("content-type", content_type));
            if let Some(authorization) = &self.authorization {
                headers.push(("authorization", authorization));
                headers.push(("x-amz-date", UNSIGNED_DATE));
            }
            let post = per_thread::Post {
                authority,
                headers: &headers,
                timeout: Duration::from_millis(PHASE_TIMEOUT_MS),
                answer_bytes_max: RESPONSE_BYTES_MAX as usize,
            };
            return per_thread::post(&post, body, answer).map_err(|error| self.transport(error));
        }
        let request = self
            .agent
            .post(format!("{}/", self.endpoint))
            .header("X-Amz-Target", format!("{target_prefix}{action}"))
            .header("Content-Type", content_type);
        let mut response = self
            .authorize(request)
            .send(body)
            .map_err(|error| self.transport(error.to_string()))?;
        answer.clear();
        response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .reader()
            .read_to_end(answer)
            .map_err(|error| self.transport(format!("reading the response: {error}")))?;
        Ok(response.status().as_u16())
    }

    /// POSTs `body` as `AmazonSQS.<action>` (application/x-amz-json-1.0, what current
    /// SDKs send) and returns the JSON response.
    pub fn call_sqs(
        &self,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        self.call_json(
            SQS_TARGET_PREFIX,
            "application/x-amz-json-1.0",
            action,
            body,
        )
    }

    /// POSTs `params` (a JSON object of string or number values) form-encoded as the
    /// SNS query action `action` and returns the XML answer as a JSON string; an
    /// error answer's `<Code>` and `<Message>` become [`ClientError::Service`].
    pub fn call_sns(
        &self,
        action: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let mut form = vec![
            ("Action".to_string(), action.to_string()),
            ("Version".to_string(), SNS_VERSION.to_string()),
        ];
        for (key, value) in params.as_object().into_iter().flatten() {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            form.push((key.clone(), value));
        }
        let request = self.authorize(self.agent.post(format!("{}/", self.endpoint)));
        let response = request
            .send_form(form)
            .map_err(|error| self.transport(error.to_string()))?;
        let (status, text) = self.read(response)?;
        if status >= 400 {
            let tag = |name: &str| xml_text(&text, name).map(str::to_string);
            return Err(ClientError::Service {
                code: tag("Code").unwrap_or_else(|| format!("HTTP{status}")),
                message: tag("Message").unwrap_or_else(|| text.trim().to_string()),
                status,
            });
        }
        Ok(serde_json::Value::String(text))
    }

    /// The status and body text of `response`, at most [`RESPONSE_BYTES_MAX`].
    fn read(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<(u16, String), ClientError> {
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_string()
            .map_err(|error| self.transport(format!("reading the response: {error}")))?;
        Ok((status, text))
    }

    fn call_json(
        &self,
        target_prefix: &str,
        content_type: &str,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let mut answer = Vec::new();
        let target = (target_prefix, action);
        let status = self.send(
            target,
            content_type,
            body.to_string().as_bytes(),
            &mut answer,
        )?;
        let text = String::from_utf8_lossy(&answer);
        if status >= 400 {
            return Err(service_error(status, &text));
        }
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(serde_json::Value::Object(serde_json::Map::new()));
        }
        serde_json::from_str(trimmed).map_err(|error| {
            ClientError::Decode(format!("{action} answered HTTP {status} with {error}"))
        })
    }

    /// `request` with the Authorization header of [`Client::unsigned_scope`], if
    /// any, and the X-Amz-Date that its scope's date stands for (servers that
    /// check the header's form, such as kinesalite, want both).
    fn authorize(
        &self,
        request: ureq::RequestBuilder<ureq::typestate::WithBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        match &self.authorization {
            Some(authorization) => request
                .header("Authorization", authorization)
                .header("X-Amz-Date", UNSIGNED_DATE),
            None => request,
        }
    }

    /// A transport failure of a request to this client's endpoint.
    fn transport(&self, message: String) -> ClientError {
        ClientError::Transport {
            url: self.endpoint.clone(),
            message,
        }
    }
}

/// The text of the first `<tag>` element of `xml` (no entity decoding: the SNS
/// fields read here, ARNs, ids, codes, carry none that matter).
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}

/// The error an HTTP error response carries: `__type` (or `code`) and `message`.
fn service_error(status: u16, text: &str) -> ClientError {
    let json: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| json.get(*name).and_then(|value| value.as_str()))
            .map(str::to_string)
    };
    let code = field(&["__type", "code", "Code"]).unwrap_or_else(|| format!("HTTP{status}"));
    let code = code.rsplit('#').next().unwrap_or_default().to_string();
    let message = field(&["message", "Message"]).unwrap_or_else(|| text.trim().to_string());
    ClientError::Service {
        code,
        message,
        status,
    }
}

#[cfg(test)]
mod tests {
    //! URL checks, error decoding and connection reuse.
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Reads one request, headers and body; `false` once the client closed.
    fn read_request(reader: &mut impl BufRead) -> std::io::Result<bool> {
        let mut body_len = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(false);
            }
            let lower = line.to_ascii_lowercase();
            if let Some(len) = lower.strip_prefix("content-length:") {
                body_len = len.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        reader.read_exact(&mut vec![0; body_len])?;
        Ok(true)
    }

    /// Answers `{}` to every request of one connection until the client closes it.
    fn answer_requests(stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        while read_request(&mut reader)? {
            writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")?;
        }
        Ok(())
    }

    /// Threads sharing a client keep their connections: however the calls of 8
    /// threads interleave, no more than 8 connections are ever made (ureq's
    /// default pool kept 3 idle, so busier callers connected again and again).
    #[test]
    fn concurrent_callers_reuse_their_connections() {
        const THREADS: usize = 8;
        const CALLS_PER_THREAD: usize = 25;
        let (address, accepted) = serve_answers(answer_requests);
        let client = Arc::new(Client::new(&format!("http://{address}")).unwrap());
        let callers: Vec<_> = (0..THREADS)
            .map(|_| {
                let client = Arc::clone(&client);
                std::thread::spawn(move || {
                    for _ in 0..CALLS_PER_THREAD {
                        let answer = client.call("ListStreams", &serde_json::json!({}));
                        assert_eq!(answer.unwrap(), serde_json::json!({}));
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.join().unwrap();
        }
        let connections = accepted.load(Ordering::SeqCst);
        assert!(
            (1..=THREADS).contains(&connections),
            "{connections} connections for {THREADS} threads"
        );
    }

    /// With per-thread connections each calling thread keeps its own: 4 threads
    /// of 25 calls connect 4 times, and every call gets its answer.
    #[test]
    fn per_thread_connections_are_kept_per_thread() {
        const THREADS: usize = 4;
        let (address, accepted) = serve_answers(answer_requests);
        let url = format!("http://{address}");
        let client = Arc::new(Client::new(&url).unwrap().per_thread_connections());
        let callers: Vec<_> = (0..THREADS)
            .map(|_| {
                let client = Arc::clone(&client);
                std::thread::spawn(move || {
                    let mut answer = Vec::new();
                    for _ in 0..25 {
                        client.send_sqs("ListQueues", b"{}", &mut answer).unwrap();
                        assert_eq!(answer, b"{}");
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.join().unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), THREADS);
    }

    /// A server that closes each connection after one answer is connected to
    /// again for the next call, and every call is answered once.
    #[test]
    fn per_thread_connections_reconnect_after_a_close() {
        let answer_once = |stream: TcpStream| {
            read_request(&mut BufReader::new(stream.try_clone()?))?;
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
            (&stream).write_all(answer)
        };
        let (address, accepted) = serve_answers(answer_once);
        let client = Client::new(&format!("http://{address}"))
            .unwrap()
            .per_thread_connections();
        let mut answer = Vec::new();
        for _ in 0..5 {
            client.send_sqs("ListQueues", b"{}", &mut answer).unwrap();
            assert_eq!(answer, b"{}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 5);
    }

    /// A keep-alive connection that the server closes while it sits idle (as
    /// shardlog does after `--header-read-timeout-ms`) is replaced before the
    /// next call, which is answered, instead of failing unanswered: the server here
    /// closes each connection only once the client's call has returned.
    #[test]
    fn per_thread_connections_replace_one_closed_while_idle() {
        static CLOSE_ASKED: AtomicUsize = AtomicUsize::new(0);
        static CLOSED: AtomicUsize = AtomicUsize::new(0);
        let answer_then_close_when_asked = |stream: TcpStream| {
            read_request(&mut BufReader::new(stream.try_clone()?))?;
            (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")?;
            wait_until(|| CLOSE_ASKED.load(Ordering::SeqCst) > CLOSED.load(Ordering::SeqCst));
            stream.shutdown(std::net::Shutdown::Both)?;
            CLOSED.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        let (address, accepted) = serve_answers(answer_then_close_when_asked);
        let client = Client::new(&format!("http://{address}"))
            .unwrap()
            .per_thread_connections();
        let mut answer = Vec::new();
        for call in 1..=3 {
            client.send_sqs("ListQueues", b"{}", &mut answer).unwrap();
            assert_eq!(answer, b"{}");
            CLOSE_ASKED.store(call, Ordering::SeqCst);
            wait_until(|| CLOSED.load(Ordering::SeqCst) >= call);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    /// Waits up to 10 s for `done`, failing the test after that.
    fn wait_until(done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "not done within 10 s");
            std::thread::yield_now();
        }
    }

    /// A listener on 127.0.0.1 that serves each connection with `serve` on its
    /// own thread, and the count of connections it accepted.
    fn serve_answers(
        serve: fn(TcpStream) -> std::io::Result<()>,
    ) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || serve(stream));
            }
        });
        (address, accepted)
    }

    /// Only http(s) URLs with a host make a client.
    #[test]
    fn rejects_urls_that_are_not_http() {
        assert!(Client::new("http://127.0.0.1:4567").is_ok());
        assert!(Client::new("https://kinesis.example").is_ok());
        for bad in ["127.0.0.1:4567", "ftp://x", "http://", ""] {
            assert!(
                matches!(Client::new(bad), Err(ClientError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    /// `__type` loses its `prefix#`; the message and status are kept.
    #[test]
    fn service_errors_keep_code_message_and_status() {
        let error = service_error(
            400,
            r#"{"__type":"com.amazonaws#ResourceNotFoundException","message":"Stream x not found"}"#,
        );
        assert_eq!(
            error.to_string(),
            "ResourceNotFoundException: Stream x not found (HTTP 400)"
        );
        let error = service_error(502, "bad gateway");
        assert!(
            matches!(&error, ClientError::Service { code, status: 502, .. } if code == "HTTP502"),
            "{error:?}"
        );
    }
}

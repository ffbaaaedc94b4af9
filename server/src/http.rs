//! The HTTP side: one listener, HTTP/1.1 and h2c (HTTP/2 with prior knowledge) on
//! the same port, `X-Amz-Target` dispatch, `/health` and `/metrics`.

use crate::auth::{verify, PayloadHash, PayloadHasher, SignedRequest};
use crate::body_buffers::BodyBuffers;
use crate::connection::Connection;
use crate::error::{ApiError, Cause};
use crate::metrics::{ActionLabel, Metrics};
use crate::protocol::value::Format;
use crate::service::Named;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use shardlog_engine::Engine;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body, bytes. Default 16 MiB (a PutRecords of 10 MiB of data,
    /// base64-encoded, with room for the JSON around it).
    pub body_bytes_max: usize,
    /// Most connections served at once; more wait to be accepted. Default 1024.
    pub connections_max: usize,
    /// How long shutdown waits for requests in flight. Default 10 s.
    pub shutdown_grace: Duration,
    /// How long a client may take to send its request headers over HTTP/1.1
    /// (slow clients are cut off instead of holding a connection); hyper also
    /// closes a keep-alive connection that sends no next request within it.
    /// Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight before it
    /// is closed: one that sends nothing, an unfinished TLS handshake or HTTP/2
    /// preface, an HTTP/2 connection without streams. Default 60 s.
    pub idle_timeout: Duration,
    /// How long a client may take to send a whole request body. Default 60 s.
    pub body_read_timeout: Duration,
    /// Access key id → secret access key. When empty, requests are not
    /// authenticated (any Authorization header, or none, is accepted).
    pub credentials: HashMap<String, String>,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with this configuration; see
    /// [`tls_config`]. Default: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Serve the Firehose API (`Firehose_20150804.*`) over these delivery streams.
    /// Default: none (Firehose requests get UnknownOperationException).
    pub firehose: Option<shardlog_firehose::Firehose>,
    /// Serve the SQS API (`AmazonSQS.*` and the query protocol) over these queues.
    /// Default: none.
    pub sqs: Option<crate::sqs::Sqs>,
    /// The region and account Kinesis's ARNs and messages name. Default
    /// `us-east-1`, `000000000000`.
    pub identity: crate::Identity,
    /// Serve the SNS API (the query protocol, signed for `sns`) over these topics.
    /// Default: none.
    pub sns: Option<crate::sns::Sns>,
}

/// A TLS configuration from a PEM certificate chain and a PEM private key.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|error| format!("certificate: {error}"))?;
    if certs.is_empty() {
        return Err("certificate: no PEM certificate found".into());
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| format!("private key: {error}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| format!("certificate and key: {error}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_bytes_max: 16 << 20,
            connections_max: 1024,
            shutdown_grace: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(60),
            credentials: HashMap::new(),
            tls: None,
            firehose: None,
            sqs: None,
            identity: crate::Identity::default(),
            sns: None,
        }
    }
}

/// A response body: whole (most actions) or streamed (SubscribeToShard).
pub(crate) type Body = UnsyncBoxBody<Bytes, std::convert::Infallible>;

pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) config: ServerConfig,
    pub(crate) metrics: Metrics,
    pub(crate) body_buffers: BodyBuffers,
}

/// Serves the Kinesis API of `engine` on `listener` until `shutdown` completes,
/// then stops accepting, lets requests in flight finish (up to the grace period)
/// and returns. The caller shuts the engine down afterwards.
pub async fn serve(
    engine: Engine,
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        engine,
        metrics: Metrics::default(),
        config: config.clone(),
        body_buffers: BodyBuffers::default(),
    });
    let permits = Arc::new(Semaphore::new(config.connections_max));
    // Connections watch `stop` to shut down gracefully and hold a clone of
    // `alive` until they end, so the server can wait for them.
    let (stop, stopping) = watch::channel(());
    let (alive, mut all_ended) = mpsc::channel::<()>(1);
    let builder = connection_builder(&config);
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Pushed events are small writes: Nagle's algorithm would hold each one
        // until the previous was acknowledged (up to the peer's delayed-ACK timer).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            // Over the connection limit: answer every request on this connection
            // with a clean 503 and close it, rather than leaving it to hang.
            tokio::spawn(refuse_connection(
                stream,
                config.connections_max,
                config.header_read_timeout,
            ));
            continue;
        };
        let connection = Connection {
            shared: Arc::clone(&shared),
            builder: builder.clone(),
            stopping: stopping.clone(),
            alive: alive.clone(),
            permit,
        };
        tokio::spawn(connection.run(stream));
    }
    // Subscriptions would otherwise hold their connections for minutes.
    shared.engine.end_subscriptions();
    // SQS long polls likewise (up to 20 s each).
    if let Some(sqs) = &shared.config.sqs {
        sqs.end_long_polls();
    }
    drop(stop);
    drop(alive);
    if tokio::time::timeout(config.shutdown_grace, all_ended.recv())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over with connections still open");
    }
    Ok(())
}

/// Pings HTTP/2 clients this often, and closes the connection of one that does
/// not answer within the same time: a peer that vanished mid-subscription is
/// noticed without waiting for TCP to give up.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(20);

fn connection_builder(config: &ServerConfig) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // A client that trickles its headers is cut off instead of holding a slot.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_PING_INTERVAL)
        .keep_alive_timeout(HTTP2_PING_INTERVAL);
    builder
}

async fn refuse_connection(
    stream: tokio::net::TcpStream,
    connections_max: usize,
    header_read_timeout: Duration,
) {
    let service = hyper::service::service_fn(move |_request| async move {
        let error = ApiError {
            status: 503,
            code: "ServiceUnavailableException",
            message: format!(
                "The server already serves {connections_max} connections; retry later."
            ),
            cause: Cause::Other,
        };
        let mut response = error_response(&error, Format::Json, &request_id());
        response
            .headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        Ok::<_, std::convert::Infallible>(response)
    });
    let served = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    // Refused connections hold no slot, so they must not live on either.
    match tokio::time::timeout(header_read_timeout, served).await {
        Ok(Err(error)) => tracing::debug!(%error, "refused connection ended with an error"),
        Err(_) => tracing::debug!("refused connection timed out"),
        Ok(Ok(())) => {}
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn respond(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    request_id: &str,
) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

pub(crate) fn error_response(error: &ApiError, format: Format, request_id: &str) -> Response<Body> {
    // AWS sends some errors (an empty body's SerializationException) without a message.
    #[derive(serde::Serialize)]
    struct ErrorBody<'a> {
        #[serde(rename = "__type")]
        code: &'a str,
        #[serde(skip_serializing_if = "str::is_empty")]
        message: &'a str,
    }
    let body = ErrorBody {
        code: error.code,
        message: &error.message,
    };
    respond(
        error.status,
        format.content_type(),
        format.serialize(&body),
        request_id,
    )
}

pub(crate) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let id = request_id();
    let mut response = match (request.method(), request.uri().path()) {
        (&Method::OPTIONS, _) => return preflight(&request, &id),
        (&Method::GET, "/health") => respond(200, "text/plain", b"ok\n".to_vec(), &id),
        (&Method::GET, "/metrics") => {
            let open = shared.engine.open_report();
            let text = shared.metrics.render(crate::metrics::Startup {
                open: &open,
                quarantined_topics: shared
                    .config
                    .sns
                    .as_ref()
                    .map_or(&[], |sns| sns.quarantined_topics()),
                quarantined_queues: shared
                    .config
                    .sqs
                    .as_ref()
                    .map_or(&[], |sqs| sqs.quarantined_queues()),
            });
            respond(200, crate::metrics::CONTENT_TYPE, text.into_bytes(), &id)
        }
        // SNS: the query protocol signed for `sns`, and the GET links notifications carry.
        (&Method::POST | &Method::GET, _) if crate::sns::is_sns_request(&request) => {
            crate::sns::respond(shared, request, &id).await
        }
        // A form that names no service by its signature: SNS's or SQS's by its content.
        (&Method::POST, _) if crate::sns::is_unsigned_form(&request) => {
            crate::sns::respond_to_unsigned_form(shared, request, &id).await
        }
        // SQS: its own protocols (JSON 1.0 and the form-encoded query protocol) and
        // errors (x-amzn-query-error), so not a row of the service table (sqs/http.rs).
        (&Method::POST, _) if crate::sqs::is_sqs_request(&request) => {
            crate::sqs::respond(shared, request, &id).await
        }
        (&Method::POST, _) => service_request(shared, request, &id).await,
        // AWS answers other methods as a request it cannot name: 403 in XML, no content type.
        _ => {
            let mut response = respond(
                403,
                "",
                crate::unsupported::ACCESS_DENIED_XML.as_bytes().to_vec(),
                &id,
            );
            response.headers_mut().remove(CONTENT_TYPE);
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("x-amzn-RequestId,x-amz-id-2"),
    );
    if let Ok(value) = HeaderValue::from_str(&extended_request_id()) {
        headers.insert("x-amz-id-2", value);
    }
    response
}

/// A CORS preflight, as AWS answers it: 200, empty body, any origin, cached for
/// two days, the requested headers and method echoed back.
fn preflight(request: &Request<Incoming>, id: &str) -> Response<Body> {
    let mut response = respond(200, "", Vec::new(), id);
    let headers = response.headers_mut();
    headers.remove(CONTENT_TYPE);
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("access-control-max-age", HeaderValue::from_static("172800"));
    for (asked, allowed) in [
        (
            "access-control-request-headers",
            "access-control-allow-headers",
        ),
        (
            "access-control-request-method",
            "access-control-allow-methods",
        ),
    ] {
        if let Some(value) = request.headers().get(asked) {
            headers.insert(allowed, value.clone());
        }
    }
    response
}

/// `x-amz-id-2`: 72 random bytes, base64, like AWS's extended request id.
fn extended_request_id() -> String {
    let mut bytes = Vec::with_capacity(80);
    while bytes.len() < 72 {
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    bytes.truncate(72);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A request to a service: found by its target, read, authenticated, validated
/// and run by the service it names.
async fn service_request(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    id: &str,
) -> Response<Body> {
    let started = Instant::now();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type")
        .map(|value| value.split(';').next().unwrap_or("").trim().to_string());
    let target = header("x-amz-target").unwrap_or_default();
    let named = Named::parse(&target);
    let label = named.as_ref().map_or(ActionLabel::UNKNOWN, |named| {
        ActionLabel::of(named.model(), &named.action)
    });
    let record = |outcome: &'static str| {
        shared.metrics.request(label, outcome, started.elapsed());
    };
    // A type the named service does not speak is answered as AWS answers it.
    let format = content_type
        .as_deref()
        .and_then(Format::from_content_type)
        .filter(|format| {
            named
                .as_ref()
                .is_none_or(|named| named.service.formats.contains(format))
        });
    let (parts, body) = request.into_parts();
    let authenticating = format.is_some() && !shared.config.credentials.is_empty();
    let buffer = shared
        .body_buffers
        .take(announced_bytes(&body, &shared.config));
    let (body, payload) = match read_body_into(body, &shared.config, authenticating, buffer).await {
        Ok(read) => read,
        Err(error) => {
            record(error.code);
            return error_response(&error, format.unwrap_or(Format::Json), id);
        }
    };
    let Some(format) = format else {
        let known = label != ActionLabel::UNKNOWN;
        let (response, code) =
            crate::unsupported::respond_to(content_type.as_deref(), &target, known, &body, id);
        record(code);
        return response;
    };
    let Some(named) = named else {
        let error = ApiError::client(
            "UnknownOperationException",
            format!("Unknown X-Amz-Target '{target}'."),
        );
        record(error.code);
        return error_response(&error, format, id);
    };
    if let Some(payload) = payload {
        if let Err(error) = authenticate(&shared, &parts, payload) {
            record(error.code);
            return error_response(&error, format, id);
        }
    }
    if let Some(streaming) = named.streaming() {
        let body = Bytes::from(body);
        return (streaming.respond)(shared, format, body, id.to_string(), started).await;
    }
    let no_output = named.has_no_output();
    let answered = match named.run_body(&shared, format, &body) {
        Some(answer) => Some(answer.await),
        None => None,
    };
    let result = match answered {
        Some(answer) => {
            shared.body_buffers.give_back(body);
            answer
        }
        None => run_blocking(Arc::clone(&shared), named, format, body).await,
    };
    record(result.as_ref().map_or_else(|error| error.code, |_| "OK"));
    match result {
        Ok(_) if no_output => respond(200, format.content_type(), Vec::new(), id),
        Ok(body) => respond(200, format.content_type(), body, id),
        Err(error) => error_response(&error, format, id),
    }
}

/// Runs an action on a blocking thread: the engine blocks (fsync, waits), which
/// the runtime's worker threads must never do. The body's buffer is kept for
/// a later request.
async fn run_blocking(
    shared: Arc<Shared>,
    named: Named,
    format: Format,
    body: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(move || {
        let answer = named.run(&shared, format, &body);
        shared.body_buffers.give_back(body);
        answer
    })
    .await
    .unwrap_or_else(|error| {
        Err(ApiError::internal(format!(
            "request handler failed: {error}"
        )))
    })
}

/// Reads a request body of at most `body_bytes_max` within `body_read_timeout`,
/// hashing it for SigV4 piece by piece as it arrives when `hash` is set (so a
/// large body is never hashed in one go on a worker thread).
pub(crate) async fn read_body<B>(
    body: B,
    config: &ServerConfig,
    hash: bool,
) -> Result<(Bytes, Option<PayloadHash>), ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let buffer = Vec::with_capacity(announced_bytes(&body, config));
    let (read, payload) = read_body_into(body, config, hash, buffer).await?;
    Ok((Bytes::from(read), payload))
}

/// The body's length as announced (Content-Length), at most `body_bytes_max`;
/// 0 if not announced. A buffer of this capacity is read into without growing:
/// a client announcing more than it sends costs address space, not memory, as
/// pages are only backed once written.
fn announced_bytes<B: hyper::body::Body>(body: &B, config: &ServerConfig) -> usize {
    let announced = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    announced.min(config.body_bytes_max)
}

/// [`read_body`] onto the end of `read`.
async fn read_body_into<B>(
    body: B,
    config: &ServerConfig,
    hash: bool,
    mut read: Vec<u8>,
) -> Result<(Vec<u8>, Option<PayloadHash>), ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = config.body_bytes_max;
    let mut hasher = hash.then(PayloadHasher::default);
    let mut body = Limited::new(body, limit);
    let reading = async {
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            if let Some(hasher) = &mut hasher {
                hasher.update(&data);
            }
            read.extend_from_slice(&data);
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    match tokio::time::timeout(config.body_read_timeout, reading).await {
        Ok(Ok(())) => Ok((read, hasher.map(PayloadHasher::finish))),
        Ok(Err(_)) => Err(ApiError {
            status: 413,
            code: "SerializationException",
            message: format!("Request body is larger than {limit} bytes or was cut off."),
            cause: Cause::Serialization,
        }),
        Err(_) => Err(ApiError {
            status: 408,
            code: "RequestTimeoutException",
            message: format!(
                "Request body not received within {} ms.",
                config.body_read_timeout.as_millis()
            ),
            cause: Cause::Other,
        }),
    }
}

/// Verifies the request's AWS Signature V4 against the configured credentials.
pub(crate) fn authenticate(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    payload: PayloadHash,
) -> Result<(), ApiError> {
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    // HTTP/2 carries the host as :authority; SigV4 signs it as `host`.
    if !headers.iter().any(|(name, _)| name == "host") {
        if let Some(authority) = parts.uri.authority() {
            headers.push(("host".into(), authority.to_string()));
        }
    }
    let request = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        payload,
    };
    let secret_for = |key: &str| shared.config.credentials.get(key).cloned();
    verify(&request, &secret_for, SystemTime::now())
        .map(drop)
        .map_err(|error| ApiError {
            status: error.http_status(),
            code: error.code(),
            message: error.to_string(),
            cause: Cause::Authentication(error.failure()),
        })
}

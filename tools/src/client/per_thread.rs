//! Calls over one HTTP/1.1 connection per calling thread, for the bench's load
//! generators: each thread owns its connection to the endpoint and a
//! single-threaded runtime that drives it, so a call is a write and a read on
//! that thread, with no pool to lock and no socket option set per call. ureq,
//! shared by the bench's 16 SQS threads, made about 15 system calls of each call
//! (a probe of the pooled connection, a change of socket timeouts per phase,
//! futex waits on its pool) against 4 here.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::time::Duration;

/// One thread's connection to one endpoint, and the runtime that drives it.
struct Connection {
    runtime: tokio::runtime::Runtime,
    sender: SendRequest<Full<Bytes>>,
    /// The connection's socket, shared (non-blocking, as tokio set it), to see
    /// whether the server closed it while it sat idle: the runtime, and with it
    /// hyper, runs only during this thread's calls, so nothing else notices.
    watch: std::net::TcpStream,
}

impl Connection {
    /// Whether the server closed the connection (or sent something unasked, such as
    /// a timeout answer) since the last call. A server closes a keep-alive
    /// connection that waited too long for its next request (shardlog's
    /// `--header-read-timeout-ms`, 10 s by default); a request written into it
    /// would fail unanswered, so a closed one is replaced before the call.
    fn closed_by_server(&self) -> bool {
        let mut byte = [0u8; 1];
        match self.watch.peek(&mut byte) {
            Err(error) => error.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        }
    }
}

thread_local! {
    /// This thread's connections, by endpoint authority (`host:port`).
    static CONNECTIONS: RefCell<HashMap<String, Connection>> = RefCell::new(HashMap::new());
}

/// A POST to `/` of an endpoint: where, and the headers besides the body's length.
pub(super) struct Post<'a> {
    /// `host:port` of the endpoint (plain HTTP).
    pub authority: &'a str,
    /// The headers, by name.
    pub headers: &'a [(&'a str, &'a str)],
    /// Longest the whole call (connecting included) may take.
    pub timeout: Duration,
    /// Largest answer read, bytes.
    pub answer_bytes_max: usize,
}

/// Sends `body` as `post` says on this thread's connection to its endpoint (made
/// on first use, and again when the server closed it, idle or before the request
/// was sent), reads the answer into `answer` (cleared first) and returns its status.
/// A request is never sent twice.
pub(super) fn post(post: &Post<'_>, body: &[u8], answer: &mut Vec<u8>) -> Result<u16, String> {
    CONNECTIONS.with(|connections| {
        let mut connections = connections.borrow_mut();
        let outcome = match connections.remove(post.authority) {
            Some(connection) if !connection.closed_by_server() => {
                send(connection, post, body, answer)
            }
            _ => Err(Retry::Reconnect),
        };
        let outcome = match outcome {
            Err(Retry::Reconnect) => connect(post).and_then(|connection| {
                send(connection, post, body, answer).map_err(|retry| match retry {
                    Retry::Reconnect => "the new connection closed before the request".to_string(),
                    Retry::Failed(message) => message,
                })
            }),
            Err(Retry::Failed(message)) => Err(message),
            Ok(done) => Ok(done),
        };
        outcome.map(|(connection, status)| {
            connections.insert(post.authority.to_string(), connection);
            status
        })
    })
}

/// Why a call on a connection did not finish.
enum Retry {
    /// The connection was closed before the request went out: connect again.
    Reconnect,
    /// The request failed (sent or not); the connection is dropped.
    Failed(String),
}

fn connect(post: &Post<'_>) -> Result<Connection, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|error| format!("cannot start a client runtime: {error}"))?;
    let connecting = async {
        let stream = tokio::net::TcpStream::connect(post.authority).await?;
        // A request is written whole; Nagle would hold the next one's first bytes.
        stream.set_nodelay(true)?;
        let watch = std::net::TcpStream::from(stream.as_fd().try_clone_to_owned()?);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>((sender, connection, watch))
    };
    let (sender, connection, watch) = runtime
        .block_on(async { tokio::time::timeout(post.timeout, connecting).await })
        .map_err(|_| format!("connecting to {} timed out", post.authority))?
        .map_err(|error| format!("cannot connect to {}: {error}", post.authority))?;
    // Runs while this thread's calls block on the runtime; ends with the connection.
    runtime.spawn(connection);
    Ok(Connection {
        runtime,
        sender,
        watch,
    })
}

fn send(
    mut connection: Connection,
    post: &Post<'_>,
    body: &[u8],
    answer: &mut Vec<u8>,
) -> Result<(Connection, u16), Retry> {
    let mut request = Request::post("/").header("host", post.authority);
    for (name, value) in post.headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|error| Retry::Failed(format!("bad request: {error}")))?;
    answer.clear();
    let Connection {
        runtime, sender, ..
    } = &mut connection;
    let call = async {
        if sender.ready().await.is_err() {
            return Err(Retry::Reconnect);
        }
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            // Not written: the server had closed the connection.
            Err(error) if error.message().is_some() => return Err(Retry::Reconnect),
            Err(error) => return Err(Retry::Failed(error.into_error().to_string())),
        };
        let status = response.status().as_u16();
        let mut body = Limited::new(response.into_body(), post.answer_bytes_max);
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|error| Retry::Failed(format!("reading the answer: {error}")))?;
            if let Ok(data) = frame.into_data() {
                answer.extend_from_slice(&data);
            }
        }
        Ok(status)
    };
    let status = runtime
        .block_on(async { tokio::time::timeout(post.timeout, call).await })
        .map_err(|_| Retry::Failed(format!("no answer within {:?}", post.timeout)))??;
    Ok((connection, status))
}

//! A real `shardlog serve` process and a minimal HTTP/1.1 JSON client for tests.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A tiny HTTP/1.1 client: one request per connection. `None` when the server is
/// gone (connection refused or reset), which is expected around a kill.
pub fn call(address: SocketAddr, action: &str, body: &Value) -> Option<(u16, Value)> {
    call_target(address, &format!("Kinesis_20131202.{action}"), body)
}

/// [`call`] for a Firehose action (`Firehose_20150804.<action>`).
pub fn call_firehose(address: SocketAddr, action: &str, body: &Value) -> Option<(u16, Value)> {
    call_target(address, &format!("Firehose_20150804.{action}"), body)
}

/// [`call`] with a whole `x-amz-target` value.
pub fn call_target(address: SocketAddr, target: &str, body: &Value) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: {target}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8(response).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    // A response cut by the kill is not an acknowledgement.
    let value = serde_json::from_str(body).ok()?;
    Some((status, value))
}

pub struct Server {
    pub child: Child,
    pub address: SocketAddr,
}

pub fn start(data_dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("SHARDLOG_CREDENTIALS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start shardlog serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Server { child, address }
}

/// Stops `server` with SIGTERM (a clean shutdown: requests in flight finish,
/// delivery streams flush, logs sync) and returns whether it exited with success.
pub fn stop(mut server: Server) -> bool {
    let signalled = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    let exited = server.child.wait().expect("wait for shardlog serve");
    signalled && exited.success()
}

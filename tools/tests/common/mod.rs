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
    request(address, target, body, Duration::from_secs(10)).ok()
}

/// One request with a read timeout; the error says what went wrong (refused,
/// timed out, cut short), for tests that expect an answer.
pub fn request(
    address: SocketAddr,
    target: &str,
    body: &Value,
    read_timeout: Duration,
) -> Result<(u16, Value), String> {
    fn failed(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |error| format!("{what}: {error}")
    }
    let mut stream =
        TcpStream::connect_timeout(&address, Duration::from_secs(2)).map_err(failed("connect"))?;
    stream
        .set_read_timeout(Some(read_timeout))
        .map_err(failed("set a timeout"))?;
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: {target}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(failed("send"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(failed("read the response"))?;
    let text = String::from_utf8(response).map_err(|_| "a response that is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("a response cut in its head: {text:?}"))?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    let status: u16 = status.ok_or_else(|| format!("no status in {head:?}"))?;
    // A response cut by the kill is not an acknowledgement: the whole body the
    // server announced must be there. Actions with no output answer an empty one.
    let announced = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if announced != Some(body.len()) {
        return Err(format!(
            "a body of {} bytes where the head announced {announced:?}",
            body.len()
        ));
    }
    if body.is_empty() {
        return Ok((status, Value::Object(Default::default())));
    }
    let value = serde_json::from_str(body)
        .map_err(|error| format!("a body that is not JSON ({error}), {} bytes", body.len()))?;
    Ok((status, value))
}

pub struct Server {
    pub child: Child,
    pub address: SocketAddr,
}

pub fn start(data_dir: &Path) -> Server {
    start_with(data_dir, &[])
}

/// [`start`] with more `serve` options.
pub fn start_with(data_dir: &Path, options: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardlog"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(options)
        .env("RUST_LOG", "warn")
        .env_remove("SHARDLOG_CREDENTIALS")
        .stdout(Stdio::piped())
        .stderr(server_log())
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

/// A server started by [`serve`] and its base URL; killed when dropped.
pub struct Served {
    pub server: Server,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
    }
}

/// Starts a server on `data_dir`, killed when the result is dropped.
pub fn serve(data_dir: &Path) -> Served {
    let server = start(data_dir);
    let url = format!("http://{}", server.address);
    Served { server, url }
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

/// Where servers' logs go: appended to the file SHARDLOG_TEST_SERVER_LOG names
/// (to see why a server died in a long run), else nowhere.
fn server_log() -> Stdio {
    let Some(path) = std::env::var_os("SHARDLOG_TEST_SERVER_LOG") else {
        return Stdio::null();
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("open {}: {error}", Path::new(&path).display()));
    Stdio::from(file)
}

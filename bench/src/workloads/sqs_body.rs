//! The SQS cases' request bodies and what they read of the answers (JSON 1.0).
//! The load generator shares the cores with the server it measures, so it must
//! cost far less than the server: the send and receive bodies never change and
//! are encoded once, a DeleteMessageBatch body is written into a reused buffer,
//! and of an answer only what the bench uses is read (the receipt handles, the
//! failed entries), without building a tree of it or copying the bodies.

use serde::Deserialize;
use std::borrow::Cow;
use std::cell::RefCell;

/// `count` entries of SendMessageBatch (ids "0" on), or (count 1) a SendMessage:
/// the action and its body.
pub fn send(url: &str, count: usize, body: &str) -> (&'static str, Vec<u8>) {
    let (url, body) = (json_text(url), json_text(body));
    if count == 1 {
        let request = format!("{{\"QueueUrl\":{url},\"MessageBody\":{body}}}");
        return ("SendMessage", request.into_bytes());
    }
    let entries: Vec<String> = (0..count)
        .map(|id| format!("{{\"Id\":\"{id}\",\"MessageBody\":{body}}}"))
        .collect();
    let request = format!("{{\"QueueUrl\":{url},\"Entries\":[{}]}}", entries.join(","));
    ("SendMessageBatch", request.into_bytes())
}

/// A ReceiveMessage of up to `count`, long poll of `wait_s`.
pub fn receive(url: &str, count: usize, wait_s: u32) -> Vec<u8> {
    let url = json_text(url);
    format!("{{\"QueueUrl\":{url},\"MaxNumberOfMessages\":{count},\"WaitTimeSeconds\":{wait_s}}}")
        .into_bytes()
}

/// `text` as a JSON string, quotes and escapes included.
fn json_text(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// Writes into `out` (cleared first) a DeleteMessageBatch of `handles`, ids "0" on.
pub fn delete_batch<'a>(url: &str, handles: impl Iterator<Item = &'a str>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"{\"QueueUrl\":");
    serde_json::to_writer(&mut *out, url).expect("JSON into a Vec");
    out.extend_from_slice(b",\"Entries\":[");
    for (id, handle) in handles.enumerate() {
        if id > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("{{\"Id\":\"{id}\",\"ReceiptHandle\":").as_bytes());
        serde_json::to_writer(&mut *out, handle).expect("JSON into a Vec");
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// What the bench reads of a ReceiveMessage answer: the receipt handles, borrowed
/// from the answer where they need no unescaping.
#[derive(Deserialize, Default)]
pub struct Received<'a> {
    /// The messages; absent when none came.
    #[serde(rename = "Messages", default, borrow)]
    pub messages: Vec<Handle<'a>>,
}

/// A received message's receipt handle; its other members are skipped unread.
#[derive(Deserialize)]
pub struct Handle<'a> {
    /// The handle that deletes it.
    #[serde(rename = "ReceiptHandle", borrow)]
    pub receipt_handle: Cow<'a, str>,
}

/// Reads a ReceiveMessage answer (an empty answer has no messages).
pub fn received(answer: &[u8]) -> Result<Received<'_>, String> {
    if answer.iter().all(u8::is_ascii_whitespace) {
        return Ok(Received::default());
    }
    serde_json::from_slice(answer).map_err(|e| format!("ReceiveMessage answered with {e}"))
}

/// The failed entries of a batch answer: the only member the bench reads.
#[derive(Deserialize)]
struct BatchAnswer {
    #[serde(rename = "Failed", default)]
    failed: Vec<serde_json::Value>,
}

/// An error naming the first failed entry of `action`'s answer, if any failed.
pub fn check_batch(action: &str, answer: &[u8]) -> Result<(), String> {
    if action != "SendMessageBatch" && action != "DeleteMessageBatch" {
        return Ok(());
    }
    let read: BatchAnswer =
        serde_json::from_slice(answer).map_err(|e| format!("{action} answered with {e}"))?;
    match read.failed.first() {
        Some(failed) => Err(format!("{action}: an entry failed: {failed}")),
        None => Ok(()),
    }
}

/// A thread's buffers: the answer read, and the DeleteMessageBatch body written.
#[derive(Default)]
pub struct Buffers {
    /// The last answer.
    pub answer: Vec<u8>,
    /// The last DeleteMessageBatch body.
    pub delete: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Runs `f` with the calling thread's buffers (kept across its calls, so the
/// loops allocate nothing per call once they have grown).
pub fn with_buffers<T>(f: impl FnOnce(&mut Buffers) -> T) -> T {
    BUFFERS.with(|buffers| f(&mut buffers.borrow_mut()))
}

#[cfg(test)]
mod tests {
    //! The bodies are the SQS input a JSON encoder would write; answers are read
    //! for their handles and failures only.
    use super::*;
    use serde_json::{json, Value};

    /// Send and receive bodies parse to the actions' input, the URL and body escaped.
    #[test]
    fn bodies_are_the_actions_input() {
        let (action, body) = send("http://h/0/q\"1", 2, "a\"b");
        assert_eq!(action, "SendMessageBatch");
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        let expected = json!({"QueueUrl": "http://h/0/q\"1", "Entries": [
            {"Id": "0", "MessageBody": "a\"b"},
            {"Id": "1", "MessageBody": "a\"b"},
        ]});
        assert_eq!(parsed, expected);
        let (action, body) = send("u", 1, "x");
        assert_eq!(action, "SendMessage");
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed, json!({"QueueUrl": "u", "MessageBody": "x"}));
        let parsed: Value = serde_json::from_slice(&receive("u", 10, 1)).unwrap();
        let expected = json!({"QueueUrl": "u", "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1});
        assert_eq!(parsed, expected);
    }

    /// Handles read from an answer (escaped or not) go into the delete body in
    /// order; the reused buffer holds only the last body.
    #[test]
    fn received_handles_become_a_delete_batch() {
        let answer = json!({"Messages": [
            {"MessageId": "m1", "ReceiptHandle": "h1", "Body": "x"},
            {"MessageId": "m2", "ReceiptHandle": "h\"2", "Body": "y"},
        ]})
        .to_string();
        let read = received(answer.as_bytes()).unwrap();
        let mut out = b"stale".to_vec();
        delete_batch(
            "u",
            read.messages.iter().map(|m| &*m.receipt_handle),
            &mut out,
        );
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        let expected = json!({"QueueUrl": "u", "Entries": [
            {"Id": "0", "ReceiptHandle": "h1"},
            {"Id": "1", "ReceiptHandle": "h\"2"},
        ]});
        assert_eq!(parsed, expected);
        assert!(received(b"{}").unwrap().messages.is_empty());
        assert!(received(b"").unwrap().messages.is_empty());
        assert!(received(b"{\"Messages\":").is_err());
    }

    /// A batch answer with a failed entry is an error naming it; one without is not.
    #[test]
    fn failed_entries_are_errors() {
        let ok = json!({"Successful": [{"Id": "0"}], "Failed": []}).to_string();
        assert!(check_batch("DeleteMessageBatch", ok.as_bytes()).is_ok());
        let failed =
            json!({"Successful": [], "Failed": [{"Id": "0", "Code": "ReceiptHandleIsInvalid"}]});
        let error = check_batch("SendMessageBatch", failed.to_string().as_bytes()).unwrap_err();
        assert!(error.contains("ReceiptHandleIsInvalid"), "{error}");
        assert!(check_batch("SendMessage", b"{\"MessageId\":\"m\"}").is_ok());
    }
}

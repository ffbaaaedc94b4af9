//! The SQS cases' request bodies and what they read of the answers (JSON 1.0).
//! The load generator shares the cores with the server it measures, so it must
//! cost far less than the server: the send and receive bodies never change and
//! are encoded once, a DeleteMessageBatch body is written into a reused buffer,
//! and of an answer only what a client checks is read (the receipt handles, the
//! bodies and their digests, the failed entries), borrowed from the answer,
//! without building a tree of it. Digests are checked as botocore checks them:
//! each received body's MD5 against its `MD5OfBody`, each sent message's
//! `MD5OfMessageBody` against the body sent (hashed once: it never changes).

use md5::{Digest, Md5};
use serde::Deserialize;
use std::borrow::Cow;
use std::cell::RefCell;

/// Lowercase hex MD5 of `bytes`, as SQS writes its digests.
pub fn md5_hex(bytes: &[u8]) -> String {
    format!("{:032x}", u128::from_be_bytes(Md5::digest(bytes).into()))
}

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

/// What the bench reads of a ReceiveMessage answer: per message its receipt
/// handle, body and body digest, borrowed from the answer where they need no
/// unescaping.
#[derive(Deserialize, Default)]
pub struct Received<'a> {
    /// The messages; absent when none came.
    #[serde(rename = "Messages", default, borrow)]
    pub messages: Vec<Handle<'a>>,
}

/// A received message's receipt handle, body and body digest; its other
/// members are skipped unread.
#[derive(Deserialize)]
pub struct Handle<'a> {
    /// The handle that deletes it.
    #[serde(rename = "ReceiptHandle", borrow)]
    pub receipt_handle: Cow<'a, str>,
    /// The body.
    #[serde(rename = "Body", borrow)]
    body: Cow<'a, str>,
    /// Hex MD5 of the body, as the server computed it.
    #[serde(rename = "MD5OfBody", borrow)]
    md5_of_body: Cow<'a, str>,
}

/// Reads a ReceiveMessage answer (an empty answer has no messages); a body
/// whose MD5 is not its `MD5OfBody` is an error.
pub fn received(answer: &[u8]) -> Result<Received<'_>, String> {
    if answer.iter().all(u8::is_ascii_whitespace) {
        return Ok(Received::default());
    }
    let read: Received<'_> =
        serde_json::from_slice(answer).map_err(|e| format!("ReceiveMessage answered with {e}"))?;
    for message in &read.messages {
        let actual = md5_hex(message.body.as_bytes());
        if actual != message.md5_of_body {
            return Err(format!(
                "ReceiveMessage: MD5OfBody {} of a body whose MD5 is {actual}",
                message.md5_of_body
            ));
        }
    }
    Ok(read)
}

/// What the bench reads of a send or batch answer: the failed entries, the
/// digests of the sent messages (SendMessage answers with one, unlisted).
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(rename = "Failed", default)]
    failed: Vec<serde_json::Value>,
    #[serde(rename = "Successful", default, borrow)]
    successful: Vec<Sent<'a>>,
    #[serde(rename = "MD5OfMessageBody", borrow)]
    md5_of_message_body: Option<Cow<'a, str>>,
}

/// A successful batch entry; only a send's carries a digest.
#[derive(Deserialize)]
struct Sent<'a> {
    #[serde(rename = "MD5OfMessageBody", borrow)]
    md5_of_message_body: Option<Cow<'a, str>>,
}

/// Checks the answer of `action` (SendMessage, SendMessageBatch or
/// DeleteMessageBatch): an error names the first failed entry, or a sent
/// message's digest other than `body_md5` (the MD5 of the body every send
/// carries; unused for deletes).
pub fn check_answer(action: &str, answer: &[u8], body_md5: &str) -> Result<(), String> {
    let read: Answer<'_> =
        serde_json::from_slice(answer).map_err(|e| format!("{action} answered with {e}"))?;
    if let Some(failed) = read.failed.first() {
        return Err(format!("{action}: an entry failed: {failed}"));
    }
    if action == "DeleteMessageBatch" {
        return Ok(());
    }
    let digests = match action {
        "SendMessage" => vec![read.md5_of_message_body],
        _ => read
            .successful
            .into_iter()
            .map(|s| s.md5_of_message_body)
            .collect(),
    };
    match digests
        .iter()
        .find(|digest| digest.as_deref() != Some(body_md5))
    {
        Some(digest) => Err(format!(
            "{action}: MD5OfMessageBody {digest:?} of a body whose MD5 is {body_md5}"
        )),
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
            {"MessageId": "m1", "ReceiptHandle": "h1", "Body": "x", "MD5OfBody": md5_hex(b"x")},
            {"MessageId": "m2", "ReceiptHandle": "h\"2", "Body": "y\"", "MD5OfBody": md5_hex(b"y\"")},
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
        assert!(check_answer("DeleteMessageBatch", ok.as_bytes(), "").is_ok());
        let failed =
            json!({"Successful": [], "Failed": [{"Id": "0", "Code": "ReceiptHandleIsInvalid"}]});
        let error =
            check_answer("SendMessageBatch", failed.to_string().as_bytes(), "").unwrap_err();
        assert!(error.contains("ReceiptHandleIsInvalid"), "{error}");
    }

    /// A digest other than the sent body's, in a send answer or of a received
    /// body, is an error; the right ones pass.
    #[test]
    fn wrong_digests_are_errors() {
        let good = md5_hex(b"hello");
        assert_eq!(good, "5d41402abc4b2a76b9719d911017c592");
        let sent = |digest: &str| json!({"MessageId": "m", "MD5OfMessageBody": digest}).to_string();
        assert!(check_answer("SendMessage", sent(&good).as_bytes(), &good).is_ok());
        assert!(check_answer("SendMessage", sent("00").as_bytes(), &good).is_err());
        assert!(check_answer("SendMessage", b"{\"MessageId\":\"m\"}", &good).is_err());
        let batch = |second: &str| {
            json!({"Failed": [], "Successful": [
                {"Id": "0", "MessageId": "m0", "MD5OfMessageBody": good},
                {"Id": "1", "MessageId": "m1", "MD5OfMessageBody": second},
            ]})
            .to_string()
        };
        assert!(check_answer("SendMessageBatch", batch(&good).as_bytes(), &good).is_ok());
        assert!(check_answer("SendMessageBatch", batch("x").as_bytes(), &good).is_err());
        let received_with = |digest: &str| {
            json!({"Messages": [{"ReceiptHandle": "h", "Body": "hello", "MD5OfBody": digest}]})
                .to_string()
        };
        assert!(received(received_with(&good).as_bytes()).is_ok());
        let error = received(received_with(&md5_hex(b"other")).as_bytes()).err();
        assert!(error.is_some_and(|e| e.contains("MD5OfBody")));
    }
}

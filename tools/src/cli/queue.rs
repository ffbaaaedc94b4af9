//! `shardlog queue create|list|attributes|purge|delete|send|receive|redrive`: SQS
//! queues of a running server, through the SQS JSON 1.0 API (what current SDKs
//! send), so the same commands work against any SQS-compatible endpoint without
//! authentication. Sending, receiving and redriving are in [`queue_messages`].
//!
//! [`queue_messages`]: super::queue_messages

use super::output::{print_json, CliError, CliResult};
use super::queue_messages::{receive, redrive, send, ReceiveOptions};
use crate::client::{Client, ClientError};
use serde_json::{json, Map, Value};

/// Most ListQueues pages read (1000 queues each: far beyond any server here).
const LIST_PAGES_MAX: usize = 10_000;

/// SQS queue administration and messages, against a running server.
#[derive(clap::Args, Debug)]
pub struct QueueArgs {
    /// The server, e.g. http://127.0.0.1:4567. Default: $SHARDLOG_URL.
    #[arg(long, global = true)]
    url: Option<String>,
    /// JSON instead of text: the API's responses; for send, each input line is a
    /// JSON object; for receive and redrive, one JSON object a message.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: QueueCommand,
}

#[derive(clap::Subcommand, Debug)]
enum QueueCommand {
    /// Create a queue (or find the existing one with the same attributes).
    Create {
        /// Queue name; a FIFO queue's ends in `.fifo`.
        name: String,
        /// A FIFO queue (the name must end in `.fifo`).
        #[arg(long)]
        fifo: bool,
        /// A queue attribute, e.g. VisibilityTimeout=60 or DelaySeconds=5; repeat for more.
        #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = parse_pair)]
        attributes: Vec<(String, String)>,
    },
    /// List queue names.
    List {
        /// Only names that start with this.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Show a queue's attributes, or change some with --set.
    Attributes {
        /// Queue name.
        name: String,
        /// Set an attribute, e.g. VisibilityTimeout=60; repeat for more.
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_pair)]
        set: Vec<(String, String)>,
    },
    /// Delete every message of a queue.
    Purge {
        /// Queue name.
        name: String,
    },
    /// Delete a queue and its messages.
    Delete {
        /// Queue name.
        name: String,
    },
    /// Send one message per line of standard input, in batches of 10. With --json
    /// each line is an object: {"body": "...", "attributes": {"name": "text" or
    /// {"DataType": ..., "StringValue"|"BinaryValue": ...}}, "group": "...",
    /// "dedup_id": "...", "delay": seconds}; only body is required.
    Send {
        /// Queue name.
        name: String,
        /// FIFO: the message group of every line that does not name one.
        #[arg(long)]
        group: Option<String>,
    },
    /// Receive messages and print their bodies (with --json, one JSON object each).
    Receive {
        /// Queue name.
        name: String,
        /// Most messages to receive in all.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        max: u64,
        /// Long poll: wait up to this many seconds (0 to 20) for messages on each call.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=20))]
        wait: u32,
        /// Delete each message once it is printed.
        #[arg(long)]
        delete: bool,
        /// Keep received messages invisible this many seconds (default: the queue's).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=43_200))]
        visibility_timeout: Option<u32>,
    },
    /// Move the messages of a dead-letter queue back to their source queue.
    Redrive {
        /// The dead-letter queue.
        dlq: String,
        /// Move them to this queue instead of the queue whose redrive policy names the DLQ.
        #[arg(long)]
        to: Option<String>,
    },
}

/// `NAME=VALUE`.
fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("'{text}' is not NAME=VALUE")),
    }
}

/// An SQS endpoint and the queue commands' calls to it.
pub struct Sqs {
    client: Client,
}

impl Sqs {
    /// Calls `action`; a missing queue is reported as `queue '<queue>' does not exist`.
    pub fn call(&self, queue: &str, action: &str, body: &Value) -> CliResult<Value> {
        self.client
            .call_sqs(action, body)
            .map_err(|error| match error {
                ClientError::Service { code, .. } if code == "QueueDoesNotExist" => {
                    CliError::failed(format!("queue '{queue}' does not exist"))
                }
                other => CliError::from(other),
            })
    }

    /// Calls `action` and returns the service error's code instead of failing on one.
    pub fn try_call(&self, action: &str, body: &Value) -> Result<Value, ClientError> {
        self.client.call_sqs(action, body)
    }

    /// The URL of queue `name`.
    pub fn queue_url(&self, name: &str) -> CliResult<String> {
        let response = self.call(name, "GetQueueUrl", &json!({ "QueueName": name }))?;
        super::json_str(&response, "QueueUrl").map(str::to_string)
    }
}

/// Runs `shardlog queue ...`.
pub fn run(args: QueueArgs) -> CliResult {
    let url = args
        .url
        .clone()
        .or_else(|| std::env::var("SHARDLOG_URL").ok().filter(|u| !u.is_empty()))
        .ok_or_else(|| {
            CliError::usage("say which server: --url URL (or set SHARDLOG_URL)".to_string())
        })?;
    let client = Client::new(&url).map_err(|error| CliError::usage(error.to_string()))?;
    let sqs = Sqs { client };
    match args.command {
        QueueCommand::Send { name, group } => send(&sqs, &name, group.as_deref(), args.json),
        QueueCommand::Receive {
            name,
            max,
            wait,
            delete,
            visibility_timeout,
        } => {
            let options = ReceiveOptions {
                max,
                wait_s: wait,
                delete,
                visibility_timeout_s: visibility_timeout,
                as_json: args.json,
            };
            receive(&sqs, &name, &options)
        }
        QueueCommand::Redrive { dlq, to } => redrive(&sqs, &dlq, to.as_deref(), args.json),
        QueueCommand::Create {
            name,
            fifo,
            attributes,
        } => finish(create(&sqs, &name, fifo, attributes)?, args.json),
        QueueCommand::List { prefix } => {
            let urls = list_queue_urls(&sqs, prefix.as_deref())?;
            let names: Vec<&str> = urls.iter().map(|url| name_of_url(url)).collect();
            let text = names.join("\n");
            finish((json!({ "QueueUrls": urls }), text), args.json)
        }
        QueueCommand::Attributes { name, set } => finish(attributes(&sqs, &name, set)?, args.json),
        QueueCommand::Purge { name } => {
            let url = sqs.queue_url(&name)?;
            let response = sqs.call(&name, "PurgeQueue", &json!({ "QueueUrl": url }))?;
            finish((response, format!("purged queue {name}")), args.json)
        }
        QueueCommand::Delete { name } => {
            let url = sqs.queue_url(&name)?;
            let response = sqs.call(&name, "DeleteQueue", &json!({ "QueueUrl": url }))?;
            finish((response, format!("deleted queue {name}")), args.json)
        }
    }
}

/// Prints the response (--json) or the text for people.
fn finish((response, text): (Value, String), as_json: bool) -> CliResult {
    if as_json {
        print_json(&response)
    } else if text.is_empty() {
        Ok(())
    } else {
        crate::outln!("{text}")
    }
}

fn create(
    sqs: &Sqs,
    name: &str,
    fifo: bool,
    attributes: Vec<(String, String)>,
) -> CliResult<(Value, String)> {
    if fifo != name.ends_with(".fifo") {
        return Err(CliError::usage(if fifo {
            format!("a FIFO queue's name ends in .fifo: '{name}' does not")
        } else {
            format!("'{name}' ends in .fifo: add --fifo to create a FIFO queue")
        }));
    }
    let mut map: Map<String, Value> = attributes
        .into_iter()
        .map(|(key, value)| (key, Value::String(value)))
        .collect();
    if fifo {
        map.insert("FifoQueue".into(), json!("true"));
    }
    let mut body = json!({ "QueueName": name });
    if !map.is_empty() {
        body["Attributes"] = Value::Object(map);
    }
    let response = sqs.call(name, "CreateQueue", &body)?;
    let url = super::json_str(&response, "QueueUrl")?;
    let text = format!("created queue {name}: {url}");
    Ok((response, text))
}

fn attributes(sqs: &Sqs, name: &str, set: Vec<(String, String)>) -> CliResult<(Value, String)> {
    let url = sqs.queue_url(name)?;
    if !set.is_empty() {
        let map: Map<String, Value> = set
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect();
        let body = json!({ "QueueUrl": url, "Attributes": map });
        sqs.call(name, "SetQueueAttributes", &body)?;
    }
    let body = json!({ "QueueUrl": url, "AttributeNames": ["All"] });
    let response = sqs.call(name, "GetQueueAttributes", &body)?;
    let text = response["Attributes"]
        .as_object()
        .map(|map| {
            let mut lines: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect();
            lines.sort();
            lines.join("\n")
        })
        .unwrap_or_default();
    Ok((response, text))
}

/// Every queue URL (with the prefix, if any), following pagination.
fn list_queue_urls(sqs: &Sqs, prefix: Option<&str>) -> CliResult<Vec<String>> {
    let mut urls = Vec::new();
    let mut body = json!({ "MaxResults": 1000 });
    if let Some(prefix) = prefix {
        body["QueueNamePrefix"] = json!(prefix);
    }
    for _ in 0..LIST_PAGES_MAX {
        let response = sqs.call("", "ListQueues", &body)?;
        let page = response["QueueUrls"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        urls.extend(page.iter().filter_map(|u| u.as_str().map(str::to_string)));
        match response["NextToken"].as_str() {
            Some(token) if !page.is_empty() => body["NextToken"] = json!(token),
            _ => return Ok(urls),
        }
    }
    Err(CliError::failed("ListQueues did not finish"))
}

/// The queue name a queue URL ends in.
pub fn name_of_url(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    //! Argument parsing of the queue commands.
    use super::*;

    /// NAME=VALUE pairs split at the first '='; a missing name or '=' is an error.
    #[test]
    fn pairs_split_at_the_first_equals() {
        assert_eq!(
            parse_pair("RedrivePolicy={\"a\"=1}").unwrap(),
            ("RedrivePolicy".to_string(), "{\"a\"=1}".to_string())
        );
        assert!(parse_pair("=1").is_err());
        assert!(parse_pair("VisibilityTimeout").is_err());
    }

    /// A queue URL's last path segment is the queue's name.
    #[test]
    fn names_of_urls() {
        assert_eq!(name_of_url("http://h:1/000000000000/q.fifo"), "q.fifo");
        assert_eq!(name_of_url("http://h:1/000000000000/q/"), "q");
    }
}

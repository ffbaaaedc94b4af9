//! Queue management actions: create, look up, list, delete, attributes, purge,
//! dead-letter sources, tags and permissions.

use super::{attributes, permissions, queue_name_of, Context, SqsError};
use crate::protocol::typed;
use crate::protocol::value::{Fields, Format, Out, Value};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use shardlog_queue::QueueName;
use std::collections::BTreeMap;

type Response = Result<Value, SqsError>;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueUrlRequest {
    queue_name: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetQueueUrlResponse {
    queue_url: String,
}

/// Most queue URLs one ListQueues or ListDeadLetterSourceQueues returns.
const LIST_RESULTS_MAX: usize = 1000;

/// Runs a queue management action; `None` if `action` is not one.
pub fn dispatch(context: &Context<'_>, action: &str, request: &Value) -> Option<Response> {
    let fields = match Fields::new(request, Format::Json) {
        Ok(fields) => fields,
        Err(error) => return Some(Err(error.into())),
    };
    run(context, action, fields).transpose()
}

/// The action's answer; `Ok(None)` if `action` is not a queue management action.
fn run(context: &Context<'_>, action: &str, fields: Fields<'_>) -> Result<Option<Value>, SqsError> {
    let value = match action {
        "CreateQueue" => create_queue(context, &fields),
        "GetQueueUrl" => {
            let request: GetQueueUrlRequest = fields.typed()?;
            let queue = context.sqs.queues().queue(&request.queue_name)?;
            let response = GetQueueUrlResponse {
                queue_url: context.queue_url(queue.name().as_str()),
            };
            Ok(typed::respond(&response)?)
        }
        "ListQueues" => {
            let prefix = fields.str("QueueNamePrefix")?.unwrap_or("");
            let names = context.sqs.queues().list_queues(prefix);
            page(context, &fields, names, "QueueUrls")
        }
        "ListDeadLetterSourceQueues" => {
            let names = context
                .sqs
                .queues()
                .dead_letter_sources(queue_name(&fields)?)?;
            page(context, &fields, names, "queueUrls")
        }
        "DeleteQueue" => {
            context.sqs.queues().delete_queue(queue_name(&fields)?)?;
            Ok(Out::new().into())
        }
        "GetQueueAttributes" => {
            let names = string_list(&fields, "AttributeNames")?;
            let found = attributes::render(context, queue_name(&fields)?, &names)?;
            let found = (!found.is_empty()).then(|| string_map_value(found));
            Ok(Out::new().maybe("Attributes", found).into())
        }
        "SetQueueAttributes" => set_queue_attributes(context, &fields),
        "PurgeQueue" => {
            let name = queue_name(&fields)?;
            context.sqs.queues().queue(name)?.purge()?;
            Ok(Out::new().into())
        }
        "TagQueue" => {
            let tags = fields.string_map("Tags")?;
            context
                .sqs
                .queues()
                .tag_queue(queue_name(&fields)?, &tags)?;
            Ok(Out::new().into())
        }
        "UntagQueue" => {
            let keys = string_list(&fields, "TagKeys")?;
            context
                .sqs
                .queues()
                .untag_queue(queue_name(&fields)?, &keys)?;
            Ok(Out::new().into())
        }
        "ListQueueTags" => {
            let tags = context.sqs.queues().tags(queue_name(&fields)?)?;
            Ok(Out::new()
                .maybe("Tags", (!tags.is_empty()).then(|| string_map_value(tags)))
                .into())
        }
        "AddPermission" => permissions::add(context, &fields),
        "RemovePermission" => permissions::remove(context, &fields),
        _ => return Ok(None),
    };
    value.map(Some)
}

/// The queue name of the request's `QueueUrl`.
pub fn queue_name<'a>(fields: &Fields<'a>) -> Result<&'a str, SqsError> {
    queue_name_of(fields.required_str("QueueUrl")?)
}

/// A list of strings (empty when absent).
pub fn string_list(fields: &Fields<'_>, name: &str) -> Result<Vec<String>, SqsError> {
    Ok(fields.string_list(name)?)
}

pub fn string_map_value(map: BTreeMap<String, String>) -> Value {
    Value::Map(map.into_iter().map(|(k, v)| (k, Value::Text(v))).collect())
}

fn create_queue(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let name = QueueName::new(fields.required_str("QueueName")?).map_err(|_| {
        SqsError::new(
            "InvalidParameterValueException",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        )
    })?;
    let update = attributes::parse_update(&fields.string_map("Attributes")?, &name, true)?;
    let tags = fields.string_map("tags")?;
    // SQS compares only the attributes given with those of an existing queue.
    if let Ok(existing) = context.sqs.queues().queue(name.as_str()) {
        let current = existing.attributes();
        if update.apply_to(&current, &name).ok().as_ref() != Some(&current) {
            return Err(SqsError::new(
                "QueueNameExists",
                format!("A queue named {name} already exists with different attributes."),
            ));
        }
        return Ok(Out::new()
            .with("QueueUrl", context.queue_url(name.as_str()))
            .into());
    }
    let queue = context.sqs.queues().create_queue(&name, &update, tags)?;
    Ok(Out::new()
        .with("QueueUrl", context.queue_url(queue.name().as_str()))
        .into())
}

fn set_queue_attributes(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let queues = context.sqs.queues();
    let name = queue_name(fields)?;
    let queue = queues.queue(name)?;
    let map = fields.string_map("Attributes")?;
    let update = attributes::parse_update(&map, queue.name(), false)?;
    queues.set_attributes(name, &update)?;
    Ok(Out::new().into())
}

/// One page of queue URLs: all (up to 1000) without MaxResults, else MaxResults
/// after the NextToken's name, with a NextToken when more follow.
fn page(
    context: &Context<'_>,
    fields: &Fields<'_>,
    names: Vec<QueueName>,
    member: &str,
) -> Response {
    let max = match fields.int("MaxResults")? {
        None => None,
        Some(n @ 1..=1000) => Some(n as usize),
        Some(n) => {
            return Err(SqsError::invalid_value(
                "MaxResults",
                n,
                "MaxResults must be an integer between 1 and 1000.",
            ))
        }
    };
    let after = match fields.str("NextToken")? {
        None => None,
        Some(token) => Some(
            STANDARD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| SqsError::invalid_value("NextToken", token, "Invalid token."))?,
        ),
    };
    let rest: Vec<&QueueName> = names
        .iter()
        .filter(|name| after.as_deref().is_none_or(|after| name.as_str() > after))
        .collect();
    let take = max.unwrap_or(LIST_RESULTS_MAX).min(LIST_RESULTS_MAX);
    let shown = &rest[..take.min(rest.len())];
    let urls: Vec<Value> = shown
        .iter()
        .map(|name| Value::Text(context.queue_url(name.as_str())))
        .collect();
    let next = (max.is_some() && rest.len() > shown.len())
        .then(|| shown.last().map(|last| STANDARD.encode(last.as_str())))
        .flatten();
    let always = member == "queueUrls";
    Ok(Out::new()
        .maybe(member, (always || !urls.is_empty()).then_some(urls))
        .maybe("NextToken", next)
        .into())
}

//! Queue management actions: create, look up, list, delete, attributes, purge,
//! dead-letter sources, tags and permissions.

use super::requests::{
    CreateQueueRequest, GetQueueAttributesRequest, GetQueueUrlRequest,
    ListDeadLetterSourceQueuesRequest, ListQueuesRequest, QueueRequest, SetQueueAttributesRequest,
    TagQueueRequest, UntagQueueRequest,
};
use super::responses::{
    GetQueueAttributesResponse, ListDeadLetterSourceQueuesResponse, ListQueueTagsResponse,
    ListQueuesResponse, NoOutput, QueueUrlResponse,
};
use super::{attributes, permissions, queue_name_of, Answer, Context, SqsError};
use crate::protocol::typed::read;
use crate::protocol::value::Value;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use shardlog_queue::QueueName;

type Response = Result<Answer, SqsError>;

/// Most queue URLs one ListQueues or ListDeadLetterSourceQueues returns.
const LIST_RESULTS_MAX: usize = 1000;

/// Runs a queue management action; `None` if `action` is not one.
pub fn dispatch(context: &Context<'_>, action: &str, request: &Value) -> Option<Response> {
    run(context, action, request).transpose()
}

/// The action's answer; `Ok(None)` if `action` is not a queue management action.
fn run(context: &Context<'_>, action: &str, request: &Value) -> Result<Option<Answer>, SqsError> {
    let queues = context.sqs.queues();
    match action {
        "CreateQueue" => create_queue(context, read(request)?),
        "GetQueueUrl" => {
            let request: GetQueueUrlRequest = read(request)?;
            let queue = queues.queue(&request.queue_name)?;
            context.respond(&QueueUrlResponse {
                queue_url: context.queue_url(queue.name().as_str()),
            })
        }
        "ListQueues" => {
            let request: ListQueuesRequest = read(request)?;
            let names = queues.list_queues(request.queue_name_prefix.as_deref().unwrap_or(""));
            let page = page(context, request.max_results, request.next_token, names)?;
            context.respond(&ListQueuesResponse {
                queue_urls: page.urls,
                next_token: page.next_token,
            })
        }
        "ListDeadLetterSourceQueues" => {
            let request: ListDeadLetterSourceQueuesRequest = read(request)?;
            let names = queues.dead_letter_sources(queue_name_of(&request.queue_url)?)?;
            let page = page(context, request.max_results, request.next_token, names)?;
            context.respond(&ListDeadLetterSourceQueuesResponse {
                queue_urls: page.urls,
                next_token: page.next_token,
            })
        }
        "DeleteQueue" => {
            let request: QueueRequest = read(request)?;
            queues.delete_queue(queue_name_of(&request.queue_url)?)?;
            context.respond(&NoOutput {})
        }
        "GetQueueAttributes" => {
            let request: GetQueueAttributesRequest = read(request)?;
            let name = queue_name_of(&request.queue_url)?;
            let attributes = attributes::render(context, name, &request.attribute_names)?;
            context.respond(&GetQueueAttributesResponse { attributes })
        }
        "SetQueueAttributes" => set_queue_attributes(context, read(request)?),
        "PurgeQueue" => {
            let request: QueueRequest = read(request)?;
            queues.queue(queue_name_of(&request.queue_url)?)?.purge()?;
            context.respond(&NoOutput {})
        }
        "TagQueue" => {
            let request: TagQueueRequest = read(request)?;
            queues.tag_queue(queue_name_of(&request.queue_url)?, &request.tags)?;
            context.respond(&NoOutput {})
        }
        "UntagQueue" => {
            let request: UntagQueueRequest = read(request)?;
            queues.untag_queue(queue_name_of(&request.queue_url)?, &request.tag_keys)?;
            context.respond(&NoOutput {})
        }
        "ListQueueTags" => {
            let request: QueueRequest = read(request)?;
            let tags = queues.tags(queue_name_of(&request.queue_url)?)?;
            context.respond(&ListQueueTagsResponse { tags })
        }
        "AddPermission" => permissions::add(context, read(request)?),
        "RemovePermission" => permissions::remove(context, read(request)?),
        _ => return Ok(None),
    }
    .map(Some)
}

fn create_queue(context: &Context<'_>, request: CreateQueueRequest) -> Response {
    let name = QueueName::new(&request.queue_name).map_err(|_| {
        SqsError::new(
            "InvalidParameterValueException",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        )
    })?;
    let update = attributes::parse_update(&request.attributes, &name, true)?;
    // SQS compares only the attributes given with those of an existing queue.
    if let Ok(existing) = context.sqs.queues().queue(name.as_str()) {
        let current = existing.attributes();
        if update.apply_to(&current, &name).ok().as_ref() != Some(&current) {
            return Err(SqsError::new(
                "QueueNameExists",
                format!("A queue named {name} already exists with different attributes."),
            ));
        }
        return context.respond(&QueueUrlResponse {
            queue_url: context.queue_url(name.as_str()),
        });
    }
    let queue = context
        .sqs
        .queues()
        .create_queue(&name, &update, request.tags)?;
    context.respond(&QueueUrlResponse {
        queue_url: context.queue_url(queue.name().as_str()),
    })
}

fn set_queue_attributes(context: &Context<'_>, request: SetQueueAttributesRequest) -> Response {
    let queues = context.sqs.queues();
    let name = queue_name_of(&request.queue_url)?;
    let queue = queues.queue(name)?;
    let update = attributes::parse_update(&request.attributes, queue.name(), false)?;
    queues.set_attributes(name, &update)?;
    context.respond(&NoOutput {})
}

/// One page of queue URLs and the next page's token.
struct Page {
    urls: Vec<String>,
    next_token: Option<String>,
}

/// One page of queue URLs: all (up to 1000) without `max_results`, else
/// `max_results` after `next_token`'s name, with a token when more follow.
fn page(
    context: &Context<'_>,
    max_results: Option<i128>,
    next_token: Option<String>,
    names: Vec<QueueName>,
) -> Result<Page, SqsError> {
    let max = match max_results {
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
    let after = match next_token {
        None => None,
        Some(token) => Some(
            STANDARD
                .decode(&token)
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
    let urls = shown
        .iter()
        .map(|name| context.queue_url(name.as_str()))
        .collect();
    let next_token = (max.is_some() && rest.len() > shown.len())
        .then(|| shown.last().map(|last| STANDARD.encode(last.as_str())))
        .flatten();
    Ok(Page { urls, next_token })
}

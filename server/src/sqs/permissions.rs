//! AddPermission and RemovePermission: statements of the queue's `Policy`
//! document, one per label, kept with the queue and returned by
//! GetQueueAttributes. This server records them; it does not enforce them.

use super::requests::{AddPermissionRequest, RemovePermissionRequest};
use super::responses::NoOutput;
use super::{queue_name_of, Answer, Context, SqsError};
use serde_json::{json, Value as Json};
use shardlog_queue::AttributesUpdate;

/// Most statements (labels) in one queue's policy, as SQS allows.
const STATEMENTS_MAX: usize = 7;

fn invalid(message: String) -> SqsError {
    SqsError::new("InvalidParameterValueException", message)
}

/// The queue's policy document, or a new empty one.
fn current_policy(context: &Context<'_>, name: &str) -> Result<Json, SqsError> {
    let queue = context.sqs.queues().queue(name)?;
    let arn = context.sqs.arn(name);
    match queue.attributes().policy {
        Some(text) => serde_json::from_str(&text)
            .map_err(|error| invalid(format!("The queue's Policy is not JSON: {error}"))),
        None => Ok(json!({
            "Version": "2012-10-17",
            "Id": format!("{arn}/SQSDefaultPolicy"),
            "Statement": [],
        })),
    }
}

fn statements(policy: &mut Json) -> Result<&mut Vec<Json>, SqsError> {
    if policy.get("Statement").is_none_or(Json::is_object) {
        // A policy with one statement may give it as an object.
        let single = policy.get("Statement").cloned();
        policy["Statement"] = Json::Array(single.into_iter().collect());
    }
    policy["Statement"]
        .as_array_mut()
        .ok_or_else(|| invalid("The queue's Policy has no Statement list.".into()))
}

fn store(context: &Context<'_>, name: &str, policy: Option<Json>) -> Result<Answer, SqsError> {
    let update = AttributesUpdate {
        policy: Some(policy.map(|p| p.to_string())),
        ..AttributesUpdate::default()
    };
    context.sqs.queues().set_attributes(name, &update)?;
    context.respond(&NoOutput {})
}

/// Adds a statement allowing `Actions` to `AWSAccountIds` under `Label`.
pub fn add(context: &Context<'_>, request: AddPermissionRequest) -> Result<Answer, SqsError> {
    let name = queue_name_of(&request.queue_url)?;
    let label = request.label.as_str();
    let (accounts, actions) = (request.aws_account_ids, request.actions);
    if accounts.is_empty() || actions.is_empty() {
        return Err(invalid(
            "AWSAccountIds and Actions must each name at least one value.".into(),
        ));
    }
    let mut policy = current_policy(context, name)?;
    let arn = context.sqs.arn(name);
    let list = statements(&mut policy)?;
    if list.iter().any(|s| s["Sid"] == label) {
        return Err(invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: Already exists."
        )));
    }
    if list.len() >= STATEMENTS_MAX {
        return Err(SqsError::new(
            "OverLimit",
            format!("A queue's policy holds at most {STATEMENTS_MAX} statements."),
        ));
    }
    let principals: Vec<String> = accounts
        .iter()
        .map(|account| format!("arn:aws:iam::{account}:root"))
        .collect();
    let actions: Vec<String> = actions
        .iter()
        .map(|action| format!("SQS:{action}"))
        .collect();
    list.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": arn,
    }));
    store(context, name, Some(policy))
}

/// Removes the statement under `Label`; the policy goes when it is empty.
pub fn remove(context: &Context<'_>, request: RemovePermissionRequest) -> Result<Answer, SqsError> {
    let name = queue_name_of(&request.queue_url)?;
    let label = request.label.as_str();
    let mut policy = current_policy(context, name)?;
    let list = statements(&mut policy)?;
    let before = list.len();
    list.retain(|s| s["Sid"] != label);
    if list.len() == before {
        return Err(invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: can't find label on existing policy."
        )));
    }
    let empty = list.is_empty();
    store(context, name, (!empty).then_some(policy))
}

//! Dead-letter queue redrive: StartMessageMoveTask, ListMessageMoveTasks and
//! CancelMessageMoveTask over the queue layer's move tasks. Each started task runs
//! in its own thread until it ends or the service shuts down.

use super::{Context, SqsError};
use crate::protocol::value::{Fields, Format, Out, Value};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use shardlog_queue::{Error as QueueError, MoveTask, MoveTaskStatus};

type Response = Result<Value, SqsError>;

/// Most tasks one ListMessageMoveTasks returns.
const LIST_RESULTS_MAX: i128 = 10;

/// Runs a move task action; `None` if `action` is not one.
pub fn dispatch(context: &Context<'_>, action: &str, request: &Value) -> Option<Response> {
    let handler: fn(&Context<'_>, &Fields<'_>) -> Response = match action {
        "StartMessageMoveTask" => start,
        "ListMessageMoveTasks" => list,
        "CancelMessageMoveTask" => cancel,
        _ => return None,
    };
    Some(
        Fields::new(request, Format::Json)
            .map_err(SqsError::from)
            .and_then(|fields| handler(context, &fields))
            .map_err(not_found_as_resource),
    )
}

/// Move task actions name queues by ARN and answer ResourceNotFoundException.
fn not_found_as_resource(error: SqsError) -> SqsError {
    if error.shape == "QueueDoesNotExist" {
        return SqsError::new(
            "ResourceNotFoundException",
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        );
    }
    error
}

/// The queue name of an SQS ARN (`arn:aws:sqs:<region>:<account>:<name>`).
fn queue_of_arn<'a>(parameter: &str, arn: &'a str) -> Result<&'a str, SqsError> {
    let parts: Vec<&'a str> = arn.split(':').collect();
    match parts[..] {
        ["arn", _, "sqs", _, _, name] if !name.is_empty() => Ok(name),
        _ => Err(SqsError::invalid_value(
            parameter,
            arn,
            "You must use a valid Amazon SQS queue ARN.",
        )),
    }
}

fn start(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let source = queue_of_arn("SourceArn", fields.required_str("SourceArn")?)?;
    let destination = fields
        .str("DestinationArn")?
        .map(|arn| queue_of_arn("DestinationArn", arn))
        .transpose()?;
    let rate = match fields.int("MaxNumberOfMessagesPerSecond")? {
        None => None,
        Some(n @ 1..=500) => Some(n as u32),
        Some(n) => {
            return Err(SqsError::invalid_value(
                "MaxNumberOfMessagesPerSecond",
                n,
                "Must be between 1 and 500, if provided.",
            ))
        }
    };
    let queues = context.sqs.queues();
    let task = queues
        .start_move_task(source, destination, rate)
        .map_err(|error| match error {
            QueueError::NotDeadLetterQueue { .. } => SqsError::new(
                "InvalidParameterValueException",
                "Source queue must be configured as a Dead Letter Queue.",
            ),
            QueueError::MoveTaskRunning { .. } => SqsError::new(
                "InvalidParameterValueException",
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ),
            other => SqsError::from(other),
        })?;
    context.sqs.run_move_task(task.id)?;
    Ok(Out::new()
        .with("TaskHandle", task_handle(context, &task))
        .into())
}

fn list(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let source = queue_of_arn("SourceArn", fields.required_str("SourceArn")?)?;
    let max = match fields.int("MaxResults")? {
        None => 1,
        Some(n @ 1..=LIST_RESULTS_MAX) => n as usize,
        Some(n) => {
            return Err(SqsError::invalid_value(
                "MaxResults",
                n,
                "Must be between 1 and 10, if provided.",
            ))
        }
    };
    let tasks = context.sqs.queues().move_tasks(source)?;
    let results: Vec<Value> = tasks
        .iter()
        .take(max)
        .map(|task| entry(context, task))
        .collect();
    Ok(Out::new().with("Results", results).into())
}

fn cancel(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let handle = fields.required_str("TaskHandle")?;
    let id = task_id(handle).ok_or_else(|| {
        SqsError::new(
            "ResourceNotFoundException",
            "The task handle is not a valid task handle.",
        )
    })?;
    let task = context
        .sqs
        .queues()
        .cancel_move_task(id)
        .map_err(|error| match error {
            QueueError::MoveTaskNotFound { .. } | QueueError::MoveTaskNotRunning { .. } => {
                SqsError::new(
                    "ResourceNotFoundException",
                    "The task does not exist or is not running.",
                )
            }
            other => SqsError::from(other),
        })?;
    Ok(Out::new()
        .with("ApproximateNumberOfMessagesMoved", task.moved)
        .into())
}

/// AWS's handles are base64 JSON naming the task and its source; so are these.
fn task_handle(context: &Context<'_>, task: &MoveTask) -> String {
    let json = serde_json::json!({
        "taskId": task.id.to_string(),
        "sourceArn": context.sqs.arn(task.source.as_str()),
    });
    STANDARD.encode(json.to_string())
}

fn task_id(handle: &str) -> Option<u64> {
    let bytes = STANDARD.decode(handle).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json["taskId"].as_str()?.parse().ok()
}

fn status_name(status: MoveTaskStatus) -> &'static str {
    match status {
        MoveTaskStatus::Running => "RUNNING",
        MoveTaskStatus::Completed => "COMPLETED",
        MoveTaskStatus::Cancelling => "CANCELLING",
        MoveTaskStatus::Cancelled => "CANCELLED",
        MoveTaskStatus::Failed => "FAILED",
    }
}

fn entry(context: &Context<'_>, task: &MoveTask) -> Value {
    let running = task.status == MoveTaskStatus::Running;
    Out::new()
        .maybe("TaskHandle", running.then(|| task_handle(context, task)))
        .with("Status", status_name(task.status))
        .with("SourceArn", context.sqs.arn(task.source.as_str()))
        .maybe(
            "DestinationArn",
            task.destination
                .as_ref()
                .map(|d| context.sqs.arn(d.as_str())),
        )
        .maybe("MaxNumberOfMessagesPerSecond", task.rate_per_s)
        .with("ApproximateNumberOfMessagesMoved", task.moved)
        .with("ApproximateNumberOfMessagesToMove", task.to_move)
        .maybe("FailureReason", task.failure.clone())
        .with("StartedTimestamp", task.started_ms)
        .into()
}

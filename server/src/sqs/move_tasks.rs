//! Dead-letter queue redrive: StartMessageMoveTask, ListMessageMoveTasks and
//! CancelMessageMoveTask over the queue layer's move tasks. Each started task runs
//! in its own thread until it ends or the service shuts down.

use super::requests::{
    CancelMessageMoveTaskRequest, ListMessageMoveTasksRequest, StartMessageMoveTaskRequest,
};
use super::responses::{
    CancelMessageMoveTaskResponse, ListMessageMoveTasksResponse, MoveTaskEntry,
    StartMessageMoveTaskResponse,
};
use super::{Answer, Context, SqsError};
use crate::protocol::typed::read;
use crate::protocol::value::Value;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use shardlog_queue::{Error as QueueError, MoveTask, MoveTaskStatus};

type Response = Result<Answer, SqsError>;

/// Most tasks one ListMessageMoveTasks returns.
const LIST_RESULTS_MAX: i128 = 10;

/// Runs a move task action; `None` if `action` is not one.
pub fn dispatch(context: &Context<'_>, action: &str, request: &Value) -> Option<Response> {
    run(context, action, request).transpose()
}

/// The action's answer; `Ok(None)` if `action` is not a move task action.
fn run(context: &Context<'_>, action: &str, request: &Value) -> Result<Option<Answer>, SqsError> {
    match action {
        "StartMessageMoveTask" => start(context, read(request)?),
        "ListMessageMoveTasks" => list(context, read(request)?),
        "CancelMessageMoveTask" => cancel(context, read(request)?),
        _ => return Ok(None),
    }
    .map(Some)
}

/// The queue layer's refusals in the move task actions' words: they name queues
/// by ARN, so a missing one is ResourceNotFoundException.
fn move_task_error(error: QueueError) -> SqsError {
    match error {
        QueueError::QueueNotFound { .. } => SqsError::new(
            "ResourceNotFoundException",
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        ),
        QueueError::NotDeadLetterQueue { .. } => SqsError::new(
            "InvalidParameterValueException",
            "Source queue must be configured as a Dead Letter Queue.",
        ),
        QueueError::MoveTaskRunning { .. } => SqsError::new(
            "InvalidParameterValueException",
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
        ),
        QueueError::MoveTaskNotFound { .. } | QueueError::MoveTaskNotRunning { .. } => {
            SqsError::new(
                "ResourceNotFoundException",
                "The task does not exist or is not running.",
            )
        }
        other => SqsError::from(other),
    }
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

fn start(context: &Context<'_>, request: StartMessageMoveTaskRequest) -> Response {
    let source = queue_of_arn("SourceArn", &request.source_arn)?;
    let destination = request
        .destination_arn
        .as_deref()
        .map(|arn| queue_of_arn("DestinationArn", arn))
        .transpose()?;
    let rate = match request.max_number_of_messages_per_second {
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
        .map_err(move_task_error)?;
    context.sqs.run_move_task(task.id)?;
    context.respond(&StartMessageMoveTaskResponse {
        task_handle: task_handle(context, &task),
    })
}

fn list(context: &Context<'_>, request: ListMessageMoveTasksRequest) -> Response {
    let source = queue_of_arn("SourceArn", &request.source_arn)?;
    let max = match request.max_results {
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
    let tasks = context
        .sqs
        .queues()
        .move_tasks(source)
        .map_err(move_task_error)?;
    let results = tasks
        .iter()
        .take(max)
        .map(|task| entry(context, task))
        .collect();
    context.respond(&ListMessageMoveTasksResponse { results })
}

fn cancel(context: &Context<'_>, request: CancelMessageMoveTaskRequest) -> Response {
    let id = task_id(&request.task_handle).ok_or_else(|| {
        SqsError::new(
            "ResourceNotFoundException",
            "The task handle is not a valid task handle.",
        )
    })?;
    let task = context
        .sqs
        .queues()
        .cancel_move_task(id)
        .map_err(move_task_error)?;
    context.respond(&CancelMessageMoveTaskResponse {
        approximate_number_of_messages_moved: task.moved,
    })
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

fn entry(context: &Context<'_>, task: &MoveTask) -> MoveTaskEntry {
    let running = task.status == MoveTaskStatus::Running;
    MoveTaskEntry {
        task_handle: running.then(|| task_handle(context, task)),
        status: status_name(task.status),
        source_arn: context.sqs.arn(task.source.as_str()),
        destination_arn: task
            .destination
            .as_ref()
            .map(|d| context.sqs.arn(d.as_str())),
        max_number_of_messages_per_second: task.rate_per_s,
        approximate_number_of_messages_moved: task.moved,
        approximate_number_of_messages_to_move: task.to_move,
        failure_reason: task.failure.clone(),
        started_timestamp: task.started_ms,
    }
}

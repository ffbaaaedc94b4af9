//! The retry schedule of HTTP(S) deliveries: a `DeliveryPolicy`'s
//! `healthyRetryPolicy`, validated, and the delay before each retry.
//!
//! AWS splits the retries into four phases: immediate retries
//! (`numNoDelayRetries`), pre-backoff retries at `minDelayTarget`
//! (`numMinDelayRetries`), backoff retries whose delay grows from the minimum
//! to `maxDelayTarget` along `backoffFunction`, and post-backoff retries at
//! the maximum (`numMaxDelayRetries`). The backoff phase takes the retries
//! the other three leave of `numRetries`.
//!
//! AWS publishes the four backoff functions only as a graph; the curves here
//! follow its order: geometric rises soonest, then linear, then arithmetic
//! (quadratic), and exponential (a constant ratio between delays) latest.
//! "Amazon SNS applies jittering to delivery retries" (the SNS developer guide,
//! "Amazon SNS message delivery retries", pointing to the AWS Architecture
//! Blog's "Exponential Backoff and Jitter"), without saying how much:
//! [`RetrySchedule::jittered_delay_before`] keeps half of each delay and
//! jitters the other half, never below `minDelayTarget`.

use serde::Deserialize;
use std::time::Duration;

/// The most retries a policy may ask for.
pub const RETRIES_MAX: u32 = 100;
/// The longest delay target, in seconds.
pub const DELAY_TARGET_SECONDS_MAX: u32 = 3600;
/// The longest a whole schedule may take, in seconds: a hard AWS limit.
pub const SCHEDULE_SECONDS_MAX: u64 = 3600;

/// How delays grow in the backoff phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackoffFunction {
    /// Equal steps from the minimum to the maximum (AWS's default).
    #[default]
    Linear,
    /// Steps growing by equal amounts: the delay rises with the square of the retry.
    Arithmetic,
    /// Large steps first, smaller ones later.
    Geometric,
    /// Each delay a constant multiple of the one before.
    Exponential,
}

impl BackoffFunction {
    /// The name AWS uses in policies.
    pub fn name(self) -> &'static str {
        match self {
            BackoffFunction::Linear => "linear",
            BackoffFunction::Arithmetic => "arithmetic",
            BackoffFunction::Geometric => "geometric",
            BackoffFunction::Exponential => "exponential",
        }
    }

    /// The delay at `fraction` (0 = min, 1 = max) of the way through the phase.
    fn delay_seconds(self, min: f64, max: f64, fraction: f64) -> f64 {
        let span = max - min;
        match self {
            BackoffFunction::Linear => min + span * fraction,
            BackoffFunction::Arithmetic => min + span * fraction * fraction,
            BackoffFunction::Geometric => min + span * fraction.sqrt(),
            BackoffFunction::Exponential => min * (max / min).powf(fraction),
        }
    }
}

/// Why a delivery policy was refused: the facts; the server words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryPolicyError {
    /// The policy is not JSON of the expected shape (also: an unknown field, a wrong type).
    #[error("delivery policy is not valid: {detail}")]
    Malformed {
        /// The parser's account of the problem.
        detail: String,
    },
    /// A field is outside its range.
    #[error("{field} is {value}; it must be between {min} and {max}")]
    OutOfRange {
        /// The field's name as in the policy.
        field: &'static str,
        /// The value given.
        value: i64,
        /// The smallest value allowed.
        min: i64,
        /// The largest value allowed.
        max: i64,
    },
    /// `minDelayTarget` is above `maxDelayTarget`.
    #[error("minDelayTarget {min_seconds} is greater than maxDelayTarget {max_seconds}")]
    MinAboveMax {
        /// minDelayTarget.
        min_seconds: u32,
        /// maxDelayTarget.
        max_seconds: u32,
    },
    /// The immediate, pre-backoff and post-backoff retries add up to more than numRetries.
    #[error("numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries is {phases}, more than numRetries {retries}")]
    PhasesExceedRetries {
        /// The sum of the three phases.
        phases: u32,
        /// numRetries.
        retries: u32,
    },
    /// `backoffFunction` names no function.
    #[error("backoffFunction {name:?} is not one of linear, arithmetic, geometric, exponential")]
    UnknownBackoffFunction {
        /// The name given.
        name: String,
    },
    /// The retries together would take longer than AWS allows.
    #[error("the retries would take {seconds} s in all; at most 3600 s are allowed")]
    ScheduleTooLong {
        /// The whole schedule's length.
        seconds: u64,
    },
}

/// A validated retry schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySchedule {
    retries: u32,
    no_delay_retries: u32,
    min_delay_retries: u32,
    max_delay_retries: u32,
    min_delay_seconds: u32,
    max_delay_seconds: u32,
    backoff: BackoffFunction,
}

impl Default for RetrySchedule {
    /// AWS's policy when none is set: three retries, 20 seconds apart.
    fn default() -> Self {
        RetrySchedule {
            retries: 3,
            no_delay_retries: 0,
            min_delay_retries: 0,
            max_delay_retries: 0,
            min_delay_seconds: 20,
            max_delay_seconds: 20,
            backoff: BackoffFunction::Linear,
        }
    }
}

/// `healthyRetryPolicy` as written; absent fields take AWS's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HealthyRetryPolicyJson {
    num_retries: Option<i64>,
    min_delay_target: Option<i64>,
    max_delay_target: Option<i64>,
    num_no_delay_retries: Option<i64>,
    num_min_delay_retries: Option<i64>,
    num_max_delay_retries: Option<i64>,
    backoff_function: Option<String>,
}

fn in_range(field: &'static str, value: i64, min: i64, max: i64) -> Result<u32, RetryPolicyError> {
    if (min..=max).contains(&value) {
        // The ranges used here all fit in u32.
        Ok(value as u32)
    } else {
        Err(RetryPolicyError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

impl RetrySchedule {
    /// Validates a parsed `healthyRetryPolicy`.
    fn from_json(json: HealthyRetryPolicyJson) -> Result<Self, RetryPolicyError> {
        let default = RetrySchedule::default();
        let retries_max = i64::from(RETRIES_MAX);
        let delay_max = i64::from(DELAY_TARGET_SECONDS_MAX);
        let count = |field, value: Option<i64>| in_range(field, value.unwrap_or(0), 0, retries_max);
        let retries = json.num_retries.map_or(Ok(default.retries), |n| {
            in_range("numRetries", n, 0, retries_max)
        })?;
        let min_delay_seconds = json
            .min_delay_target
            .map_or(Ok(default.min_delay_seconds), |n| {
                in_range("minDelayTarget", n, 1, delay_max)
            })?;
        let max_delay_seconds = json
            .max_delay_target
            .map_or(Ok(default.max_delay_seconds), |n| {
                in_range("maxDelayTarget", n, 1, delay_max)
            })?;
        if min_delay_seconds > max_delay_seconds {
            return Err(RetryPolicyError::MinAboveMax {
                min_seconds: min_delay_seconds,
                max_seconds: max_delay_seconds,
            });
        }
        let no_delay_retries = count("numNoDelayRetries", json.num_no_delay_retries)?;
        let min_delay_retries = count("numMinDelayRetries", json.num_min_delay_retries)?;
        let max_delay_retries = count("numMaxDelayRetries", json.num_max_delay_retries)?;
        let phases = no_delay_retries + min_delay_retries + max_delay_retries;
        if phases > retries {
            return Err(RetryPolicyError::PhasesExceedRetries { phases, retries });
        }
        let backoff = match json.backoff_function.as_deref() {
            None => BackoffFunction::Linear,
            Some(name) => parse_backoff(name)?,
        };
        let schedule = RetrySchedule {
            retries,
            no_delay_retries,
            min_delay_retries,
            max_delay_retries,
            min_delay_seconds,
            max_delay_seconds,
            backoff,
        };
        let seconds = schedule.total().as_secs();
        if seconds > SCHEDULE_SECONDS_MAX {
            return Err(RetryPolicyError::ScheduleTooLong { seconds });
        }
        Ok(schedule)
    }

    /// How many retries follow the first delivery attempt.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The backoff function.
    pub fn backoff(&self) -> BackoffFunction {
        self.backoff
    }

    /// The retries of the backoff phase: those the other phases leave.
    pub fn backoff_retries(&self) -> u32 {
        self.retries - self.no_delay_retries - self.min_delay_retries - self.max_delay_retries
    }

    /// The delay before delivery attempt `attempt`: 0 is the first delivery
    /// (no delay), 1 the first retry, up to [`RetrySchedule::retries`]. The
    /// schedule is exhausted after that many retries; later attempts, which
    /// the caller does not make, would wait the maximum delay.
    pub fn delay_before(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let min = self.min_delay_seconds;
        let backoff_start = self.no_delay_retries + self.min_delay_retries;
        let backoff_end = backoff_start + self.backoff_retries();
        let seconds = if attempt <= self.no_delay_retries {
            0.0
        } else if attempt <= backoff_start {
            f64::from(min)
        } else if attempt <= backoff_end {
            // The phase starts above the pre-backoff delay and ends at the maximum.
            let fraction = f64::from(attempt - backoff_start) / f64::from(self.backoff_retries());
            let max = f64::from(self.max_delay_seconds);
            self.backoff.delay_seconds(f64::from(min), max, fraction)
        } else {
            f64::from(self.max_delay_seconds)
        };
        Duration::from_secs_f64(seconds)
    }

    /// [`RetrySchedule::delay_before`] with jitter ("equal jitter" of the blog
    /// post AWS's guide points to): half of the delay is kept, the other half is
    /// scaled by `unit` (uniform in 0..=1), and the result is never below
    /// `minDelayTarget`. So it lies between `minDelayTarget` and the exact delay
    /// (at most `maxDelayTarget`), a schedule never outgrows its validated
    /// total, and immediate retries stay immediate.
    pub fn jittered_delay_before(&self, attempt: u32, unit: f64) -> Duration {
        let exact = self.delay_before(attempt);
        if exact.is_zero() {
            return exact;
        }
        let floor = Duration::from_secs(u64::from(self.min_delay_seconds));
        let jittered = exact.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
        jittered.max(floor).min(exact)
    }

    /// The whole schedule's length: every retry's delay added up.
    pub fn total(&self) -> Duration {
        (1..=self.retries)
            .map(|attempt| self.delay_before(attempt))
            .sum()
    }
}

fn parse_backoff(name: &str) -> Result<BackoffFunction, RetryPolicyError> {
    [
        BackoffFunction::Linear,
        BackoffFunction::Arithmetic,
        BackoffFunction::Geometric,
        BackoffFunction::Exponential,
    ]
    .into_iter()
    .find(|function| function.name().eq_ignore_ascii_case(name))
    .ok_or_else(|| RetryPolicyError::UnknownBackoffFunction {
        name: name.to_string(),
    })
}

/// An HTTP(S) delivery policy: a subscription's `DeliveryPolicy`, or the
/// `http` part of a topic's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeliveryPolicy {
    /// The retry schedule (`healthyRetryPolicy`, or a topic's `defaultHealthyRetryPolicy`).
    pub retry: RetrySchedule,
    /// `throttlePolicy.maxReceivesPerSecond`: no limit when absent.
    pub max_receives_per_second: Option<u32>,
    /// `requestPolicy.headerContentType`: AWS's `text/plain; charset=UTF-8` when absent.
    pub header_content_type: Option<String>,
    /// A topic's `disableSubscriptionOverrides`: subscriptions' own policies are ignored.
    pub disable_subscription_overrides: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ThrottlePolicyJson {
    max_receives_per_second: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RequestPolicyJson {
    header_content_type: Option<String>,
}

/// A subscription's policy. AWS itself shows `sicklyRetryPolicy` and
/// `guaranteed` in policies it returns, so clients that send them back are
/// not refused; they carry nothing this server acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SubscriptionPolicyJson {
    healthy_retry_policy: Option<HealthyRetryPolicyJson>,
    throttle_policy: Option<ThrottlePolicyJson>,
    request_policy: Option<RequestPolicyJson>,
    #[serde(rename = "sicklyRetryPolicy")]
    _sickly_retry_policy: Option<serde_json::Value>,
    #[serde(rename = "guaranteed")]
    _guaranteed: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TopicHttpPolicyJson {
    default_healthy_retry_policy: Option<HealthyRetryPolicyJson>,
    default_throttle_policy: Option<ThrottlePolicyJson>,
    default_request_policy: Option<RequestPolicyJson>,
    disable_subscription_overrides: Option<bool>,
    #[serde(rename = "defaultSicklyRetryPolicy")]
    _default_sickly_retry_policy: Option<serde_json::Value>,
}

/// A topic's policy: only HTTP(S) delivery can be tuned, under `http`.
#[derive(Debug, Default, Deserialize)]
struct TopicPolicyJson {
    http: Option<TopicHttpPolicyJson>,
}

fn malformed(error: serde_json::Error) -> RetryPolicyError {
    RetryPolicyError::Malformed {
        detail: error.to_string(),
    }
}

impl DeliveryPolicy {
    /// Parses and validates a subscription's `DeliveryPolicy`.
    pub fn parse_subscription(json: &str) -> Result<DeliveryPolicy, RetryPolicyError> {
        let policy: SubscriptionPolicyJson = serde_json::from_str(json).map_err(malformed)?;
        Self::build(
            policy.healthy_retry_policy,
            policy.throttle_policy,
            policy.request_policy,
            false,
        )
    }

    /// Parses and validates a topic's `DeliveryPolicy` (its `http` part).
    pub fn parse_topic(json: &str) -> Result<DeliveryPolicy, RetryPolicyError> {
        let policy: TopicPolicyJson = serde_json::from_str(json).map_err(malformed)?;
        let http = policy.http.unwrap_or_default();
        Self::build(
            http.default_healthy_retry_policy,
            http.default_throttle_policy,
            http.default_request_policy,
            http.disable_subscription_overrides.unwrap_or(false),
        )
    }

    fn build(
        retry: Option<HealthyRetryPolicyJson>,
        throttle: Option<ThrottlePolicyJson>,
        request: Option<RequestPolicyJson>,
        disable_subscription_overrides: bool,
    ) -> Result<DeliveryPolicy, RetryPolicyError> {
        let retry = retry.map_or(Ok(RetrySchedule::default()), RetrySchedule::from_json)?;
        let max_receives_per_second = throttle
            .and_then(|t| t.max_receives_per_second)
            .map(|n| in_range("maxReceivesPerSecond", n, 1, i64::from(u32::MAX)))
            .transpose()?;
        Ok(DeliveryPolicy {
            retry,
            max_receives_per_second,
            header_content_type: request.and_then(|r| r.header_content_type),
            disable_subscription_overrides,
        })
    }
}

//! HTTP delivery policies: AWS's default, the four phases, each backoff
//! function's curve, and the limits.

use shardlog_topic::retry::{BackoffFunction, DeliveryPolicy, RetryPolicyError, RetrySchedule};
use std::time::Duration;

fn schedule(healthy: &str) -> RetrySchedule {
    let json = format!(r#"{{"healthyRetryPolicy": {healthy}}}"#);
    DeliveryPolicy::parse_subscription(&json)
        .expect("valid policy")
        .retry
}

fn error(healthy: &str) -> RetryPolicyError {
    let json = format!(r#"{{"healthyRetryPolicy": {healthy}}}"#);
    DeliveryPolicy::parse_subscription(&json).expect_err("policy must be refused")
}

fn seconds(schedule: &RetrySchedule) -> Vec<f64> {
    (1..=schedule.retries())
        .map(|attempt| schedule.delay_before(attempt).as_secs_f64())
        .collect()
}

fn backoff_curve(function: &str) -> Vec<f64> {
    let policy = format!(
        r#"{{"numRetries": 10, "minDelayTarget": 5, "maxDelayTarget": 260, "backoffFunction": "{function}"}}"#
    );
    seconds(&schedule(&policy))
}

/// Without a policy, AWS retries three times, 20 seconds apart, and the first delivery waits for nothing.
#[test]
fn default_is_three_retries_twenty_seconds_apart() {
    let policy = DeliveryPolicy::parse_subscription("{}").expect("empty policy is valid");
    assert_eq!(policy.retry, RetrySchedule::default());
    assert_eq!(seconds(&policy.retry), vec![20.0, 20.0, 20.0]);
    assert_eq!(policy.retry.delay_before(0), Duration::ZERO);
    assert_eq!(policy.retry.total(), Duration::from_secs(60));
    assert_eq!(policy.max_receives_per_second, None);
}

/// Immediate, pre-backoff, backoff and post-backoff retries come in that order and in those counts.
#[test]
fn phases_in_order_and_count() {
    let schedule = schedule(
        r#"{"numRetries": 10, "numNoDelayRetries": 2, "numMinDelayRetries": 2, "numMaxDelayRetries": 2,
            "minDelayTarget": 5, "maxDelayTarget": 61, "backoffFunction": "linear"}"#,
    );
    assert_eq!(schedule.backoff_retries(), 4);
    assert_eq!(
        seconds(&schedule),
        vec![0.0, 0.0, 5.0, 5.0, 19.0, 33.0, 47.0, 61.0, 61.0, 61.0]
    );
}

/// Every backoff curve rises from above the minimum to exactly the maximum, never falling.
#[test]
fn backoff_curves_end_at_the_maximum() {
    for function in ["linear", "arithmetic", "geometric", "exponential"] {
        let curve = backoff_curve(function);
        assert!(curve[0] > 5.0, "{function}: {curve:?}");
        assert!((curve[9] - 260.0).abs() < 1e-9, "{function}: {curve:?}");
        assert!(
            curve.windows(2).all(|w| w[0] < w[1]),
            "{function}: {curve:?}"
        );
    }
}

/// Linear steps are equal, arithmetic steps grow, geometric steps shrink, exponential delays keep one ratio.
#[test]
fn backoff_curve_shapes() {
    let steps = |curve: &[f64]| curve.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>();
    let linear = steps(&backoff_curve("linear"));
    assert!(
        linear.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-9),
        "{linear:?}"
    );
    let arithmetic = steps(&backoff_curve("arithmetic"));
    assert!(arithmetic.windows(2).all(|w| w[0] < w[1]), "{arithmetic:?}");
    let geometric = steps(&backoff_curve("geometric"));
    assert!(geometric.windows(2).all(|w| w[0] > w[1]), "{geometric:?}");
    let exponential = backoff_curve("exponential");
    let ratios: Vec<f64> = exponential.windows(2).map(|w| w[1] / w[0]).collect();
    assert!(
        ratios.windows(2).all(|w| (w[0] - w[1]).abs() < 1e-9),
        "{ratios:?}"
    );
}

/// Halfway through the backoff, geometric is highest, then linear, arithmetic, exponential.
#[test]
fn backoff_curves_in_aws_order() {
    let middle = |function| backoff_curve(function)[4];
    assert!(middle("geometric") > middle("linear"));
    assert!(middle("linear") > middle("arithmetic"));
    assert!(middle("arithmetic") > middle("exponential"));
}

/// Function names are read in any case, and unknown ones are refused.
#[test]
fn backoff_function_names() {
    let upper = schedule(r#"{"backoffFunction": "EXPONENTIAL"}"#);
    assert_eq!(upper.backoff(), BackoffFunction::Exponential);
    assert_eq!(
        error(r#"{"backoffFunction": "cubic"}"#),
        RetryPolicyError::UnknownBackoffFunction {
            name: "cubic".into()
        }
    );
}

/// Each field's range: numRetries 0-100, delay targets 1-3600, phase counts within numRetries.
#[test]
fn field_ranges() {
    let out_of_range = |policy: &str, field: &str| {
        let refused = error(policy);
        assert!(
            matches!(&refused, RetryPolicyError::OutOfRange { field: f, .. } if *f == field),
            "{policy}: {refused}"
        );
    };
    out_of_range(r#"{"numRetries": 101}"#, "numRetries");
    out_of_range(r#"{"numRetries": -1}"#, "numRetries");
    out_of_range(r#"{"minDelayTarget": 0}"#, "minDelayTarget");
    out_of_range(r#"{"maxDelayTarget": 3601}"#, "maxDelayTarget");
    out_of_range(r#"{"numNoDelayRetries": -2}"#, "numNoDelayRetries");
    assert_eq!(schedule(r#"{"numRetries": 0}"#).retries(), 0);
    assert_eq!(
        error(r#"{"minDelayTarget": 30, "maxDelayTarget": 10}"#),
        RetryPolicyError::MinAboveMax {
            min_seconds: 30,
            max_seconds: 10
        }
    );
    assert_eq!(
        error(r#"{"numRetries": 3, "numNoDelayRetries": 2, "numMaxDelayRetries": 2}"#),
        RetryPolicyError::PhasesExceedRetries {
            phases: 4,
            retries: 3
        }
    );
}

/// A schedule longer than an hour in all is refused; one of exactly an hour is accepted.
#[test]
fn schedule_at_most_an_hour() {
    let hour = schedule(r#"{"numRetries": 10, "minDelayTarget": 360, "maxDelayTarget": 360}"#);
    assert_eq!(hour.total(), Duration::from_secs(3600));
    assert_eq!(
        error(r#"{"numRetries": 11, "minDelayTarget": 360, "maxDelayTarget": 360}"#),
        RetryPolicyError::ScheduleTooLong { seconds: 3960 }
    );
}

/// Unknown fields and wrong types are refused rather than ignored.
#[test]
fn malformed_policies() {
    assert!(matches!(
        error(r#"{"numRetrys": 3}"#),
        RetryPolicyError::Malformed { .. }
    ));
    assert!(matches!(
        error(r#"{"numRetries": "3"}"#),
        RetryPolicyError::Malformed { .. }
    ));
    let not_json = DeliveryPolicy::parse_subscription("{");
    assert!(matches!(not_json, Err(RetryPolicyError::Malformed { .. })));
}

/// Throttle and request policies at subscription scope, and a topic's http defaults.
#[test]
fn throttle_request_and_topic_policies() {
    let subscription = DeliveryPolicy::parse_subscription(
        r#"{"healthyRetryPolicy": {"numRetries": 5}, "throttlePolicy": {"maxReceivesPerSecond": 10},
            "requestPolicy": {"headerContentType": "application/json"}, "sicklyRetryPolicy": null, "guaranteed": false}"#,
    )
    .expect("valid policy");
    assert_eq!(subscription.retry.retries(), 5);
    assert_eq!(subscription.max_receives_per_second, Some(10));
    assert_eq!(
        subscription.header_content_type.as_deref(),
        Some("application/json")
    );

    let zero =
        DeliveryPolicy::parse_subscription(r#"{"throttlePolicy": {"maxReceivesPerSecond": 0}}"#);
    assert!(matches!(
        zero,
        Err(RetryPolicyError::OutOfRange {
            field: "maxReceivesPerSecond",
            ..
        })
    ));

    let topic = DeliveryPolicy::parse_topic(
        r#"{"http": {"defaultHealthyRetryPolicy": {"numRetries": 7, "minDelayTarget": 1, "maxDelayTarget": 9},
            "disableSubscriptionOverrides": true, "defaultThrottlePolicy": {"maxReceivesPerSecond": 2}}}"#,
    )
    .expect("valid topic policy");
    assert_eq!(topic.retry.retries(), 7);
    assert!(topic.disable_subscription_overrides);
    assert_eq!(topic.max_receives_per_second, Some(2));
    assert_eq!(
        DeliveryPolicy::parse_topic("{}").expect("valid").retry,
        RetrySchedule::default()
    );
}

/// Jitter (AWS jitters its retries) keeps every delay between minDelayTarget
/// and the exact delay (so at most maxDelayTarget and never a longer schedule),
/// leaves immediate retries immediate, and does vary the backoff delays.
#[test]
fn jitter_stays_between_the_minimum_and_the_exact_delay() {
    let schedule = schedule(
        r#"{"numRetries": 12, "numNoDelayRetries": 2, "numMinDelayRetries": 2, "numMaxDelayRetries": 2,
            "minDelayTarget": 3, "maxDelayTarget": 120, "backoffFunction": "exponential"}"#,
    );
    let min = Duration::from_secs(3);
    let max = Duration::from_secs(120);
    let units = [0.0, 0.1, 0.25, 0.5, 0.75, 0.999, 1.0, -1.0, 2.0];
    for attempt in 1..=schedule.retries() {
        let exact = schedule.delay_before(attempt);
        for unit in units {
            let jittered = schedule.jittered_delay_before(attempt, unit);
            if exact.is_zero() {
                assert_eq!(jittered, Duration::ZERO, "attempt {attempt}");
                continue;
            }
            assert!(
                jittered >= min,
                "attempt {attempt} unit {unit}: {jittered:?}"
            );
            assert!(
                jittered <= exact && jittered <= max,
                "attempt {attempt} unit {unit}: {jittered:?}"
            );
            assert!(
                jittered >= (exact / 2).max(min),
                "attempt {attempt}: {jittered:?}"
            );
        }
    }
    // Post-backoff retries wait between half the maximum and the maximum.
    let last = schedule.retries();
    assert_eq!(
        schedule.jittered_delay_before(last, 0.0),
        Duration::from_secs(60)
    );
    assert_eq!(schedule.jittered_delay_before(last, 1.0), max);
    let spread: std::collections::BTreeSet<Duration> = units
        .iter()
        .map(|unit| schedule.jittered_delay_before(last - 3, *unit))
        .collect();
    assert!(spread.len() > 3, "backoff delays vary: {spread:?}");
    // A policy whose minimum is its maximum (AWS's default) has nothing to jitter.
    let fixed = RetrySchedule::default();
    assert_eq!(fixed.jittered_delay_before(1, 0.0), Duration::from_secs(20));
}

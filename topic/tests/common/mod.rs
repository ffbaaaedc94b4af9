//! What the delivery tests share: a bounded wait on a test sink's state, and
//! the topics' configuration with a short retry schedule.

use shardlog_topic::{FixedRetry, RetryConfig, TopicsConfig};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Waits (at most 10 s) until `done` holds of what `state` guards; `changed`
/// is signalled at every change. Whether it came to hold.
pub fn wait_until<T>(state: &Mutex<T>, changed: &Condvar, done: impl Fn(&T) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut state = state.lock().unwrap();
    while !done(&state) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        state = changed.wait_timeout(state, left).unwrap().0;
    }
    true
}

/// Topics whose queue deliveries are retried twice, 10 ms apart.
pub fn quick_retries() -> TopicsConfig {
    TopicsConfig {
        retry: RetryConfig {
            managed: FixedRetry {
                retries: 2,
                delay_ms: 10,
            },
        },
        ..TopicsConfig::default()
    }
}

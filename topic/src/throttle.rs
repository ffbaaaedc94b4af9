//! The throttle of an HTTP(S) subscription: its DeliveryPolicy's
//! `throttlePolicy.maxReceivesPerSecond` (the subscription's, else the topic's
//! `http.defaultThrottlePolicy`) spaces the requests to the endpoint, retries
//! included, at least `1 / maxReceivesPerSecond` apart, so that no second holds
//! more than that many (plus the one that opens it).
//!
//! The throttle only decides; the delivery worker waits the time it names on
//! its stop condition, so that stopping a subscription never waits for it. A
//! token bucket crate would add a dependency for these few lines and allow
//! bursts, which the endpoint asked not to get.

use std::time::{Duration, Instant};

/// One subscription's throttle: when its next request may start.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    next_allowed: Option<Instant>,
}

impl Throttle {
    /// Whether a request may start at `now` with at most `per_second` requests a
    /// second (`None`: no limit). `None` when it may (and it is counted), else
    /// how long to wait before asking again.
    pub(crate) fn admit(&mut self, per_second: Option<u32>, now: Instant) -> Option<Duration> {
        let Some(per_second) = per_second.filter(|rate| *rate > 0) else {
            self.next_allowed = None;
            return None;
        };
        if let Some(wait) = self
            .next_allowed
            .map(|next| next.saturating_duration_since(now))
            .filter(|wait| !wait.is_zero())
        {
            return Some(wait);
        }
        let spacing = Duration::from_secs(1) / per_second;
        self.next_allowed = Some(now + spacing);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deliveries admitted while a clock advances in steps of `step` for
    /// `length`, asking again whenever the throttle says to wait.
    fn admitted(
        throttle: &mut Throttle,
        per_second: Option<u32>,
        step: Duration,
        length: Duration,
    ) -> Vec<Duration> {
        let start = Instant::now();
        let mut at = Duration::ZERO;
        let mut admitted = Vec::new();
        while at < length {
            match throttle.admit(per_second, start + at) {
                None => admitted.push(at),
                Some(wait) => assert!(wait <= Duration::from_secs(1), "{wait:?}"),
            }
            at += step;
        }
        admitted
    }

    /// With a rate, requests are admitted at most that many a second, evenly
    /// spaced, and a refused request is told exactly how long is left.
    #[test]
    fn admits_at_most_the_rate_evenly_spaced() {
        let mut throttle = Throttle::default();
        let got = admitted(
            &mut throttle,
            Some(4),
            Duration::from_millis(10),
            Duration::from_secs(3),
        );
        assert_eq!(got.len(), 12, "{got:?}");
        for pair in got.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(250), "{got:?}");
        }
        let start = Instant::now();
        let mut throttle = Throttle::default();
        assert_eq!(throttle.admit(Some(2), start), None);
        assert_eq!(
            throttle.admit(Some(2), start + Duration::from_millis(100)),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            throttle.admit(Some(2), start + Duration::from_millis(500)),
            None
        );
    }

    /// Without a rate every request is admitted, and a rate set later applies
    /// from then on; a rate removed lifts the wait at once.
    #[test]
    fn no_rate_admits_everything_and_rates_can_change() {
        let mut throttle = Throttle::default();
        let got = admitted(
            &mut throttle,
            None,
            Duration::from_millis(1),
            Duration::from_millis(100),
        );
        assert_eq!(got.len(), 100);
        let start = Instant::now();
        assert_eq!(throttle.admit(Some(1), start), None);
        assert!(throttle
            .admit(Some(1), start + Duration::from_millis(999))
            .is_some());
        assert_eq!(
            throttle.admit(None, start + Duration::from_millis(999)),
            None
        );
    }

    /// A long idle time earns no burst: after it, requests are still spaced.
    #[test]
    fn idle_time_earns_no_burst() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        assert_eq!(throttle.admit(Some(10), start), None);
        let later = start + Duration::from_secs(60);
        assert_eq!(throttle.admit(Some(10), later), None);
        assert_eq!(
            throttle.admit(Some(10), later + Duration::from_millis(1)),
            Some(Duration::from_millis(99))
        );
    }
}

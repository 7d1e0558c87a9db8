//! The client's adaptive request limit. JumpCloud publishes no rate limits, so the client finds
//! the rate the API accepts instead of assuming one:
//!
//! - **Requests in flight** follow AIMD, bounded by `--concurrency` (the maximum): slow start
//!   from [`INITIAL_LIMIT`] (one more per success, so it doubles every round trip) up to the
//!   maximum; then one more per round trip's worth of successes. A throttle (429, or any answer
//!   with `Retry-After`) halves it, once per round trip however many answers say so; latency
//!   rising to [`LATENCY_RISE`] x an endpoint's own fastest cuts it by a tenth.
//! - **Pacing**: 429s carry the one fact that a concurrency limit alone cannot use, that the
//!   *rate* is too high (with 20 ms answers, one request in flight is already 50 requests/s).
//!   So the first throttle also sets a request rate: 80% of what the API accepted in the last
//!   second, growing back by 10% of it per second (at least 1 request/s per second), then probing
//!   above it by 1% per second (at least 0.5). Pacing ends once it has grown to twice the rate
//!   that was throttled without another throttle.
//! - **`Retry-After`** pauses every request of the client until then, not only the one retried.
//!
//! The state is pure ([`AdaptiveState`]: the clock is passed in) and unit-tested; [`AdaptiveLimit`]
//! only waits on it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Requests in flight before the first answer.
pub const INITIAL_LIMIT: f64 = 4.0;
/// Latency over an endpoint's fastest at which the limit is cut.
pub const LATENCY_RISE: f64 = 3.0;
const THROTTLE_FACTOR: f64 = 0.5;
const LATENCY_FACTOR: f64 = 0.9;
const PACE_START: f64 = 0.8;
const PACE_RECOVERY_PER_SECOND: f64 = 0.1;
const PACE_PROBE_PER_SECOND: f64 = 0.01;
/// Growth per second, in requests per second, at least: a throttle at a quiet moment (one
/// answer in the last second) must not leave the client at one request per second for minutes.
const PACE_MIN_RECOVERY: f64 = 1.0;
const PACE_MIN_PROBE: f64 = 0.5;
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// Weight of a new latency ratio in the moving average.
const LATENCY_WEIGHT: f64 = 0.1;

/// How one attempt ended, as far as the limit is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// An answer arrived (any status but a throttle): `latency` from send to the end of the body.
    Answered {
        endpoint: &'a str,
        latency: Duration,
    },
    /// 429, or an answer with `Retry-After`.
    Throttled { retry_after: Option<Duration> },
    /// No answer (transport error, cancelled): says nothing about the API's capacity.
    NoAnswer,
}

/// What an attempt may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// Paused (`Retry-After`) or paced: ask again at this instant.
    WaitUntil(Instant),
    /// As many requests in flight as allowed: ask again when one ends.
    WaitForSlot,
}

#[derive(Debug, Clone)]
struct Pace {
    /// Requests per second now.
    rate: f64,
    /// What the API accepted per second when it last throttled.
    ceiling: f64,
    /// Credit for requests, at most one.
    tokens: f64,
    updated: Instant,
}

impl Pace {
    fn advance(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.updated = now;
        // Fast up to 95% of the throttled rate, slowly past it.
        let knee = 0.95 * self.ceiling;
        let mut left = elapsed;
        if self.rate < knee {
            let recovery = (PACE_RECOVERY_PER_SECOND * self.ceiling).max(PACE_MIN_RECOVERY);
            let step = left.min((knee - self.rate) / recovery);
            self.rate += recovery * step;
            left -= step;
        }
        self.rate += (PACE_PROBE_PER_SECOND * self.ceiling).max(PACE_MIN_PROBE) * left;
        self.tokens = (self.tokens + elapsed * self.rate).min(1.0);
    }
}

/// The limit's state; every method takes the current instant.
#[derive(Debug, Clone)]
pub struct AdaptiveState {
    max: f64,
    limit: f64,
    slow_start: bool,
    in_flight: usize,
    paused_until: Option<Instant>,
    last_cut: Option<Instant>,
    /// Fastest answer per endpoint label, and the moving average of latency / fastest.
    fastest: BTreeMap<String, Duration>,
    latency_ratio: f64,
    /// Smoothed latency of any answer: one "round trip" for the once-per-round-trip rules.
    round_trip: Duration,
    /// When recent answers arrived (the accepted rate over the last second).
    answers: VecDeque<Instant>,
    pace: Option<Pace>,
}

impl AdaptiveState {
    /// A limit of at most `max` requests in flight (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.max(1) as f64;
        AdaptiveState {
            max,
            limit: INITIAL_LIMIT.min(max),
            slow_start: true,
            in_flight: 0,
            paused_until: None,
            last_cut: None,
            fastest: BTreeMap::new(),
            latency_ratio: 1.0,
            round_trip: Duration::from_millis(100),
            answers: VecDeque::new(),
            pace: None,
        }
    }

    /// Requests allowed in flight now.
    pub fn limit(&self) -> usize {
        (self.limit.floor() as usize).max(1)
    }

    /// The paced rate in requests per second, when pacing.
    pub fn paced_rate(&self) -> Option<f64> {
        self.pace.as_ref().map(|p| p.rate)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether an attempt may start now; `Go` counts it in flight.
    pub fn admit(&mut self, now: Instant) -> Admission {
        if let Some(until) = self.paused_until {
            if now < until {
                return Admission::WaitUntil(until);
            }
            self.paused_until = None;
        }
        if self.in_flight >= self.limit() {
            return Admission::WaitForSlot;
        }
        if let Some(pace) = &mut self.pace {
            pace.advance(now);
            if pace.rate >= 2.0 * pace.ceiling {
                self.pace = None;
            } else if pace.tokens < 1.0 {
                let wait = (1.0 - pace.tokens) / pace.rate.max(0.1);
                return Admission::WaitUntil(now + Duration::from_secs_f64(wait));
            } else {
                pace.tokens -= 1.0;
            }
        }
        self.in_flight += 1;
        Admission::Go
    }

    /// Records how an admitted attempt ended.
    pub fn finish(&mut self, outcome: Outcome<'_>, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Answered { endpoint, latency } => self.answered(endpoint, latency, now),
            Outcome::Throttled { retry_after } => self.throttled(retry_after, now),
            Outcome::NoAnswer => {}
        }
    }

    fn answered(&mut self, endpoint: &str, latency: Duration, now: Instant) {
        self.answers.push_back(now);
        while self
            .answers
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > RATE_WINDOW)
        {
            self.answers.pop_front();
        }
        self.round_trip = self.round_trip.mul_f64(0.9) + latency.mul_f64(0.1);
        let fastest = self
            .fastest
            .entry(endpoint.to_owned())
            .and_modify(|f| *f = (*f).min(latency))
            .or_insert(latency);
        let ratio = latency.as_secs_f64() / fastest.as_secs_f64().max(1e-6);
        self.latency_ratio = (1.0 - LATENCY_WEIGHT) * self.latency_ratio + LATENCY_WEIGHT * ratio;
        if self.latency_ratio >= LATENCY_RISE && self.may_cut(now) {
            self.cut(LATENCY_FACTOR, now);
            // Judge the new limit by the answers it gets.
            self.latency_ratio = 1.0;
            return;
        }
        self.limit = if self.slow_start {
            self.limit + 1.0
        } else {
            self.limit + 1.0 / self.limit
        }
        .min(self.max);
    }

    fn throttled(&mut self, retry_after: Option<Duration>, now: Instant) {
        if let Some(wait) = retry_after {
            let until = now + wait;
            self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        }
        if !self.may_cut(now) {
            return;
        }
        self.cut(THROTTLE_FACTOR, now);
        let accepted = self.answers.len().max(1) as f64;
        let rate = match &self.pace {
            Some(pace) => pace.rate.min(accepted),
            None => accepted,
        };
        self.pace = Some(Pace {
            rate: PACE_START * rate,
            ceiling: rate,
            tokens: 0.0,
            updated: now,
        });
    }

    /// One cut per round trip: the answers to requests sent before the cut say nothing new.
    fn may_cut(&self, now: Instant) -> bool {
        self.last_cut
            .is_none_or(|at| now.saturating_duration_since(at) >= self.round_trip)
    }

    fn cut(&mut self, factor: f64, now: Instant) {
        self.slow_start = false;
        self.limit = (self.limit * factor).max(1.0);
        self.last_cut = Some(now);
    }
}

/// The shared limit of one client: attempts wait in [`AdaptiveLimit::acquire`].
#[derive(Debug)]
pub struct AdaptiveLimit {
    state: Mutex<AdaptiveState>,
    changed: Notify,
}

impl AdaptiveLimit {
    pub fn new(max: usize) -> Self {
        AdaptiveLimit {
            state: Mutex::new(AdaptiveState::new(max)),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AdaptiveState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the current state (for logs and tests).
    pub fn snapshot(&self) -> AdaptiveState {
        self.lock().clone()
    }

    /// Waits until an attempt may start.
    pub async fn acquire(&self) -> Slot<'_> {
        loop {
            // Registered before the state is read, so a release in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let admission = self.lock().admit(Instant::now());
            match admission {
                Admission::Go => {
                    return Slot {
                        limit: self,
                        started: Instant::now(),
                        finished: false,
                    };
                }
                Admission::WaitForSlot => changed.await,
                Admission::WaitUntil(at) => {
                    tokio::select! {
                        _ = changed => {}
                        _ = tokio::time::sleep_until(at.into()) => {}
                    }
                }
            }
        }
    }
}

/// One admitted attempt; report how it ended with [`Slot::finish`] (dropping it unreported
/// counts as no answer).
pub struct Slot<'a> {
    limit: &'a AdaptiveLimit,
    started: Instant,
    finished: bool,
}

impl Slot<'_> {
    /// Time since the attempt was admitted.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn finish(mut self, outcome: Outcome<'_>) {
        self.report(outcome);
    }

    fn report(&mut self, outcome: Outcome<'_>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.limit.lock().finish(outcome, Instant::now());
        self.limit.changed.notify_waiters();
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.report(Outcome::NoAnswer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTT: Duration = Duration::from_millis(20);

    fn answer(state: &mut AdaptiveState, now: Instant) {
        assert_eq!(state.admit(now), Admission::Go);
        state.finish(
            Outcome::Answered {
                endpoint: "systems",
                latency: RTT,
            },
            now,
        );
    }

    #[test]
    fn slow_start_doubles_each_round_trip_up_to_the_maximum() {
        let now = Instant::now();
        let mut state = AdaptiveState::new(16);
        assert_eq!(state.limit(), 4);
        for _ in 0..4 {
            answer(&mut state, now);
        }
        assert_eq!(state.limit(), 8, "one round trip of 4 answers doubles it");
        for _ in 0..100 {
            answer(&mut state, now);
        }
        assert_eq!(state.limit(), 16, "never above --concurrency");
        assert_eq!(AdaptiveState::new(1).limit(), 1);
    }

    #[test]
    fn the_limit_holds_requests_until_one_ends() {
        let now = Instant::now();
        let mut state = AdaptiveState::new(2);
        assert_eq!(state.admit(now), Admission::Go);
        assert_eq!(state.admit(now), Admission::Go);
        assert_eq!(state.admit(now), Admission::WaitForSlot);
        state.finish(Outcome::NoAnswer, now);
        assert_eq!(state.in_flight(), 1);
        assert_eq!(state.admit(now), Admission::Go);
    }

    #[test]
    fn a_throttle_halves_once_per_round_trip_pauses_and_paces() {
        let start = Instant::now();
        let mut state = AdaptiveState::new(16);
        for _ in 0..50 {
            answer(&mut state, start);
        }
        assert_eq!(state.limit(), 16);
        let retry = Some(Duration::from_secs(1));
        for _ in 0..8 {
            assert_eq!(state.admit(start), Admission::Go);
        }
        for _ in 0..8 {
            state.finish(Outcome::Throttled { retry_after: retry }, start);
        }
        assert_eq!(state.limit(), 8, "eight 429s of one round trip: one cut");
        assert_eq!(
            state.admit(start + Duration::from_millis(500)),
            Admission::WaitUntil(start + Duration::from_secs(1)),
            "Retry-After pauses every request"
        );
        // 50 answers in the last second: paced at 80% of that.
        assert_eq!(state.paced_rate(), Some(40.0));
        let after = start + Duration::from_secs(1);
        assert!(matches!(state.admit(after), Admission::Go));
        // A token per 25 ms at 40/s: the next one waits.
        assert!(matches!(state.admit(after), Admission::WaitUntil(_)));
    }

    #[test]
    fn pacing_recovers_probes_slowly_and_ends_when_nothing_throttles() {
        let start = Instant::now();
        let mut state = AdaptiveState::new(16);
        for _ in 0..50 {
            answer(&mut state, start);
        }
        state.admit(start);
        state.finish(Outcome::Throttled { retry_after: None }, start);
        assert_eq!(state.paced_rate(), Some(40.0));
        // Up by 10% of the throttled rate per second while below 95% of it...
        state.admit(start + Duration::from_secs(1));
        let rate = state.paced_rate().unwrap_or_default();
        assert!((rate - 45.0).abs() < 1e-6, "{rate}");
        // ... then by 1% per second: at 60 s it is still near the ceiling.
        state.admit(start + Duration::from_secs(60));
        let rate = state.paced_rate().unwrap_or_default();
        assert!(rate > 50.0 && rate < 85.0, "{rate}");
        // Twice the throttled rate without another throttle: no pacing at all.
        state.admit(start + Duration::from_secs(200));
        assert_eq!(state.paced_rate(), None);
    }

    /// A 429 when the client sent almost nothing (the quota is someone else's, or per minute)
    /// paces it at about one request per second, but only for seconds.
    #[test]
    fn a_throttle_at_a_quiet_moment_is_left_behind_within_seconds() {
        let start = Instant::now();
        let mut state = AdaptiveState::new(16);
        answer(&mut state, start);
        state.admit(start);
        state.finish(Outcome::Throttled { retry_after: None }, start);
        assert_eq!(state.paced_rate(), Some(0.8));
        state.admit(start + Duration::from_secs(3));
        assert_eq!(state.paced_rate(), None, "2x the throttled rate within 3 s");
    }

    #[test]
    fn rising_latency_cuts_by_a_tenth_and_other_failures_change_nothing() {
        let now = Instant::now();
        let mut state = AdaptiveState::new(16);
        for _ in 0..50 {
            answer(&mut state, now);
        }
        let later = now + Duration::from_secs(1);
        let mut cut = false;
        for _ in 0..30 {
            state.admit(later);
            state.finish(
                Outcome::Answered {
                    endpoint: "systems",
                    latency: RTT * 10,
                },
                later,
            );
            if state.limit() < 16 {
                cut = true;
                break;
            }
        }
        assert!(cut, "ten times slower answers cut the limit");
        assert_eq!(state.limit(), 14, "16 x 0.9");
        let before = state.limit();
        state.admit(later);
        state.finish(Outcome::NoAnswer, later);
        assert_eq!(state.limit(), before);
        assert_eq!(state.paced_rate(), None, "latency alone does not pace");
    }

    /// Latency is judged per endpoint: a 10,000-row page is slower than a 1-row one, which is
    /// not congestion.
    #[test]
    fn slow_endpoints_are_compared_with_themselves() {
        let now = Instant::now();
        let mut state = AdaptiveState::new(16);
        for i in 0..200 {
            let (endpoint, latency) = if i % 2 == 0 {
                ("systems", RTT)
            } else {
                ("systeminsights", RTT * 25)
            };
            state.admit(now);
            state.finish(Outcome::Answered { endpoint, latency }, now);
        }
        assert_eq!(state.limit(), 16);
    }

    #[tokio::test]
    async fn waiters_wake_when_a_slot_is_released() {
        let limit = std::sync::Arc::new(AdaptiveLimit::new(1));
        let first = limit.acquire().await;
        let waiter = tokio::spawn({
            let limit = limit.clone();
            async move {
                let slot = limit.acquire().await;
                slot.finish(Outcome::NoAnswer);
            }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter got the slot")
            .expect("no panic");
        assert_eq!(limit.snapshot().in_flight(), 0);
    }
}

//! Periodic syncs spread over the interval: connections synced together (a cold start, a
//! restart, a bulk apply) would otherwise stay due together forever, every interval, all at
//! once. Each connection has its own slot in the interval, from a hash of its uid (the same in
//! every replica and after every restart); its periodic syncs settle on that slot.

use std::time::Duration;

use jiff::Timestamp;

use super::add;

/// The connection's place in its sync interval, in [0, 1): FNV-1a (64 bits) of its uid, mixed
/// by MurmurHash3's finaliser (FNV alone leaves the top bits of similar uids close together).
pub fn phase(uid: &str) -> f64 {
    let mut hash = uid.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    // The top 53 bits: exactly representable, uniformly in [0, 1).
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// When the periodic sync after a success at `success` is due, for a connection at `phase`:
/// the latest slot time (Unix time ≡ `phase` × `interval`, modulo `interval`) at most one
/// interval after the success, so evidence is never older than the interval because of the
/// spread. A slot within a tenth of an interval after the success is taken as the one the
/// success just hit (a sync finishes a little after its slot), and the next one is used: up to
/// a tenth of an interval late then, the same bound as the requeue's jitter. So the first sync
/// after a cold start comes early (by up to 90% of the interval) and every later one exactly
/// one interval after the last.
pub fn spread_sync_time(success: Timestamp, interval: Duration, phase: f64) -> Timestamp {
    let Ok(period) = i64::try_from(interval.as_secs()) else {
        return add(success, interval);
    };
    if period <= 0 {
        return add(success, interval);
    }
    let offset = ((phase.clamp(0.0, 1.0) * period as f64) as i64).rem_euclid(period);
    let latest = success.as_second() + period;
    let slot = latest - (latest - offset).rem_euclid(period);
    let slot = if slot - success.as_second() > period / 10 {
        slot
    } else {
        slot + period
    };
    Timestamp::from_second(slot).unwrap_or_else(|_| add(success, interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIX_HOURS: Duration = Duration::from_secs(6 * 3600);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn the_phase_is_a_stable_uniform_hash_of_the_uid() {
        assert_eq!(phase("a1b2"), phase("a1b2"));
        assert_ne!(phase("a1b2"), phase("a1b3"));
        let phases: Vec<f64> = (0..1000).map(|i| phase(&format!("uid-{i}"))).collect();
        assert!(phases.iter().all(|p| (0.0..1.0).contains(p)));
        let mut buckets = [0usize; 10];
        for p in &phases {
            buckets[(p * 10.0) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|n| (60..=140).contains(n)),
            "{buckets:?}"
        );
    }

    /// 1,000 connections synced in the same second: their next syncs fall all over the
    /// interval (no tenth of it holds more than 14% of them), never later than 1.1 intervals.
    #[test]
    fn connections_synced_together_spread_over_the_next_interval() {
        let success = at(0);
        let mut buckets = [0usize; 10];
        for i in 0..1000 {
            let due = spread_sync_time(success, SIX_HOURS, phase(&format!("uid-{i}")));
            let wait = (due.as_second() - success.as_second()) as f64 / SIX_HOURS.as_secs_f64();
            assert!(wait > 0.1 && wait <= 1.1, "{wait}");
            buckets[((wait - 0.1) * 10.0).min(9.0) as usize] += 1;
        }
        assert!(buckets.iter().all(|n| *n <= 140), "{buckets:?}");
    }

    #[test]
    fn a_sync_on_its_slot_is_followed_one_interval_later() {
        let period = SIX_HOURS.as_secs() as i64;
        let first = spread_sync_time(at(0), SIX_HOURS, 0.37);
        // The sync ran at its slot and took 40 s.
        let success = first.as_second() + 40;
        let next = spread_sync_time(Timestamp::from_second(success).unwrap(), SIX_HOURS, 0.37);
        assert_eq!(next.as_second(), first.as_second() + period);
        let after = spread_sync_time(next, SIX_HOURS, 0.37);
        assert_eq!(after.as_second(), next.as_second() + period);
    }

    #[test]
    fn a_success_just_before_its_slot_takes_the_next_one() {
        let period = SIX_HOURS.as_secs() as i64;
        let slot = spread_sync_time(at(0), SIX_HOURS, 0.5).as_second();
        let just_before = Timestamp::from_second(slot - 60).unwrap();
        assert_eq!(
            spread_sync_time(just_before, SIX_HOURS, 0.5).as_second(),
            slot + period
        );
    }
}

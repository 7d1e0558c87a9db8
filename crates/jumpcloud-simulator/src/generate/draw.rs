//! Random draws and formats every generated kind shares. One `ChaCha8Rng` feeds every draw in a
//! fixed order (see `generate_org`), so the helpers here take it by `&mut` and never reseed.

use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// JumpCloud-style timestamp: RFC 3339, UTC, millisecond precision. Hand-rolled (days to civil
/// date, Howard Hinnant's algorithm) because it runs several hundred thousand times for org L.
pub(crate) fn fmt_ts(t: Timestamp) -> String {
    let ms = t.as_millisecond();
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (day, second) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        second / 3_600,
        second % 3_600 / 60,
        second % 60
    )
}

pub(super) fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Timestamp part of every generated id (2022-01-01T00:00:00Z).
pub(super) const ID_EPOCH: Timestamp = Timestamp::constant(1_640_995_200, 0);

/// ObjectId-shaped ids: 8 hex of a timestamp, 10 hex of per-org randomness, 6 hex counter.
pub(super) struct IdGen {
    prefix: String,
    next: u32,
}

impl IdGen {
    pub(super) fn new(rng: &mut ChaCha8Rng, epoch: Timestamp) -> Self {
        let machine: u64 = rng.random::<u64>() & 0xff_ffff_ffff;
        IdGen {
            prefix: format!("{:08x}{machine:010x}", epoch.as_second() as u32),
            next: 1,
        }
    }

    pub(crate) fn next_id(&mut self) -> String {
        let id = format!("{}{:06x}", self.prefix, self.next);
        self.next += 1;
        id
    }
}

pub(super) fn pick(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n)
}

pub(super) fn pick_weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.random_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if roll < *w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

pub(super) fn ascii_fold(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'é' | 'è' => Some('e'),
            'ã' | 'á' => Some('a'),
            'í' => Some('i'),
            'ü' => Some('u'),
            'ó' | 'ö' => Some('o'),
            '\'' => None,
            c => Some(c.to_ascii_lowercase()),
        })
        .collect()
}

pub(super) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in ascii_fold(s).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

pub(super) fn random_between(rng: &mut ChaCha8Rng, from: Timestamp, to: Timestamp) -> Timestamp {
    let span = (to.as_millisecond() - from.as_millisecond()).max(1);
    let offset = rng.random_range(0..span);
    Timestamp::from_millisecond(from.as_millisecond() + offset).unwrap_or(from)
}

//! Judging whether failed logins for unknown and known names take the same password-hash
//! work, from response times an attacker measures.
//!
//! Load on the machine only ever adds time, so each side is judged by its fastest answer. A
//! skipped argon2 hash is a factor of ten or more on a quiet machine, but on a busy one (two
//! cores running the whole test suite) a short sample can leave both sides slow; so a sample
//! that is neither clearly alike nor clearly apart asks for more pairs, up to a bound.

use std::time::Duration;

/// Pairs measured beyond the first sample, at most, while the verdict is unclear.
pub const EXTRA_PAIRS: usize = 30;

/// What the fastest answers of the two sides show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginTiming {
    /// An unknown name's fastest answer is under a third of a known name's (and more than
    /// 3 ms faster): it skipped the hash, so timing tells which accounts exist.
    Apart,
    /// Within a factor of two: the same work.
    Alike,
    /// Between the two: measure more.
    Unclear,
}

/// Judges two samples of response times by their fastest answers.
#[must_use]
pub fn judge(unknown: &[Duration], known: &[Duration]) -> LoginTiming {
    let (Some(&mu), Some(&mk)) = (unknown.iter().min(), known.iter().min()) else {
        return LoginTiming::Unclear;
    };
    if mk.saturating_sub(mu) > Duration::from_millis(3) && mu * 3 < mk {
        LoginTiming::Apart
    } else if mk < mu * 2 && mu < mk * 2 {
        LoginTiming::Alike
    } else {
        LoginTiming::Unclear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn a_skipped_hash_is_apart_even_when_some_answers_were_slowed_by_load() {
        assert_eq!(judge(&ms(&[30, 4, 25]), &ms(&[60, 45, 90])), LoginTiming::Apart);
    }

    #[test]
    fn the_same_work_is_alike() {
        assert_eq!(judge(&ms(&[48, 70]), &ms(&[45, 52])), LoginTiming::Alike);
    }

    #[test]
    fn a_sample_slowed_throughout_is_unclear_and_an_empty_one_too() {
        assert_eq!(judge(&ms(&[20, 25]), &ms(&[45, 50])), LoginTiming::Unclear);
        assert_eq!(judge(&[], &ms(&[45])), LoginTiming::Unclear);
    }
}

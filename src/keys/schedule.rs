//! Which key signs and which keys are published, as pure functions of the
//! key set and the clock.
//!
//! The signer at time t is the highest generation whose `activates_at` <= t.
//! A key stops signing when a later generation activates; it stays published
//! until every token it may have signed has expired, plus a leeway. Keys not
//! yet active are published at once, so caches learn them before they sign.

/// What the schedule needs to know about a key.
pub trait Scheduled {
    fn generation(&self) -> i64;
    fn activates_at(&self) -> i64;
}

/// Index of the signing key at `now`. `keys` sorted by generation ascending.
/// Falls back to the oldest key if none is active yet (cannot happen for the
/// first key, which activates when created).
pub fn active_index<K: Scheduled>(keys: &[K], now: i64) -> Option<usize> {
    keys.iter()
        .enumerate()
        .rev()
        .find(|(_, k)| k.activates_at() <= now)
        .map(|(i, _)| i)
        .or(if keys.is_empty() { None } else { Some(0) })
}

/// Index of a key that may sign at `now`: like [`active_index`] without its
/// fallback, so `None` when every key is still waiting for its activation
/// (after a revocation, a new key must then be made).
pub fn signer_at<K: Scheduled>(keys: &[K], now: i64) -> Option<usize> {
    active_index(keys, now).filter(|&i| keys[i].activates_at() <= now)
}

/// When key `i` stopped (or will stop) signing: the earliest activation among
/// later generations, if that moment has come.
pub fn superseded_at<K: Scheduled>(keys: &[K], i: usize, now: i64) -> Option<i64> {
    keys[i + 1..]
        .iter()
        .map(Scheduled::activates_at)
        .filter(|&t| t <= now)
        .min()
}

/// Whether key `i` belongs in the JWKS at `now`. `retention` is the longest
/// access-token lifetime plus leeway, in seconds.
pub fn is_published<K: Scheduled>(keys: &[K], i: usize, now: i64, retention: i64) -> bool {
    match superseded_at(keys, i, now) {
        None => true,
        Some(t) => now <= t.saturating_add(retention),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct K(i64, i64);
    impl Scheduled for K {
        fn generation(&self) -> i64 {
            self.0
        }
        fn activates_at(&self) -> i64 {
            self.1
        }
    }

    #[test]
    fn first_key_signs() {
        let keys = [K(1, 100)];
        assert_eq!(active_index(&keys, 100), Some(0));
        assert_eq!(active_index(&keys, 50), Some(0));
        assert!(is_published(&keys, 0, 10_000, 60));
        assert_eq!(active_index::<K>(&[], 0), None);
    }

    #[test]
    fn a_pending_key_is_no_signer_after_a_revocation() {
        // gen 1 revoked (left out); gen 2 published, signing from 1000.
        let keys = [K(2, 1000)];
        assert_eq!(active_index(&keys, 500), Some(0), "the fallback");
        assert_eq!(signer_at(&keys, 500), None);
        assert_eq!(signer_at(&keys, 1000), Some(0));
        assert_eq!(signer_at::<K>(&[], 0), None);
    }

    #[test]
    fn delayed_rotation_publishes_then_switches_then_retires() {
        let keys = [K(1, 0), K(2, 1000)];
        // Before activation: old signs, both published.
        assert_eq!(active_index(&keys, 999), Some(0));
        assert!(is_published(&keys, 0, 999, 60) && is_published(&keys, 1, 999, 60));
        // After activation: new signs, old still published for the retention.
        assert_eq!(active_index(&keys, 1000), Some(1));
        assert!(is_published(&keys, 0, 1060, 60));
        assert!(!is_published(&keys, 0, 1061, 60));
        assert!(is_published(&keys, 1, 1_000_000, 60));
    }

    #[test]
    fn immediate_rotation_overtakes_a_pending_one() {
        // gen 2 pending until 1000, gen 3 rotated with --now at 500.
        let keys = [K(1, 0), K(2, 1000), K(3, 500)];
        assert_eq!(active_index(&keys, 600), Some(2));
        assert_eq!(superseded_at(&keys, 0, 600), Some(500));
        assert_eq!(superseded_at(&keys, 1, 600), Some(500));
        // gen 3 is the newest generation: it keeps signing after 1000 too.
        assert_eq!(active_index(&keys, 2000), Some(2));
    }
}

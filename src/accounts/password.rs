//! Passwords: argon2id PHC strings, OWASP parameters as the floor
//! (m = 19456 KiB, t = 2, p = 1). Hashing is CPU-heavy (~15 ms), so it runs
//! on the blocking pool behind a semaphore that bounds concurrent hashes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use argon2::{Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;

/// The parameters new hashes get (argon2's defaults are OWASP's).
fn current() -> Argon2<'static> {
    Argon2::default()
}

/// Whether a stored hash is weaker than the current parameters.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    if hash.algorithm.as_str() != "argon2id" {
        return true;
    }
    let Ok(p) = Params::try_from(&hash) else {
        return true;
    };
    let floor = Params::default();
    p.m_cost() < floor.m_cost() || p.t_cost() < floor.t_cost() || p.p_cost() < floor.p_cost()
}

/// Rules a new password must meet; the message names the problem.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(format!(
            "the password must be at least {MIN_LENGTH} characters"
        ));
    }
    if password.len() > MAX_LENGTH {
        return Err(format!("the password must be at most {MAX_LENGTH} bytes"));
    }
    Ok(())
}

fn hash_sync(password: &str) -> anyhow::Result<String> {
    current()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
}

fn verify_sync(password: &str, phc: &str) -> bool {
    // Verification uses the parameters recorded in the hash itself.
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Bounds concurrent hashes to the number of cores, so a burst of sign-ins
/// queues instead of starving every other request.
static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(Semaphore::new(n))
});

/// A hash of a random password, to spend the same time on an unknown
/// account as on a wrong password.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash_sync(&crate::crypto::random_token()).unwrap_or_default());

pub async fn hash(password: String) -> anyhow::Result<String> {
    let _permit = PERMITS.clone().acquire_owned().await?;
    tokio::task::spawn_blocking(move || hash_sync(&password)).await?
}

/// Verify `password` against `phc`, or against a dummy hash when there is
/// no account (same cost, always false).
pub async fn verify(password: String, phc: Option<String>) -> bool {
    let Ok(_permit) = PERMITS.clone().acquire_owned().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_sync(&password, &phc),
        None => {
            let _ = verify_sync(&password, &DUMMY);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// How many times [`warm_up`] ran in this process.
static WARM_UPS: AtomicUsize = AtomicUsize::new(0);

/// Make the dummy hash now rather than on the first failed sign-in, so that
/// the first unknown-email sign-in after start costs what a wrong password
/// does. [`crate::App::build`] calls it (on the blocking pool).
pub fn warm_up() {
    LazyLock::force(&DUMMY);
    WARM_UPS.fetch_add(1, Ordering::SeqCst);
}

/// How many times [`warm_up`] ran in this process (its callers are
/// checked by tests through this).
pub fn warm_ups() -> usize {
    WARM_UPS.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verify_and_parameters() {
        let h = hash_sync("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_sync("correct horse battery", &h));
        assert!(!verify_sync("wrong horse battery", &h));
        assert!(!needs_rehash(&h));
    }

    #[test]
    fn weaker_hashes_need_rehash() {
        let weak = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery")
        .unwrap()
        .to_string();
        assert!(verify_sync("correct horse battery", &weak));
        assert!(needs_rehash(&weak));
        assert!(needs_rehash("not a hash"));
    }

    #[test]
    fn new_password_rules() {
        assert!(check_new("short").is_err());
        assert!(check_new("twelve chars").is_ok());
        assert!(check_new(&"x".repeat(2000)).is_err());
    }
}

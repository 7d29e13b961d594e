//! Passwords: argon2id PHC strings, OWASP parameters as the floor
//! (m = 19456 KiB, t = 2, p = 1). Hashing is CPU-heavy (~15 ms) and needs
//! 19 MiB, so it runs on the blocking pool in memory from [`hash_memory`],
//! which also bounds concurrent hashes.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::hash_memory;

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

/// A new PHC string for `password`, hashed in `memory` (at least
/// [`Params::block_count`] of the current parameters). The same format as
/// argon2's own `hash_password`.
fn hash_in(password: &str, memory: &mut [Block]) -> anyhow::Result<String> {
    let argon = current();
    let salt = Salt::new(&crate::crypto::random_bytes::<16>())
        .map_err(|e| anyhow::anyhow!("making a salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    phc(argon.params(), salt, &out)
}

fn phc(params: &Params, salt: Salt, out: &[u8]) -> anyhow::Result<String> {
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(salt),
        hash: Some(Output::new(out).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    Ok(hash.to_string())
}

/// The memory blocks verifying against `phc` needs (its own parameters; the
/// current ones when it does not parse, and then it fails anyway).
fn blocks_for(phc: &str) -> usize {
    PasswordHash::new(phc)
        .ok()
        .and_then(|h| Params::try_from(&h).ok())
        .unwrap_or_default()
        .block_count()
}

/// Whether `password` matches `phc`, with the parameters recorded in the
/// hash itself, computed in `memory` (at least [`blocks_for`] blocks).
fn verify_in(password: &str, phc: &str, memory: &mut [Block]) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Some(Ok(version)), Ok(params)) = (
        Algorithm::try_from(hash.algorithm.as_str()),
        hash.version.map(Version::try_from),
        Params::try_from(&hash),
    ) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
        .is_ok()
        && crate::crypto::ct_eq(&out, expected.as_bytes())
}

/// A PHC string with the current parameters that no password matches (a
/// random output), to spend the same time on an unknown account as on a
/// wrong password. Made by [`warm_up`] at start, which fails the start if
/// it cannot be made, so no request ever sees the error.
static DUMMY: LazyLock<anyhow::Result<String>> = LazyLock::new(|| {
    let salt = Salt::new(&crate::crypto::random_bytes::<16>())
        .map_err(|e| anyhow::anyhow!("dummy salt: {e}"))?;
    phc(
        current().params(),
        salt,
        &crate::crypto::random_bytes::<{ Params::DEFAULT_OUTPUT_LEN }>(),
    )
});

pub async fn hash(password: String) -> anyhow::Result<String> {
    let blocks = current().params().block_count();
    hash_memory::run(blocks, move |memory| hash_in(&password, memory)).await?
}

/// Verify `password` against `phc`, or against a dummy hash when there is
/// no account (same cost, always false).
pub async fn verify(password: String, phc: Option<String>) -> bool {
    let phc = match (phc, &*DUMMY) {
        (Some(phc), _) => phc,
        (None, Ok(dummy)) => dummy.clone(),
        // Not reached: the start fails without the dummy (`warm_up`).
        (None, Err(_)) => return false,
    };
    let blocks = blocks_for(&phc);
    hash_memory::run(blocks, move |memory| verify_in(&password, &phc, memory))
        .await
        .unwrap_or(false)
}

/// How many times [`warm_up`] ran in this process.
static WARM_UPS: AtomicUsize = AtomicUsize::new(0);

/// Make the dummy hash now rather than on the first failed sign-in.
/// [`crate::App::build`] calls it (on the blocking pool).
pub fn warm_up() -> anyhow::Result<()> {
    WARM_UPS.fetch_add(1, Ordering::SeqCst);
    match &*DUMMY {
        Ok(_) => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "could not make the dummy password hash: {e}"
        )),
    }
}

/// How many times [`warm_up`] ran in this process (its callers are
/// checked by tests through this).
pub fn warm_ups() -> usize {
    WARM_UPS.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    use argon2::{PasswordHasher, PasswordVerifier};

    fn memory(blocks: usize) -> Vec<Block> {
        vec![Block::default(); blocks]
    }

    fn hash_sync(password: &str) -> String {
        hash_in(password, &mut memory(current().params().block_count())).unwrap()
    }

    fn verify_sync(password: &str, phc: &str) -> bool {
        verify_in(password, phc, &mut memory(blocks_for(phc)))
    }

    #[test]
    fn hash_verify_and_parameters() {
        let h = hash_sync("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_sync("correct horse battery", &h));
        assert!(!verify_sync("wrong horse battery", &h));
        assert!(!needs_rehash(&h));
    }

    /// Hashes stored before the memory pool (argon2's own hashing) still
    /// verify, and argon2 verifies the new ones: the PHC format is the same.
    #[test]
    fn compatible_with_argon2s_own_phc_strings() {
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(verify_sync("correct horse battery", &theirs));
        assert!(!verify_sync("correct horse batterY", &theirs));
        let ours = hash_sync("correct horse battery");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert_eq!(ours.len(), theirs.len());
        // A larger buffer than the hash needs (a pooled one) gives the same result.
        assert!(verify_in(
            "correct horse battery",
            &theirs,
            &mut memory(blocks_for(&theirs) * 2)
        ));
    }

    #[test]
    fn the_dummy_matches_nothing_and_costs_the_same() {
        let dummy = DUMMY.as_ref().unwrap();
        assert!(!needs_rehash(dummy));
        assert_eq!(blocks_for(dummy), current().params().block_count());
        assert!(!verify_sync("", dummy));
        assert!(!verify_sync("not a hash", "$argon2id$v=19$m=19456"));
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
        assert_eq!(blocks_for(&weak), 4096);
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

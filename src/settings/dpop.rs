//! `[dpop]`: DPoP proofs at the token endpoint (RFC 9449).

use serde::Deserialize;

use super::SettingsError;

#[derive(Debug, Clone, Deserialize)]
pub struct DpopSettings {
    /// A proof's `iat` may be this many seconds before or after the
    /// server's time (5 to 600); its `jti` is remembered that long.
    pub proof_window_secs: u64,
    /// Ask every proof for a server nonce (RFC 9449 §8: `use_dpop_nonce`).
    pub use_nonce: bool,
    /// Seconds a nonce value is current (10 to 3600); the previous one is
    /// still accepted, so a nonce lives between one and two steps.
    pub nonce_step_secs: u64,
}

impl DpopSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if !(5..=600).contains(&self.proof_window_secs) {
            return Err(super::key_error(
                "dpop.proof_window_secs",
                "must be between 5 and 600",
            ));
        }
        if !(10..=3600).contains(&self.nonce_step_secs) {
            return Err(super::key_error(
                "dpop.nonce_step_secs",
                "must be between 10 and 3600",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::tests::load;

    #[test]
    fn defaults_and_bounds() {
        let s = load(&[]).unwrap();
        assert_eq!(
            (
                s.dpop.proof_window_secs,
                s.dpop.use_nonce,
                s.dpop.nonce_step_secs
            ),
            (60, false, 300)
        );
        for (key, bad) in [
            ("SKEDCAST__DPOP__PROOF_WINDOW_SECS", "4"),
            ("SKEDCAST__DPOP__PROOF_WINDOW_SECS", "601"),
            ("SKEDCAST__DPOP__NONCE_STEP_SECS", "9"),
        ] {
            let err = load(&[(key, bad)]).unwrap_err().to_string();
            assert!(err.contains("`dpop."), "{err}");
        }
    }
}

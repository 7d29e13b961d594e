//! `[registration]`: who may register clients over RFC 7591 (and manage them
//! over RFC 7592), the per-IP rate limit and the clean-up of unused clients.

use serde::Deserialize;

use super::{SettingsError, key_error};

/// Shortest initial access token accepted in the configuration.
pub const MIN_INITIAL_ACCESS_TOKEN_LEN: usize = 32;

/// Who may register clients over RFC 7591.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationPolicy {
    /// Anyone (MCP clients register themselves).
    Open,
    /// Only callers with one of the configured initial access tokens (RFC 7591 §3).
    InitialAccessToken,
}

#[derive(Debug, Clone)]
pub struct RegistrationSettings {
    pub policy: RegistrationPolicy,
    /// SHA-256 hex of each accepted initial access token (never the tokens).
    pub initial_access_token_hashes: Vec<String>,
    /// Registration requests per client IP per minute; 0 disables the limit.
    pub rate_limit_per_minute: u32,
    /// Public clients never authorized are deleted after this many days; 0 keeps them.
    pub unused_public_client_days: u32,
}

/// `[registration]` as written: the policy is matched by hand so its error
/// names the key, and the tokens are kept only as hashes.
#[derive(Deserialize)]
pub(crate) struct RawRegistration {
    policy: String,
    initial_access_tokens: StringList,
    rate_limit_per_minute: u32,
    unused_public_client_days: u32,
}

/// A list from a file (`["a", "b"]`) or from one environment variable
/// (`SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS=a,b`).
#[derive(Deserialize)]
#[serde(untagged)]
enum StringList {
    List(Vec<String>),
    Joined(String),
}

impl StringList {
    fn items(self) -> Vec<String> {
        let items = match self {
            StringList::List(v) => v,
            StringList::Joined(s) => s.split(',').map(str::to_string).collect(),
        };
        items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

impl RawRegistration {
    pub(crate) fn validate(self) -> Result<RegistrationSettings, SettingsError> {
        let policy = match self.policy.trim() {
            "open" => RegistrationPolicy::Open,
            "initial_access_token" => RegistrationPolicy::InitialAccessToken,
            other => {
                return Err(key_error(
                    "registration.policy",
                    format!(
                        "is unknown: {other:?} (expected \"open\" or \"initial_access_token\")"
                    ),
                ));
            }
        };
        let tokens = self.initial_access_tokens.items();
        if let Some(short) = tokens
            .iter()
            .position(|t| t.len() < MIN_INITIAL_ACCESS_TOKEN_LEN)
        {
            return Err(key_error(
                "registration.initial_access_tokens",
                format!(
                    "entry {} is shorter than {MIN_INITIAL_ACCESS_TOKEN_LEN} characters (use e.g. \
                     `openssl rand -base64 32`)",
                    short + 1
                ),
            ));
        }
        if policy == RegistrationPolicy::InitialAccessToken && tokens.is_empty() {
            return Err(key_error(
                "registration.initial_access_tokens",
                "must list at least one token when registration.policy is \"initial_access_token\"",
            ));
        }
        Ok(RegistrationSettings {
            policy,
            initial_access_token_hashes: tokens
                .iter()
                .map(|t| crate::crypto::sha256_hex(t))
                .collect(),
            rate_limit_per_minute: self.rate_limit_per_minute,
            unused_public_client_days: self.unused_public_client_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::load;

    fn registration(policy: &str, tokens: &[&str]) -> RawRegistration {
        RawRegistration {
            policy: policy.into(),
            initial_access_tokens: StringList::List(tokens.iter().map(|t| t.to_string()).collect()),
            rate_limit_per_minute: 20,
            unused_public_client_days: 7,
        }
    }

    #[test]
    fn good_and_bad_values() {
        let token = "t".repeat(MIN_INITIAL_ACCESS_TOKEN_LEN);
        let s = registration(" initial_access_token ", &[&token, " "])
            .validate()
            .unwrap();
        assert_eq!(s.policy, RegistrationPolicy::InitialAccessToken);
        assert_eq!(
            s.initial_access_token_hashes,
            vec![crate::crypto::sha256_hex(&token)]
        );
        assert_eq!(
            registration("closed", &[])
                .validate()
                .unwrap_err()
                .to_string(),
            "configuration: `registration.policy` is unknown: \"closed\" \
             (expected \"open\" or \"initial_access_token\")"
        );
        assert_eq!(
            registration("open", &[&token, "short"])
                .validate()
                .unwrap_err()
                .to_string(),
            "configuration: `registration.initial_access_tokens` entry 2 is shorter than 32 \
             characters (use e.g. `openssl rand -base64 32`)"
        );
    }

    #[test]
    fn joined_list_is_split_and_trimmed() {
        let items = StringList::Joined(" a, ,b ,".into()).items();
        assert_eq!(items, ["a", "b"]);
    }

    #[test]
    fn registration_settings() {
        let s = load(&[]).unwrap();
        assert_eq!(s.registration.policy, RegistrationPolicy::Open);
        assert_eq!(s.registration.rate_limit_per_minute, 20);
        assert_eq!(s.registration.unused_public_client_days, 7);
        let a = "a".repeat(32);
        let b = "b".repeat(40);
        let joined = format!("{a}, {b}");
        let s = load(&[
            ("SKEDCAST__REGISTRATION__POLICY", "initial_access_token"),
            ("SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS", &joined),
        ])
        .unwrap();
        assert_eq!(
            s.registration.policy,
            RegistrationPolicy::InitialAccessToken
        );
        assert_eq!(
            s.registration.initial_access_token_hashes,
            vec![crate::crypto::sha256_hex(&a), crate::crypto::sha256_hex(&b)]
        );
        for (env, want) in [
            (
                vec![("SKEDCAST__REGISTRATION__POLICY", "closed")],
                "`registration.policy`",
            ),
            (
                vec![("SKEDCAST__REGISTRATION__POLICY", "initial_access_token")],
                "`registration.initial_access_tokens` must list",
            ),
            (
                vec![("SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS", "short")],
                "`registration.initial_access_tokens` entry 1 is shorter",
            ),
            (
                vec![("SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE", "-1")],
                "rate_limit_per_minute",
            ),
        ] {
            let err = load(&env).unwrap_err().to_string();
            assert!(err.contains(want), "{env:?}: {err}");
        }
    }
}

//! The sign-in throttle (issue 13, items 1 and 2).
//!
//! An attempt is counted *before* its password is checked, with one atomic
//! upsert-increment per bucket ([`rate_limit::hit_in`]), so parallel guesses
//! cannot all pass a check made before any of them is counted. Buckets, in
//! the order they are counted:
//!
//! 1. the client IP (`login.max_failures`): one address guessing across
//!    accounts;
//! 2. the account from that IP (`login.max_failures`): the owner's own
//!    typos, and one address guessing one account;
//! 3. the account from every address (`login.max_account_failures`, much
//!    larger): a ceiling on guessing spread over many addresses. Not the
//!    small number, so failures from elsewhere do not lock the owner out.
//!
//! An attempt refused by a bucket is not counted in the ones before it (it
//! was no guess), nor in the ones after (never reached). A successful
//! sign-in takes its own count back and clears its address's count for the
//! account.

use std::net::IpAddr;

use sea_orm::{ConnectionTrait, DbErr};

use crate::rate_limit::{self, Decision};
use crate::settings::LoginSettings;

/// The counters one sign-in attempt is counted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    ip: Option<String>,
    account_ip: String,
    account: String,
}

impl Buckets {
    /// The buckets of `email` (normalised) signing in from `ip` (`None`: no
    /// socket address; such clients share one address bucket per account).
    pub fn new(email: &str, ip: Option<IpAddr>) -> Buckets {
        let account_ip = match ip {
            Some(ip) => rate_limit::ip_bucket(&format!("login-account-ip:{email}"), ip),
            None => format!("login-account-ip:{email}:unknown"),
        };
        Buckets {
            ip: ip.map(|ip| rate_limit::ip_bucket("login-ip", ip)),
            account_ip,
            account: format!("login-account:{email}"),
        }
    }

    /// The buckets of second-factor codes for `email` from `ip`: the same
    /// limits, counted apart from passwords, so a correct password (which
    /// clears its own address's count) does not clear code guesses.
    pub fn second_factor(email: &str, ip: Option<IpAddr>) -> Buckets {
        let b = Buckets::new(email, ip);
        let tag = |s: String| format!("mfa-{s}");
        Buckets {
            ip: b.ip.map(tag),
            account_ip: tag(b.account_ip),
            account: tag(b.account),
        }
    }

    /// Each bucket with its limit, in counting order.
    fn with_limits<'a>(&'a self, cfg: &LoginSettings) -> Vec<(&'a str, u32)> {
        let mut v = Vec::with_capacity(3);
        if let Some(ip) = &self.ip {
            v.push((ip.as_str(), cfg.max_failures));
        }
        v.push((self.account_ip.as_str(), cfg.max_failures));
        v.push((self.account.as_str(), cfg.max_account_failures));
        v
    }
}

/// Count one attempt in every bucket, in order, stopping at the first that
/// is over its limit (whose counts before it are taken back).
pub async fn count_attempt(
    db: &impl ConnectionTrait,
    cfg: &LoginSettings,
    buckets: &Buckets,
    now: i64,
) -> Result<Decision, DbErr> {
    let window = cfg.failure_window_secs as i64;
    let all = buckets.with_limits(cfg);
    for (i, (bucket, limit)) in all.iter().enumerate() {
        let decision = rate_limit::hit_in(db, bucket, *limit, window, now).await?;
        if let Decision::Limited { .. } = decision {
            for (earlier, limit) in &all[..i] {
                if *limit != 0 {
                    rate_limit::undo_in(db, earlier, window, now).await?;
                }
            }
            return Ok(decision);
        }
    }
    Ok(Decision::Allowed)
}

/// The attempt counted at `now` succeeded: it was no failure. Its address's
/// earlier failures for the account are forgotten; the address and account
/// counts (which other accounts and addresses contributed to) only lose this
/// attempt.
pub async fn forget_success(
    db: &impl ConnectionTrait,
    cfg: &LoginSettings,
    buckets: &Buckets,
    now: i64,
) -> Result<(), DbErr> {
    let window = cfg.failure_window_secs as i64;
    rate_limit::clear_in(db, &buckets.account_ip, window, now).await?;
    if let Some(ip) = &buckets.ip
        && cfg.max_failures != 0
    {
        rate_limit::undo_in(db, ip, window, now).await?;
    }
    if cfg.max_account_failures != 0 {
        rate_limit::undo_in(db, &buckets.account, window, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_name_the_address_and_the_account() {
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let b = Buckets::new("ann@example.com", Some(ip));
        assert_eq!(b.ip.as_deref(), Some("login-ip:203.0.113.7"));
        assert_eq!(b.account_ip, "login-account-ip:ann@example.com:203.0.113.7");
        assert_eq!(b.account, "login-account:ann@example.com");
        let v6: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        assert_eq!(
            Buckets::new("ann@example.com", Some(v6)).account_ip,
            "login-account-ip:ann@example.com:2001:db8:1:2::/64"
        );
        let none = Buckets::new("ann@example.com", None);
        assert_eq!(none.ip, None);
        assert_eq!(none.account_ip, "login-account-ip:ann@example.com:unknown");
    }
}

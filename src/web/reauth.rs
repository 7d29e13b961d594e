//! Proving it is still the member, before a change a borrowed browser must
//! not make (a new password, turning two-step sign-in off): the current
//! password, or (where allowed) a second-factor code. Throttled exactly
//! like sign-in, in the sign-in buckets (counted before the check), so a
//! stolen session cannot guess the password here faster than at `/login`;
//! at most `login.max_queued_checks` password checks wait at once.

use poem::Request;

use super::{PageError, field, login_limits};
use crate::AppState;
use crate::accounts::password;
use crate::audit::{self, At, Event};
use crate::mfa;
use crate::rate_limit::Decision;

/// What may prove the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// `current_password` only.
    Password,
    /// `current_password`, or else `otp`: a TOTP or recovery code.
    PasswordOrCode,
}

/// A proof the form offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    Password(String),
    Code(String),
}

/// Pure: which proof the form offers (`None`: no usable field filled in).
pub fn offered(form: &[(String, String)], accept: Accept) -> Option<Proof> {
    // A password is taken as typed (spaces included).
    if let Some(p) = field(form, "current_password").filter(|p| !p.is_empty()) {
        return Some(Proof::Password(p.to_string()));
    }
    match accept {
        Accept::PasswordOrCode => field(form, "otp")
            .filter(|c| !c.trim().is_empty())
            .map(|c| Proof::Code(c.to_string())),
        Accept::Password => None,
    }
}

/// `Ok(Ok(()))`: proved. `Ok(Err(message))`: not, said for the page. Over
/// the sign-in limits: `Err` (429 with `Retry-After`).
pub async fn check(
    state: &AppState,
    req: &Request,
    user: &entity::user::Model,
    form: &[(String, String)],
    accept: Accept,
) -> Result<Result<(), String>, PageError> {
    let Some(proof) = offered(form, accept) else {
        return Ok(Err(match accept {
            Accept::Password => "Enter your current password.",
            Accept::PasswordOrCode => {
                "Enter your current password, or a code from your authenticator app."
            }
        }
        .into()));
    };
    let now = crate::clock::now();
    let ip = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let cfg = &state.settings.login;
    let buckets = match proof {
        Proof::Password(_) => login_limits::Buckets::new(&user.email, ip),
        Proof::Code(_) => login_limits::Buckets::second_factor(&user.email, ip),
    };
    // Like a sign-in: a burst is refused before it is counted or hashed.
    let slot = match proof {
        Proof::Password(_) => Some(
            state
                .sign_in_checks
                .try_acquire()
                .map_err(|_| PageError::sign_in_busy())?,
        ),
        Proof::Code(_) => None,
    };
    if let Decision::Limited { retry_after_secs } =
        login_limits::count_attempt(&state.db, cfg, &buckets, now).await?
    {
        metrics::counter!("rate_limit_hits_total", "limit" => "reauth").increment(1);
        return Err(PageError::too_many_sign_ins(retry_after_secs));
    }
    let ok = match &proof {
        Proof::Password(p) => password::verify(p.clone(), user.password_hash.clone()).await,
        Proof::Code(c) => {
            let kek = state.settings.keys.encryption_key.as_ref();
            match mfa::verify(&state.db, kek, &user.id, c, now).await? {
                Some(mfa::Factor::RecoveryCode) => {
                    let event = Event::RecoveryCodeUsed { user_id: &user.id };
                    audit::record_for_member(&state.db, At::of(req, now), &user.id, event).await?;
                    true
                }
                Some(mfa::Factor::Totp) => true,
                None => false,
            }
        }
    };
    drop(slot);
    if !ok {
        tracing::info!(user_id = %user.id, "re-authentication failed");
        return Ok(Err(match proof {
            Proof::Password(_) => "Your current password is not correct.",
            Proof::Code(_) => "That code does not match, or was used already.",
        }
        .into()));
    }
    if let Err(e) = login_limits::forget_success(&state.db, cfg, &buckets, now).await {
        tracing::warn!(error = %e, "re-authentication counters not reset");
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_password_first_then_a_code_where_allowed() {
        let both = form(&[("current_password", " pass word "), ("otp", "123456")]);
        assert_eq!(
            offered(&both, Accept::PasswordOrCode),
            Some(Proof::Password(" pass word ".into())),
            "a password is taken as typed"
        );
        let code = form(&[("current_password", ""), ("otp", "123456")]);
        assert_eq!(
            offered(&code, Accept::PasswordOrCode),
            Some(Proof::Code("123456".into()))
        );
        assert_eq!(offered(&code, Accept::Password), None, "no code for this");
        assert_eq!(
            offered(&form(&[("otp", "  ")]), Accept::PasswordOrCode),
            None
        );
        assert_eq!(offered(&form(&[]), Accept::PasswordOrCode), None);
        let repeated = form(&[("current_password", "a"), ("current_password", "b")]);
        assert_eq!(offered(&repeated, Accept::Password), None, "repeated: none");
    }
}

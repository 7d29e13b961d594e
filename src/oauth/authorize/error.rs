//! An authorization endpoint error (RFC 6749 §4.1.2.1): an [`OAuthError`]
//! plus where it goes.
//!
//! Until the client and its redirect URI are known to be good, an error is
//! shown to the member on a page and never redirected, so the endpoint cannot
//! be used as an open redirector. After that it goes back to the client: the
//! redirect URI with `error`, `error_description`, `state` and `iss` (RFC 9207).
//! Which of the two is decided where the error is made (see
//! [`super::request::validate`]).
//!
//! Even then the redirect is automatic only for a client a member has
//! allowed or denied on the consent page (RFC 9700 §4.17: a registered
//! redirect URI is not a trusted one while registration is open). For any
//! other client the member gets a page saying what went wrong, with a link
//! `<a id="continue">` to the same URI. [`AuthorizeError::send`] looks that
//! up and [`AuthorizeError::answer`] renders; no error site decides it.

use poem::http::StatusCode;
use sea_orm::DbErr;

use super::consent;
use super::request::{display_host, redirect_with};
use crate::AppState;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::web::PageError;

/// Where an authorization error is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The error page (400), or the "temporarily unavailable" page for a
    /// server fault. Never a redirect.
    Page,
    /// Back to the client's redirect URI, with the request's `state`:
    /// automatically or through a link (see the module comment).
    Redirect(Box<Back>),
}

/// Where a redirected error goes (boxed: an error stays small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Back {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeError {
    pub error: OAuthError,
    pub to: Destination,
}

impl AuthorizeError {
    /// An error shown to the member on the error page. `message` is for a
    /// person and shown as written (the template escapes it), so unlike a
    /// redirected description it is not narrowed to wire-safe characters.
    pub fn page(code: ErrorCode, message: impl Into<String>) -> Self {
        AuthorizeError {
            error: OAuthError {
                status: StatusCode::BAD_REQUEST,
                code,
                description: message.into(),
                challenge: None,
                retry_after: None,
                dpop_nonce: None,
            },
            to: Destination::Page,
        }
    }

    /// An error sent back to the client `client_id` at `redirect_uri`.
    pub fn redirect(
        code: ErrorCode,
        description: impl Into<String>,
        client_id: &str,
        redirect_uri: &str,
        state: Option<&str>,
    ) -> Self {
        AuthorizeError {
            error: OAuthError::of(code, description),
            to: Destination::Redirect(Box::new(Back {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                state: state.map(str::to_string),
            })),
        }
    }

    /// What the browser gets: [`Self::answer`], automatic only when a
    /// member has acted on this client's consent page. A fault while
    /// looking that up is logged and answered with the link page (the
    /// safe side).
    pub async fn send(self, state: &AppState, status: StatusCode) -> PageError {
        let automatic = match &self.to {
            Destination::Page => false,
            Destination::Redirect(back) => {
                match consent::decided(&state.db, &back.client_id).await {
                    Ok(decided) => decided,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell whether the client is trusted");
                        false
                    }
                }
            }
        };
        self.answer(&state.settings.issuer, status, automatic)
    }

    /// Pure: what the browser gets. `issuer` is sent as `iss` (RFC 9207);
    /// `status` is 302 after a GET and 303 after the consent form's POST;
    /// without `automatic` a redirect becomes the page with the link.
    pub fn answer(self, issuer: &str, status: StatusCode, automatic: bool) -> PageError {
        match self.to {
            Destination::Page if self.error.status.is_server_error() => PageError::Unavailable,
            Destination::Page if self.error.status == StatusCode::TOO_MANY_REQUESTS => {
                PageError::TooManyRequests {
                    retry_after_secs: self.error.retry_after.unwrap_or(60),
                    message: self.error.description,
                }
            }
            Destination::Page => cannot_complete(self.error.description),
            Destination::Redirect(back) => {
                let Back {
                    redirect_uri,
                    state,
                    ..
                } = *back;
                let mut p = vec![
                    ("error", self.error.code.as_str()),
                    ("error_description", self.error.description.as_str()),
                ];
                if let Some(s) = state.as_deref() {
                    p.push(("state", s));
                }
                p.push(("iss", issuer));
                match redirect_with(&redirect_uri, &p) {
                    Some(location) if automatic => PageError::Redirect { status, location },
                    Some(location) => PageError::Continue {
                        location,
                        host: display_host(&redirect_uri),
                        error: self.error.code.as_str(),
                        description: self.error.description,
                    },
                    None => cannot_complete("Bad redirect URI."),
                }
            }
        }
    }
}

/// The authorization endpoint's error page (400), saying why.
pub fn cannot_complete(message: impl Into<String>) -> PageError {
    PageError::Message {
        status: StatusCode::BAD_REQUEST,
        title: "This request cannot be completed",
        message: message.into(),
    }
}

/// A database fault: the cause is logged ([`OAuthError::db`]) and the
/// member sees the "temporarily unavailable" page.
impl AuthorizeError {
    /// Any OAuth error shown on the error page (a server fault: the
    /// unavailable page).
    pub fn on_page(error: OAuthError) -> Self {
        AuthorizeError {
            error,
            to: Destination::Page,
        }
    }
}

impl From<DbErr> for AuthorizeError {
    fn from(e: DbErr) -> Self {
        AuthorizeError {
            error: e.into(),
            to: Destination::Page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://auth.example";

    #[test]
    fn a_redirected_error_carries_code_description_state_and_iss() {
        let e = AuthorizeError::redirect(
            ErrorCode::AccessDenied,
            "the user said \"no\"",
            "c1",
            "https://app.example/cb?x=1",
            Some("s t"),
        );
        assert_eq!(
            e.answer(ISS, StatusCode::SEE_OTHER, true),
            PageError::Redirect {
                status: StatusCode::SEE_OTHER,
                location: "https://app.example/cb?x=1&error=access_denied\
                           &error_description=the+user+said+%27no%27&state=s+t\
                           &iss=https%3A%2F%2Fauth.example"
                    .into(),
            }
        );
        let e = AuthorizeError::redirect(
            ErrorCode::LoginRequired,
            "x",
            "c1",
            "https://app.example/cb",
            None,
        );
        let PageError::Redirect { location, .. } = e.answer(ISS, StatusCode::FOUND, true) else {
            panic!("a redirect");
        };
        assert!(!location.contains("state="), "{location}");
    }

    #[test]
    fn a_page_error_keeps_its_message_and_is_never_a_redirect() {
        let e = AuthorizeError::page(ErrorCode::InvalidClient, "Unknown client: \"x\".");
        assert_eq!(
            e.answer(ISS, StatusCode::FOUND, true),
            cannot_complete("Unknown client: \"x\".")
        );
        for automatic in [true, false] {
            let e =
                AuthorizeError::redirect(ErrorCode::InvalidRequest, "x", "c1", "not a url", None);
            assert_eq!(
                e.answer(ISS, StatusCode::FOUND, automatic),
                cannot_complete("Bad redirect URI.")
            );
        }
    }

    #[test]
    fn an_untrusted_redirect_is_a_page_with_the_same_location() {
        let e = AuthorizeError::redirect(
            ErrorCode::InvalidScope,
            "unknown scope",
            "c1",
            "https://app.example/cb",
            Some("s"),
        );
        let PageError::Redirect { location, .. } = e.clone().answer(ISS, StatusCode::FOUND, true)
        else {
            panic!("a redirect");
        };
        assert_eq!(
            e.answer(ISS, StatusCode::FOUND, false),
            PageError::Continue {
                location,
                host: "app.example".into(),
                error: "invalid_scope",
                description: "unknown scope".into(),
            }
        );
    }

    #[test]
    fn a_database_fault_is_the_unavailable_page() {
        let e = AuthorizeError::from(DbErr::Custom("boom".into()));
        assert_eq!(e.to, Destination::Page);
        assert_eq!(
            e.answer(ISS, StatusCode::FOUND, false),
            PageError::Unavailable
        );
    }
}

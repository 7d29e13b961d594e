//! An authorization endpoint error (RFC 6749 §4.1.2.1): an [`OAuthError`]
//! plus where it goes.
//!
//! Until the client and its redirect URI are known to be good, an error is
//! shown to the member on a page and never redirected, so the endpoint cannot
//! be used as an open redirector. After that it goes back to the client: the
//! redirect URI with `error`, `error_description`, `state` and `iss` (RFC 9207).
//! Which of the two is decided where the error is made (see
//! [`super::request::validate`]); [`AuthorizeError::answer`] only renders it.

use poem::http::StatusCode;
use sea_orm::DbErr;

use super::request::redirect_with;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::web::PageError;

/// Where an authorization error is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The error page (400), or the "temporarily unavailable" page for a
    /// server fault. Never a redirect.
    Page,
    /// Back to the client's redirect URI, with the request's `state`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
    },
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
            },
            to: Destination::Page,
        }
    }

    /// An error sent back to the client at `redirect_uri`.
    pub fn redirect(
        code: ErrorCode,
        description: impl Into<String>,
        redirect_uri: &str,
        state: Option<&str>,
    ) -> Self {
        AuthorizeError {
            error: OAuthError::of(code, description),
            to: Destination::Redirect {
                redirect_uri: redirect_uri.to_string(),
                state: state.map(str::to_string),
            },
        }
    }

    /// What the browser gets. `issuer` is sent as `iss` (RFC 9207);
    /// `status` is 302 after a GET and 303 after the consent form's POST.
    pub fn answer(self, issuer: &str, status: StatusCode) -> PageError {
        match self.to {
            Destination::Page if self.error.status.is_server_error() => PageError::Unavailable,
            Destination::Page if self.error.status == StatusCode::TOO_MANY_REQUESTS => {
                PageError::TooManyRequests {
                    retry_after_secs: self.error.retry_after.unwrap_or(60),
                    message: self.error.description,
                }
            }
            Destination::Page => cannot_complete(self.error.description),
            Destination::Redirect {
                redirect_uri,
                state,
            } => {
                let mut p = vec![
                    ("error", self.error.code.as_str()),
                    ("error_description", self.error.description.as_str()),
                ];
                if let Some(s) = state.as_deref() {
                    p.push(("state", s));
                }
                p.push(("iss", issuer));
                match redirect_with(&redirect_uri, &p) {
                    Some(location) => PageError::Redirect { status, location },
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
            "https://app.example/cb?x=1",
            Some("s t"),
        );
        assert_eq!(
            e.answer(ISS, StatusCode::SEE_OTHER),
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
            "https://app.example/cb",
            None,
        );
        let PageError::Redirect { location, .. } = e.answer(ISS, StatusCode::FOUND) else {
            panic!("a redirect");
        };
        assert!(!location.contains("state="), "{location}");
    }

    #[test]
    fn a_page_error_keeps_its_message_and_is_never_a_redirect() {
        let e = AuthorizeError::page(ErrorCode::InvalidClient, "Unknown client: \"x\".");
        assert_eq!(
            e.answer(ISS, StatusCode::FOUND),
            cannot_complete("Unknown client: \"x\".")
        );
        let e = AuthorizeError::redirect(ErrorCode::InvalidRequest, "x", "not a url", None);
        assert_eq!(
            e.answer(ISS, StatusCode::FOUND),
            cannot_complete("Bad redirect URI.")
        );
    }

    #[test]
    fn a_database_fault_is_the_unavailable_page() {
        let e = AuthorizeError::from(DbErr::Custom("boom".into()));
        assert_eq!(e.to, Destination::Page);
        assert_eq!(e.answer(ISS, StatusCode::FOUND), PageError::Unavailable);
    }
}

//! The one error type of the HTML handlers (sign-in, consent, developer
//! settings, the authorization endpoint): each variant is the page a refused
//! request gets, so a handler returns `Result<Response, PageError>` and uses
//! `?`. A database fault becomes the "temporarily unavailable" page (503)
//! with its cause logged, never a panic.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use sea_orm::DbErr;

use askama::Template;

use super::{ContinuePage, message, page, redirect};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// 503: a database or other internal fault. Made through
    /// [`PageError::unavailable`] or `From<DbErr>`, which log the cause.
    Unavailable,
    /// 403: the form's CSRF token is missing or wrong; nothing changed.
    FormExpired,
    /// 429 with `Retry-After`: a rate limit; `message` says which.
    TooManyRequests {
        retry_after_secs: u64,
        message: String,
    },
    /// Any other refusal: a message page with this status and title.
    Message {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
    /// An authorization error sent back to the client's redirect URI
    /// (RFC 6749 §4.1.2.1): 302 after a GET, 303 after the consent POST.
    Redirect {
        status: StatusCode,
        location: String,
    },
    /// 400: an authorization error for a client no member has acted on,
    /// explained, with a link `<a id="continue">` to `location` (the
    /// redirect it would have been) instead of a redirect (RFC 9700 §4.17).
    Continue {
        location: String,
        /// The redirect URI's host, as the consent page shows it.
        host: String,
        error: &'static str,
        description: String,
    },
}

impl PageError {
    /// An internal fault: `cause` is logged, the member sees the 503 page.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "page failed on a storage error");
        PageError::Unavailable
    }

    /// 400 "Bad request" with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        PageError::Message {
            status: StatusCode::BAD_REQUEST,
            title: "Bad request",
            message: message.into(),
        }
    }

    /// 429: too many failed sign-ins.
    pub fn too_many_sign_ins(retry_after_secs: u64) -> Self {
        PageError::TooManyRequests {
            retry_after_secs,
            message: "Too many failed sign-ins. Please wait a few minutes and try again.".into(),
        }
    }

    /// 429: too many sign-ins waiting for a password check in this instance
    /// (`login.max_queued_checks`).
    pub fn sign_in_busy() -> Self {
        PageError::TooManyRequests {
            retry_after_secs: 1,
            message: "Too many sign-ins right now. Please try again in a moment.".into(),
        }
    }

    /// 400: the body is not a form or is too large.
    pub fn unreadable_form() -> Self {
        PageError::bad_request("The form could not be read.")
    }
}

impl From<DbErr> for PageError {
    fn from(e: DbErr) -> Self {
        PageError::unavailable(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Unavailable => message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The service cannot answer right now. Please try again in a moment.",
            ),
            PageError::FormExpired => message(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form is no longer valid. Go back, reload the page and try again.",
            ),
            PageError::TooManyRequests {
                retry_after_secs,
                message: text,
            } => {
                let mut resp = message(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", &text);
                resp.headers_mut()
                    .insert("Retry-After", retry_after_secs.into());
                resp
            }
            PageError::Message {
                status,
                title,
                message: text,
            } => message(status, title, &text),
            PageError::Redirect { status, location } => redirect(status, &location),
            PageError::Continue {
                location,
                host,
                error,
                description,
            } => page(
                StatusCode::BAD_REQUEST,
                ContinuePage {
                    location: &location,
                    host: &host,
                    error,
                    description: &description,
                }
                .render(),
            ),
        }
    }
}

/// Lets a poem handler return `Result<Response, PageError>`.
impl From<PageError> for poem::Error {
    fn from(e: PageError) -> poem::Error {
        poem::Error::from_response(e.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_keeps_its_status() {
        let status = |e: PageError| e.into_response().status();
        assert_eq!(
            status(DbErr::Custom("boom".into()).into()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(PageError::FormExpired), StatusCode::FORBIDDEN);
        assert_eq!(status(PageError::bad_request("x")), StatusCode::BAD_REQUEST);
        let resp = PageError::too_many_sign_ins(30).into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "30");
        let resp = PageError::sign_in_busy().into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "1");
        let resp = PageError::TooManyRequests {
            retry_after_secs: 12,
            message: "too many fetches".into(),
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "12");
        let resp = PageError::Redirect {
            status: StatusCode::SEE_OTHER,
            location: "https://app.example/cb?error=access_denied".into(),
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            resp.headers()["location"],
            "https://app.example/cb?error=access_denied"
        );
    }

    #[tokio::test]
    async fn an_untrusted_redirect_is_a_page_with_an_escaped_link() {
        let resp = PageError::Continue {
            location: "https://app.example/cb?error=invalid_scope&state=%22%3E".into(),
            host: "app.example".into(),
            error: "invalid_scope",
            description: "unknown scope \"<x>\"".into(),
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get("location").is_none());
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let body = resp.into_body().into_string().await.expect("utf-8 body");
        assert!(
            body.contains(
                r#"<a id="continue" href="https://app.example/cb?error=invalid_scope&#38;state=%22%3E">"#
            ),
            "{body}"
        );
        assert!(!body.contains("<x>"), "{body}");
    }

    #[tokio::test]
    async fn the_cause_of_a_fault_is_not_shown() {
        let resp = PageError::from(DbErr::Custom("secret detail".into())).into_response();
        let body = resp.into_body().into_string().await.expect("utf-8 body");
        assert!(body.contains("Temporarily unavailable"));
        assert!(!body.contains("secret detail"));
    }
}

//! An `application/x-www-form-urlencoded` request body read by hand, so that
//! the handler answers a wrong content type or an oversized body with the
//! RFC 6749 error (`invalid_request`) rather than the framework's own.
//! Documented in OpenAPI with the schema of `T`.
//!
//! Extraction never fails: the outcome is in [`FormBody::bytes`].

use std::marker::PhantomData;

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::json_body::{BodyProblem, read};

pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// The raw body of a form request, at most `LIMIT` bytes.
pub struct FormBody<T, const LIMIT: usize> {
    pub bytes: Result<bytes::Bytes, BodyProblem>,
    _schema: PhantomData<fn() -> T>,
}

/// `application/x-www-form-urlencoded`, any parameters (e.g. `charset`).
pub fn is_form_media_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(FORM_MEDIA_TYPE)
}

impl<'a, T: Type, const LIMIT: usize> ApiExtractor<'a> for FormBody<T, LIMIT> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: FORM_MEDIA_TYPE,
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(FormBody {
            bytes: read(request, body, LIMIT, is_form_media_type).await,
            _schema: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_form_media_type;

    #[test]
    fn form_media_types() {
        for ok in [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded",
        ] {
            assert!(is_form_media_type(ok), "{ok}");
        }
        for bad in [
            "application/json",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/x-www-form-urlencodedx",
            "",
        ] {
            assert!(!is_form_media_type(bad), "{bad}");
        }
    }
}

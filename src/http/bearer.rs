//! Bearer tokens in the `Authorization` header (RFC 6750 §2.1), extracted
//! without failing (the handler decides what a missing token means) and
//! documented as OpenAPI security schemes.

use std::marker::PhantomData;

use poem::http::header::AUTHORIZATION;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

/// The token of `Bearer <token>` (scheme case-insensitive), if well formed:
/// shared with the verifier, so both read the header the same way.
pub use skedcast_core::bearer::parse;

/// What an OpenAPI security scheme says about one kind of bearer token.
pub trait Scheme: Send + Sync {
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// Whether an operation may be called without it.
    const OPTIONAL: bool;
}

/// The bearer token of a request, `None` when missing or malformed.
pub struct Bearer<S: Scheme>(pub Option<String>, PhantomData<fn() -> S>);

impl<S: Scheme> Bearer<S> {
    pub fn token(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'a, S: Scheme> ApiExtractor<'a> for Bearer<S> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            S::NAME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(S::DESCRIPTION),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![S::NAME]
    }

    fn has_security_fallback() -> bool {
        S::OPTIONAL
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Ok(Bearer(parse(header).map(str::to_string), PhantomData))
    }
}

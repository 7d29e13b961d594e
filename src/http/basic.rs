//! The raw `Authorization` header of a request that may authenticate a
//! client with HTTP Basic (RFC 6749 §2.3.1), extracted without failing (the
//! handler decides what it means) and documented as an OpenAPI security
//! scheme. Parsing is in [`crate::oauth::client::authentication`].

use poem::http::header::AUTHORIZATION;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

/// The `Authorization` header value, `None` when absent. A value that is
/// not visible ASCII counts as present but unreadable (`Some("")`).
pub struct ClientAuthorization(pub Option<String>);

impl ClientAuthorization {
    pub fn header(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

const NAME: &str = "clientSecretBasic";

impl<'a> ApiExtractor<'a> for ClientAuthorization {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            NAME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "client_secret_basic: HTTP Basic with the form-urlencoded client_id and \
                     client_secret (RFC 6749 §2.3.1). Clients registered for \
                     client_secret_post or none send client_id (and client_secret) in the body.",
                ),
                name: None,
                key_in: None,
                scheme: Some("basic"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![NAME]
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_string).unwrap_or_default());
        Ok(ClientAuthorization(header))
    }
}

//! A JSON request body read by hand, so that the handler (not the
//! framework) answers a wrong content type, an oversized body or bad JSON
//! in the RFC's error format. Documented in OpenAPI with the schema of `T`.
//!
//! Extraction never fails: the outcome is in [`JsonBody::bytes`].

use std::marker::PhantomData;
use std::time::Duration;

use poem::http::header::CONTENT_LENGTH;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why the body is not there to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyProblem {
    /// No or another content type than the expected one (the value sent, if any).
    UnsupportedMediaType(Option<String>),
    /// Longer than the limit (bytes).
    TooLarge(usize),
    /// The connection failed while reading.
    Unreadable,
}

/// The raw body of a JSON request, at most `LIMIT` bytes.
pub struct JsonBody<T, const LIMIT: usize> {
    pub bytes: Result<bytes::Bytes, BodyProblem>,
    _schema: PhantomData<fn() -> T>,
}

/// `application/json` or `application/*+json`, any parameters.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body of `request`, at most `limit` bytes, when its content type is
/// one `accept` takes.
pub(crate) async fn read(
    request: &Request,
    body: &mut RequestBody,
    limit: usize,
    accept: fn(&str) -> bool,
) -> Result<bytes::Bytes, BodyProblem> {
    match request.content_type() {
        Some(ct) if accept(ct) => {}
        other => return Err(BodyProblem::UnsupportedMediaType(other.map(str::to_string))),
    }
    // Refuse early when the client announces too much.
    let announced = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = body.take().map_err(|_| BodyProblem::Unreadable)?;
    let mut reader = body.into_async_read();
    if announced.is_some_and(|n| n > limit as u64) {
        drain(reader).await;
        return Err(BodyProblem::TooLarge(limit));
    }
    let mut bytes = Vec::new();
    (&mut reader)
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|_| BodyProblem::Unreadable)?;
    if bytes.len() > limit {
        drain(reader).await;
        return Err(BodyProblem::TooLarge(limit));
    }
    Ok(bytes.into())
}

/// At most this much of an oversized body is read and thrown away, for at
/// most [`DRAIN_SECS`], before the answer goes out.
pub const DRAIN_MAX_BYTES: u64 = 16 << 20;
pub const DRAIN_SECS: u64 = 10;

/// Read the rest of an oversized body (bounded) before answering: a server
/// that answers and closes while the client is still sending leaves unread
/// data, the kernel resets the connection, and the client sees a broken
/// pipe instead of the 413 (the lingering close of nginx and others).
async fn drain(reader: impl AsyncRead + Unpin) {
    let mut rest = reader.take(DRAIN_MAX_BYTES);
    let _ = tokio::time::timeout(
        Duration::from_secs(DRAIN_SECS),
        tokio::io::copy(&mut rest, &mut tokio::io::sink()),
    )
    .await;
}

impl<'a, T: Type, const LIMIT: usize> ApiExtractor<'a> for JsonBody<T, LIMIT> {
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
                content_type: "application/json",
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
        Ok(JsonBody {
            bytes: read(request, body, LIMIT, is_json_media_type).await,
            _schema: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_json_media_type;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/json",
            "application/jsonx",
            "",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }
}

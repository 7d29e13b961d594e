//! Where a credential may come from: the `Authorization: Bearer` header
//! (RFC 6750 §2.1) or `Authorization: DPoP` (RFC 9449 §7.1) only. A token in the query (§2.3) or a repeated header is
//! a bad request; a form body is never read.

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// What a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No bearer credential (no header, or another scheme such as Basic).
    Nothing,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `Authorization: DPoP <token>`: the request must carry a proof.
    Dpop(&'a str),
    /// A Bearer header whose token is not a valid `b64token`.
    Malformed,
    /// A request the resource refuses outright (RFC 6750 §3.1
    /// `invalid_request`), with a description.
    BadRequest(&'static str),
}

pub fn presented<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Presented<'a> {
    let in_query = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
    });
    if in_query {
        return Presented::BadRequest(
            "send the token in the Authorization header (RFC 6750 section 2.1), not in the query",
        );
    }
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::BadRequest("send one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return Presented::Malformed;
    };
    let scheme = value.trim_start().split(' ').next().unwrap_or("");
    if scheme.eq_ignore_ascii_case("dpop") {
        return match skedcast_core::bearer::parse_scheme(Some(value), "dpop") {
            Some(token) => Presented::Dpop(token),
            None => Presented::Malformed,
        };
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Nothing;
    }
    match skedcast_core::bearer::parse(Some(value)) {
        Some(token) => Presented::Bearer(token),
        None => Presented::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn header_only() {
        let h = with(&["Bearer abc.def.ghi"]);
        assert_eq!(presented(&h, None), Presented::Bearer("abc.def.ghi"));
        assert_eq!(presented(&h, Some("x=1")), Presented::Bearer("abc.def.ghi"));
        let h = with(&["bearer sked_live_x"]);
        assert_eq!(presented(&h, None), Presented::Bearer("sked_live_x"));
        assert_eq!(presented(&with(&[]), None), Presented::Nothing);
        assert_eq!(presented(&with(&["Basic YTpi"]), None), Presented::Nothing);
        assert_eq!(
            presented(&with(&["DPoP a.b.c"]), None),
            Presented::Dpop("a.b.c")
        );
        assert_eq!(
            presented(&with(&["dpop  a.b.c"]), None),
            Presented::Dpop("a.b.c")
        );
        assert_eq!(presented(&with(&["DPoP a b"]), None), Presented::Malformed);
        assert_eq!(
            presented(&with(&["Bearer a b"]), None),
            Presented::Malformed
        );
        assert_eq!(presented(&with(&["Bearer"]), None), Presented::Malformed);
        assert_eq!(
            presented(&with(&["Bearer a\"b"]), None),
            Presented::Malformed
        );
    }

    #[test]
    fn query_tokens_and_repeated_headers_are_bad_requests() {
        for q in [
            "access_token=abc",
            "x=1&access_token=",
            "access%5Ftoken=abc",
        ] {
            assert!(
                matches!(presented(&with(&[]), Some(q)), Presented::BadRequest(_)),
                "{q}"
            );
            assert!(matches!(
                presented(&with(&["Bearer abc"]), Some(q)),
                Presented::BadRequest(_)
            ));
        }
        assert!(matches!(
            presented(&with(&["Bearer a", "Bearer b"]), None),
            Presented::BadRequest(_)
        ));
        assert_eq!(presented(&with(&[]), Some("token=abc")), Presented::Nothing);
    }
}

//! Reading the Cookie header and writing Set-Cookie values.
//!
//! Every cookie is named here from its base name and whether the issuer is
//! https (`secure`): over https the name gets the `__Host-` prefix
//! (RFC 6265bis §4.1.3.2), which browsers accept only with `Secure`,
//! `Path=/` and no `Domain`, so a sibling subdomain or a plain-http page
//! cannot set or shadow it. Over http the base name is used as it is.

/// The `__Host-` prefix.
pub const HOST_PREFIX: &str = "__Host-";

/// The name cookie `base` is set and read under.
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("{HOST_PREFIX}{base}")
    } else {
        base.to_string()
    }
}

/// The value of cookie `base` (named by [`name`]) in a Cookie header.
pub fn get<'a>(header: Option<&'a str>, base: &str, secure: bool) -> Option<&'a str> {
    // Compared in place: no name is built for each request.
    let named = |k: &str| match secure {
        true => k.strip_prefix(HOST_PREFIX) == Some(base),
        false => k == base,
    };
    header?.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        named(k).then_some(v)
    })
}

/// A Set-Cookie value for cookie `base` (named by [`name`]): `HttpOnly`,
/// `SameSite=Lax`, `Path=/`, never `Domain`, and `Secure` when the issuer
/// is https. `max_age` None: a browser-session cookie.
pub fn set(base: &str, value: &str, max_age: Option<u64>, secure: bool) -> String {
    let name = name(base, secure);
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A Set-Cookie value that deletes cookie `base`.
pub fn clear(base: &str, secure: bool) -> String {
    set(base, "", Some(0), secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_build() {
        let h = Some("a=1; skedcast_session=abc; b=2; __Host-skedcast_session=xyz");
        assert_eq!(get(h, "skedcast_session", false), Some("abc"));
        assert_eq!(get(h, "skedcast_session", true), Some("xyz"));
        assert_eq!(get(h, "a", true), None);
        assert_eq!(get(h, "c", false), None);
        assert_eq!(get(None, "a", false), None);
        assert_eq!(
            set("s", "v", Some(10), true),
            "__Host-s=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=10; Secure"
        );
        assert!(!set("s", "v", None, false).contains("Secure"));
        assert!(clear("s", false).contains("Max-Age=0"));
    }
}

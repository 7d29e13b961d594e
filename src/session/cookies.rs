//! Reading the Cookie header and writing Set-Cookie values.

/// The value of cookie `name` in a Cookie header.
pub fn get<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A Set-Cookie value: `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure`
/// when the issuer is https. `max_age` None: a browser-session cookie.
pub fn set(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A Set-Cookie value that deletes the cookie.
pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", Some(0), secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_build() {
        let h = Some("a=1; skedcast_session=abc; b=2");
        assert_eq!(get(h, "skedcast_session"), Some("abc"));
        assert_eq!(get(h, "c"), None);
        assert_eq!(get(None, "a"), None);
        assert_eq!(
            set("s", "v", Some(10), true),
            "s=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=10; Secure"
        );
        assert!(!set("s", "v", None, false).contains("Secure"));
        assert!(clear("s", false).contains("Max-Age=0"));
    }
}

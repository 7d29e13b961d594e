//! The user code of a device authorization (RFC 8628 §6.1): 8 letters from
//! an alphabet without vowels (no words) and without letters that look
//! alike, shown `XXXX-XXXX`. 20^8 ≈ 2^34.6 codes: enough, with guessing
//! throttled and a code living minutes, that a guess hits a live code with
//! negligible chance (RFC 8628 §5.1).

use crate::crypto::random_bytes;

/// The letters of a user code (RFC 8628 §6.1's example alphabet).
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub const LEN: usize = 8;

/// A new user code, normalised (8 letters, no dash), uniformly drawn: a
/// random byte is used only below 240 (12 × 20), so no letter is likelier.
pub fn generate() -> String {
    let mut out = String::with_capacity(LEN);
    while out.len() < LEN {
        for b in random_bytes::<16>() {
            if b < 240 && out.len() < LEN {
                out.push(char::from(ALPHABET[usize::from(b % 20)]));
            }
        }
    }
    out
}

/// What a member typed, normalised: any case, with or without the dash
/// and spaces. `None` when it cannot be a user code.
pub fn normalise(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// A normalised code as shown: `XXXX-XXXX`.
pub fn display(code: &str) -> String {
    match (code.get(..LEN / 2), code.get(LEN / 2..)) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_eight_letters_of_the_alphabet() {
        for _ in 0..200 {
            let c = generate();
            assert_eq!(normalise(&c).as_deref(), Some(c.as_str()));
        }
        assert_ne!(generate(), generate());
    }

    #[test]
    fn input_in_any_case_with_or_without_the_dash() {
        for typed in ["BCDF-GHJK", "bcdfghjk", " bcdf-GHJK ", "BC DF GH JK"] {
            assert_eq!(normalise(typed).as_deref(), Some("BCDFGHJK"), "{typed}");
        }
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ1",
            "BCDF_GHJK",
            "ßCDF-GHJK",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
    }
}

//! Property tests of the pure deciders: redirect URI matching, PKCE
//! verifier validation, scope parsing and intersection, API key checksums.

use proptest::prelude::*;
use skedcast_auth::api_keys::{self, format};
use skedcast_auth::oauth::{pkce, redirect_uri};
use skedcast_auth::scopes::{Role, SCOPES};

const UNRESERVED: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

fn roles() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Owner),
        Just(Role::Manager),
        Just(Role::Editor),
        Just(Role::Viewer)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A registered https URI matches itself and nothing that differs.
    #[test]
    fn https_redirects_match_exactly(path in "/[a-z0-9/]{0,20}", other in "/[a-z0-9/]{0,20}", port in 1u16..) {
        let uri = format!("https://app.example{path}");
        prop_assert!(redirect_uri::matches(&uri, &uri));
        if other != path {
            let other_uri = format!("https://app.example{other}");
            prop_assert!(!redirect_uri::matches(&uri, &other_uri));
        }
        // https: the port is never ignored.
        let with_port = format!("https://app.example:{port}{path}");
        if port != 443 {
            prop_assert!(!redirect_uri::matches(&uri, &with_port));
        }
        let with_query = format!("{uri}?x=1");
        let with_fragment = format!("{uri}#f");
        prop_assert!(!redirect_uri::matches(&uri, &with_query));
        prop_assert!(!redirect_uri::matches(&uri, &with_fragment));
    }

    /// Loopback http: any port matches (RFC 8252 §7.3), nothing else varies.
    #[test]
    fn loopback_redirects_ignore_only_the_port(host in prop_oneof![Just("127.0.0.1"), Just("[::1]"), Just("localhost")],
                                               path in "/[a-z]{1,10}", p1 in 1u16.., p2 in 1u16..) {
        let registered = format!("http://{host}{path}");
        let at_p1 = format!("http://{host}:{p1}{path}");
        let at_p2 = format!("http://{host}:{p2}{path}");
        let longer = format!("http://{host}:{p1}{path}x");
        let https = format!("https://{host}:{p1}{path}");
        let elsewhere = format!("http://evil.example:{p1}{path}");
        prop_assert!(redirect_uri::matches(&registered, &at_p1));
        prop_assert!(redirect_uri::matches(&at_p1, &at_p2));
        prop_assert!(!redirect_uri::matches(&registered, &longer));
        prop_assert!(!redirect_uri::matches(&registered, &https));
        prop_assert!(!redirect_uri::matches(&registered, &elsewhere));
    }

    /// Verifiers (RFC 7636 §4.1): accepted ⇔ 43–128 characters of the
    /// unreserved set, over candidates near both limits and one character
    /// off the alphabet.
    #[test]
    fn verifier_validation(s in verifier_candidates()) {
        prop_assert_eq!(pkce::is_valid_verifier(&s), valid_verifier(&s), "{:?}", s);
    }

    /// A valid verifier verifies against its own challenge and no other.
    #[test]
    fn pkce_round_trip(v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}") {
        let c = pkce::challenge_of(&v);
        prop_assert!(pkce::is_valid_challenge(&c));
        prop_assert!(pkce::verify(&v, &c));
        if v != w {
            prop_assert!(!pkce::verify(&w, &c));
        }
    }

    /// Effective scopes are never wider than the key's nor the role's.
    #[test]
    fn scope_intersection_never_widens(picks in proptest::collection::vec(0usize..SCOPES.len(), 0..12), role in roles(), noise in "[a-z:]{0,12}") {
        let mut scope: Vec<&str> = picks.iter().map(|i| SCOPES[*i].0).collect();
        scope.push(noise.as_str());
        let joined = scope.join(" ");
        let eff = api_keys::effective_scopes(&joined, role);
        for s in &eff {
            prop_assert!(role.allows(s));
            prop_assert!(scope.contains(&s.as_str()));
        }
        for s in &scope {
            if role.allows(s) {
                prop_assert!(eff.iter().any(|e| e == s));
            }
        }
    }

    /// Creation never grants beyond the creator's role.
    #[test]
    fn key_creation_respects_the_role(picks in proptest::collection::vec(0usize..SCOPES.len(), 1..6), role in roles(), days in -5i64..400) {
        let asked: Vec<&str> = picks.iter().map(|i| SCOPES[*i].0).collect();
        match api_keys::check_new(role, &asked, days, "k") {
            Ok(granted) => {
                prop_assert!(matches!(role, Role::Owner | Role::Manager));
                prop_assert!((1..=365).contains(&days));
                prop_assert!(granted.iter().all(|s| role.allows(s) && asked.contains(&s.as_str())));
            }
            Err(_) => prop_assert!(
                !matches!(role, Role::Owner | Role::Manager)
                    || !(1..=365).contains(&days)
                    || asked.iter().any(|s| !role.allows(s))
            ),
        }
    }

    /// Any single-character change to a key fails its checksum.
    #[test]
    fn api_key_checksum_catches_typos(pos in 10usize..46, c in "[A-Za-z0-9]") {
        let key = format::generate();
        prop_assert!(format::is_well_formed(&key));
        let mut chars: Vec<char> = key.chars().collect();
        let new = c.chars().next().unwrap();
        prop_assume!(chars[pos] != new);
        chars[pos] = new;
        let typo: String = chars.into_iter().collect();
        prop_assert!(!format::is_well_formed(&typo));
    }

    /// API keys: accepted ⇔ `sked_live_` + 30 base62 + the base62 CRC32 of
    /// those 30 (the oracle below), over real keys, keys with one edit and
    /// prefixed base62 strings of every nearby length.
    #[test]
    fn api_keys_are_accepted_iff_valid(s in key_candidates()) {
        prop_assert_eq!(format::is_well_formed(&s), valid_key(&s), "{:?}", s);
    }
}

/// Both answers are common among the candidates, so "accepted ⇔ valid" is
/// tested on both sides (not vacuously on one).
#[test]
fn the_candidates_are_valid_and_invalid_in_good_measure() {
    fn share<S: Strategy<Value = String>>(strategy: S, valid: fn(&str) -> bool) -> f64 {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let n = 2000;
        let ok = (0..n)
            .filter(|_| valid(&strategy.new_tree(&mut runner).unwrap().current()))
            .count();
        ok as f64 / n as f64
    }
    let keys = share(key_candidates(), valid_key);
    assert!((0.2..=0.8).contains(&keys), "valid keys: {keys}");
    let verifiers = share(verifier_candidates(), valid_verifier);
    assert!(
        (0.2..=0.8).contains(&verifiers),
        "valid verifiers: {verifiers}"
    );
}

/// RFC 7636 §4.1, written out: 43 to 128 of `[A-Z] / [a-z] / [0-9] / "-" /
/// "." / "_" / "~"`.
fn valid_verifier(s: &str) -> bool {
    (43..=128).contains(&s.chars().count()) && s.chars().all(|c| UNRESERVED.contains(c))
}

/// Characters a verifier must not have: near misses (base64's `+/=`,
/// space, percent, non-ASCII, control) and any character at all.
fn foreign_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::sample::select(vec!['+', '/', '=', ' ', '%', '\u{e9}', '\0', '\n']),
        any::<char>(),
    ]
}

fn verifier_candidates() -> impl Strategy<Value = String> {
    let unreserved = || proptest::sample::select(UNRESERVED.chars().collect::<Vec<_>>());
    let length = prop_oneof![38usize..=48, 123usize..=133, 0usize..=140];
    prop_oneof![
        // The real alphabet, lengths around both limits.
        length
            .prop_flat_map(move |n| proptest::collection::vec(unreserved(), n))
            .prop_map(|v| v.into_iter().collect::<String>()),
        // A valid length of the real alphabet, one character replaced.
        (
            proptest::collection::vec(unreserved(), 43..=128),
            any::<proptest::sample::Index>(),
            foreign_char(),
        )
            .prop_map(|(mut v, i, c)| {
                let i = i.index(v.len());
                v[i] = c;
                v.into_iter().collect::<String>()
            }),
    ]
}

/// The contract's key format, written out (its own CRC32, not the code's).
fn valid_key(s: &str) -> bool {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let Some(body) = s.strip_prefix("sked_live_") else {
        return false;
    };
    if body.len() != 36 || !body.bytes().all(|b| BASE62.contains(&b)) {
        return false;
    }
    let (random, sum) = body.split_at(30);
    let mut crc = !0u32;
    for b in random.bytes() {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    let mut n = u64::from(!crc);
    let mut digits = [0u8; 6];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    sum.as_bytes() == digits
}

fn key_candidates() -> impl Strategy<Value = String> {
    let random = "[0-9A-Za-z]{30}";
    let key_char = prop_oneof![
        "[0-9A-Za-z]".prop_map(|s| s.chars().next().unwrap()),
        foreign_char(),
    ];
    prop_oneof![
        // Real keys.
        random.prop_map(|r| skedcast_core::api_key::from_random(&r)),
        // A real key with one character replaced, removed or added,
        // anywhere (the prefix too).
        (random, any::<proptest::sample::Index>(), 0..3u8, key_char).prop_map(|(r, i, edit, c)| {
            let mut k: Vec<char> = skedcast_core::api_key::from_random(&r).chars().collect();
            let i = i.index(k.len());
            match edit {
                0 => k[i] = c,
                1 => {
                    k.remove(i);
                }
                _ => k.insert(i, c),
            }
            k.into_iter().collect::<String>()
        }),
        // The prefix and base62 of every nearby length.
        "sked_live_[0-9A-Za-z]{0,45}",
    ]
}

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

    /// Verifiers: exactly 43–128 characters of the unreserved set.
    #[test]
    fn verifier_validation(s in proptest::collection::vec(any::<char>(), 0..140)) {
        let s: String = s.into_iter().collect();
        let expected = (43..=128).contains(&s.len()) && s.chars().all(|c| UNRESERVED.contains(c));
        prop_assert_eq!(pkce::is_valid_verifier(&s), expected);
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

    /// Arbitrary strings never pass as keys unless they have the shape.
    #[test]
    fn arbitrary_strings_are_not_keys(s in ".{0,60}") {
        if format::is_well_formed(&s) {
            prop_assert!(s.starts_with("sked_live_") && s.len() == 46);
        }
    }
}

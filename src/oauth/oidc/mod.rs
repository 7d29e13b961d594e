//! OpenID Connect Core 1.0 on top of the code flow (issue 16): the claims
//! about a member that identity scopes release ([`claims`]), the id_token
//! ([`id_token`]), the UserInfo endpoint ([`userinfo`]) and RP-initiated
//! logout ([`logout`]). The scopes themselves are in [`crate::scopes`];
//! `nonce`, `prompt`, `max_age` and `login_hint` are read by the
//! authorization request.

pub mod claims;
pub mod id_token;
pub mod logout;
pub mod userinfo;

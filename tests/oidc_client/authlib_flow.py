"""A real OpenID Connect relying party (Python authlib, pinned in
tests/it/support/provision.rs) against a running skedcast-auth.

Discovery, dynamic registration, the code flow with PKCE and a nonce (the
member signs in and allows through the HTML forms, as a person would
without JavaScript), the id_token validated by authlib (signature against
the JWKS, iss, aud, nonce, exp), the UserInfo endpoint; then what the
library must refuse: a nonce mismatch, an expired id_token, another
audience. Prints one JSON line for the Rust test to check.
"""

import html
import json
import os
import re
import secrets
import warnings
from urllib.parse import parse_qs, urljoin, urlparse

import authlib
import requests
from authlib.integrations.requests_client import OAuth2Session

warnings.simplefilter("ignore")  # authlib.jose announces joserfc
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

ISSUER = os.environ["ISSUER"]
EMAIL = os.environ["EMAIL"]
PASSWORD = os.environ["PASSWORD"]
REDIRECT = os.environ["REDIRECT_URI"]
ALG = os.environ.get("ID_TOKEN_ALG", "ES256")
SCOPE = "openid email profile agency:read"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def hidden_fields(page: str) -> dict:
    return {html.unescape(k): html.unescape(v) for k, v in HIDDEN.findall(page)}


def browser(authorization_url: str) -> str:
    """Sign in and allow; the URL the server sends the browser back to."""
    c = requests.Session()
    r = c.get(authorization_url, allow_redirects=False)
    if r.status_code == 302 and urlparse(r.headers["location"]).path.endswith("/login"):
        r = c.get(urljoin(authorization_url, r.headers["location"]))
        form = hidden_fields(r.text)
        form.update(email=EMAIL, password=PASSWORD)
        r = c.post(urljoin(authorization_url, "/login"), data=form, allow_redirects=False)
        assert r.status_code == 303, f"sign-in: {r.status_code}"
        r = c.get(urljoin(authorization_url, r.headers["location"]), allow_redirects=False)
    if r.status_code == 200:
        form = hidden_fields(r.text)
        form["decision"] = "allow"
        r = c.post(urljoin(authorization_url, "/oauth/authorize"), data=form, allow_redirects=False)
    location = r.headers.get("location", "")
    assert location.startswith(REDIRECT), f"not sent back: {r.status_code} {location}"
    return location


def decode(id_token, keys, client_id, nonce, audience=None):
    claims = jwt.decode(
        id_token,
        keys,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "values": [audience or client_id]},
        },
        claims_params={"nonce": nonce, "client_id": client_id},
    )
    return claims


def refused(check) -> str:
    """The name of the error the library raises (authlib 1.9 raises
    joserfc's errors of the same names as authlib.jose's)."""
    try:
        check()
    except Exception as e:  # noqa: BLE001 - the class name is the result
        return type(e).__name__
    return "accepted"


def main() -> None:
    meta = requests.get(f"{ISSUER}/.well-known/openid-configuration").json()
    reg = {
        "client_name": "authlib relying party",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "id_token_signed_response_alg": ALG,
    }
    client = requests.post(meta["registration_endpoint"], json=reg).json()
    client_id = client["client_id"]
    session = OAuth2Session(
        client_id,
        redirect_uri=REDIRECT,
        scope=SCOPE,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    nonce = secrets.token_urlsafe(16)
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier
    )
    back = browser(url)
    token = session.fetch_token(
        meta["token_endpoint"],
        authorization_response=back,
        code_verifier=verifier,
        state=state,
    )
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    id_token = token["id_token"]
    claims = decode(id_token, keys, client_id, nonce)
    claims.validate(leeway=5)
    userinfo = session.get(meta["userinfo_endpoint"]).json()
    print(
        json.dumps(
            {
                "authlib": authlib.__version__,
                "client_id": client_id,
                "alg": json.loads(
                    __import__("base64").urlsafe_b64decode(id_token.split(".")[0] + "==")
                )["alg"],
                "claims": dict(claims),
                "userinfo": userinfo,
                "iss_param": parse_qs(urlparse(back).query).get("iss", [None])[0],
                "nonce_sent": nonce,
                "nonce_mismatch": refused(
                    lambda: decode(id_token, keys, client_id, "another-nonce").validate(leeway=5)
                ),
                "expired": refused(lambda: claims.validate(now=claims["exp"] + 60)),
                "other_audience": refused(
                    lambda: decode(id_token, keys, client_id, nonce, "someone-else").validate(
                        leeway=5
                    )
                ),
            }
        )
    )


if __name__ == "__main__":
    main()

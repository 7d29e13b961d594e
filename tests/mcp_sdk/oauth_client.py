"""Drive the official MCP Python SDK's OAuth client against skedcast.

The SDK's OAuthClientProvider (an httpx auth flow) calls the resource
service, gets 401 + resource_metadata, discovers the protected resource and
the authorization server, registers (DCR) or uses a Client ID Metadata
Document, runs PKCE, and retries with the token. The "browser" here walks
our sign-in and consent forms over HTTP and hands the code back.

After two calls with the token, the SDK is told its access token expired
(its own expiry clock, set back) and calls again: it must refresh, not send
the person through the browser a second time.

Environment: API_URL, EMAIL, PASSWORD, REDIRECT_URI, optional CIMD_URL.
Prints one JSON line: {"status", "again", "after_refresh", "body", "client_id",
"scope", "refresh_token", "refreshed", "sign_ins", "sdk"}.
"""

import asyncio
import html
import importlib.metadata
import json
import os
import re
import sys
import time
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2 as httpx
import mcp.client.auth.oauth2 as oauth2
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

API = os.environ["API_URL"]
EMAIL = os.environ["EMAIL"]
PASSWORD = os.environ["PASSWORD"]
REDIRECT = os.environ["REDIRECT_URI"]
CIMD_URL = os.environ.get("CIMD_URL") or None

if CIMD_URL:
    # The SDK accepts only https metadata-document URLs; the test serves the
    # document on loopback http (the server's test-only switch allows it).
    oauth2.is_valid_client_metadata_url = lambda url: True


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client = client_info


HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
redirected = {}
sign_ins = []


def hidden_fields(page: str) -> dict:
    return {html.unescape(k): html.unescape(v) for k, v in HIDDEN.findall(page)}


async def browser(authorization_url: str) -> None:
    """Sign in and allow, as a person would, without JavaScript."""
    sign_ins.append(authorization_url)
    async with httpx.AsyncClient(follow_redirects=False, timeout=30) as c:
        r = await c.get(authorization_url)
        if r.status_code == 302 and r.headers["location"].startswith("/login"):
            r = await c.get(urljoin(authorization_url, r.headers["location"]))
            form = hidden_fields(r.text)
            form.update(email=EMAIL, password=PASSWORD)
            r = await c.post(urljoin(authorization_url, "/login"), data=form)
            assert r.status_code == 303, f"sign-in: {r.status_code}"
            r = await c.get(urljoin(authorization_url, r.headers["location"]))
        if r.status_code == 200:
            form = hidden_fields(r.text)
            form["decision"] = "allow"
            r = await c.post(urljoin(authorization_url, "/oauth/authorize"), data=form)
        location = r.headers.get("location", "")
        assert location.startswith(REDIRECT), f"not sent back to the client: {r.status_code} {location}"
        q = parse_qs(urlparse(location).query)
        assert "code" in q, f"no code: {location}"
        redirected.update(code=q["code"][0], state=q.get("state", [None])[0], iss=q.get("iss", [None])[0])


async def callback() -> AuthorizationCodeResult:
    return AuthorizationCodeResult(**redirected)


async def main() -> None:
    storage = Memory()
    provider = OAuthClientProvider(
        server_url=API + "/v1/agency",
        client_metadata=OAuthClientMetadata(
            client_name="MCP SDK conformance client",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope="agency:read offline_access",
        ),
        storage=storage,
        redirect_handler=browser,
        callback_handler=callback,
        client_metadata_url=CIMD_URL,
    )
    async with httpx.AsyncClient(auth=provider, timeout=30) as c:
        r = await c.get(API + "/v1/agency")
        again = await c.get(API + "/v1/agency")
        first = storage.tokens
        scope = first.scope if first else None
        # The SDK's own clock says the access token has expired.
        provider.context.token_expiry_time = time.time() - 1
        after = await c.get(API + "/v1/agency")
        second = storage.tokens
    print(
        json.dumps(
            {
                "status": r.status_code,
                "again": again.status_code,
                "after_refresh": after.status_code,
                "body": r.json() if r.status_code == 200 else r.text,
                "client_id": storage.client.client_id if storage.client else None,
                "scope": scope,
                "refresh_token": bool(first and first.refresh_token),
                "refreshed": bool(
                    first
                    and second
                    and second.access_token != first.access_token
                    and second.refresh_token
                    and second.refresh_token != first.refresh_token
                ),
                "scope_after_refresh": second.scope if second else None,
                "sign_ins": len(sign_ins),
                "sdk": importlib.metadata.version("mcp"),
            }
        )
    )


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # report, then fail
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)

"""A command-line client signing in with the device authorization grant
(RFC 8628) through oauthlib's DeviceClient, as a CLI tool would.

Environment: ISSUER (the server's base URL), CLIENT_ID, SCOPE.
Prints one JSON object per line on stdout: first what the member must see
("start": the user code and verification URIs), then the outcome ("tokens",
after a refresh too, or "error"). Honours `interval` and `slow_down`.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# The test server speaks plain http on 127.0.0.1.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

import oauthlib  # noqa: E402
from oauthlib.oauth2 import DeviceClient  # noqa: E402
from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # noqa: E402


def say(**fields):
    print(json.dumps(fields), flush=True)


def post(url, body):
    req = urllib.request.Request(
        url,
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    issuer = os.environ["ISSUER"].rstrip("/")
    with urllib.request.urlopen(issuer + "/.well-known/oauth-authorization-server") as r:
        meta = json.load(r)
    client = DeviceClient(os.environ["CLIENT_ID"])

    # RFC 8628 section 3.1: oauthlib prepares the parameters; they are POSTed as a form.
    uri = client.prepare_request_uri(
        meta["device_authorization_endpoint"], scope=os.environ["SCOPE"].split()
    )
    status, body = post(meta["device_authorization_endpoint"], urllib.parse.urlsplit(uri).query)
    if status != 200:
        say(event="error", status=status, body=body)
        return 1
    started = json.loads(body)
    say(
        event="start",
        oauthlib=oauthlib.__version__,
        user_code=started["user_code"],
        verification_uri=started["verification_uri"],
        verification_uri_complete=started["verification_uri_complete"],
        interval=started["interval"],
    )

    # Section 3.4 and 3.5: poll until the member answers.
    interval = started["interval"]
    deadline = time.monotonic() + started["expires_in"]
    pending = 0
    while time.monotonic() < deadline:
        time.sleep(interval)
        body = client.prepare_request_body(started["device_code"], include_client_id=True)
        _, text = post(meta["token_endpoint"], body)
        try:
            token = client.parse_request_body_response(text)
        except OAuth2Error as e:
            if e.error == "authorization_pending":
                pending += 1
                continue
            if e.error == "slow_down":
                interval += 5
                continue
            say(event="error", error=e.error, description=e.description)
            return 1
        break
    else:
        say(event="error", error="timed out")
        return 1

    # The refresh token of offline_access, used once.
    body = client.prepare_refresh_body(
        refresh_token=token["refresh_token"], client_id=client.client_id
    )
    _, text = post(meta["token_endpoint"], body)
    try:
        refreshed = client.parse_request_body_response(text)
    except OAuth2Error as e:
        say(event="error", error=e.error, description=e.description)
        return 1
    say(
        event="tokens",
        pending=pending,
        token_type=token["token_type"],
        scope=token["scope"],
        access_token=token["access_token"],
        refreshed=refreshed["refresh_token"] != token["refresh_token"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

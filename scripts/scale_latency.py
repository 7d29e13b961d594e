#!/usr/bin/env python3
"""Latency of the request paths, one request at a time (scripts/scale-latency.sh).

Against a running skedcast-auth: client_credentials, refresh rotation (one
family, rotated again and again), authorize with remembered consent + code
exchange, API-key introspection (keys chosen at random among --api-keys),
and sign-in (form + password). Prints p50 / p99 in ms per path. Python's own
time is in every figure: compare runs, not absolute values.
"""
import argparse
import base64
import hashlib
import json
import random
import secrets
import sys
import time
import urllib.parse

from soak import REDIRECT, Conn, Worker, hidden_fields


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] * 1000


def basic(cid, secret):
    raw = f"{urllib.parse.quote(cid, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--auth", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--cc", required=True, help="client_id:secret of a client_credentials client")
    p.add_argument("--rs", required=True, help="client_id:secret of a resource server")
    p.add_argument("--api-keys", required=True, help="file with one API key a line")
    p.add_argument("-n", type=int, default=300)
    a = p.parse_args()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    c = Conn(a.auth)
    cc_id, cc_secret = a.cc.split(":", 1)
    rs_id, rs_secret = a.rs.split(":", 1)
    keys = [k.strip() for k in open(a.api_keys) if k.strip()]
    times = {}

    def timed(name, fn):
        t = time.perf_counter()
        ok = fn()
        times.setdefault(name, []).append(time.perf_counter() - t)
        if not ok:
            sys.exit(f"{name} failed")

    # A member's browser: signed in once, consents once, then remembered.
    args = argparse.Namespace(auth=a.auth, api=a.auth, email=a.email, password=a.password)
    w = Worker(args, None, None, None)
    st, _, body = c.request("POST", "/oauth/register", json.dumps({
        "client_name": "Latency", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none", "scope": "agency:read offline_access",
    }), {"Content-Type": "application/json"})
    assert st == 201, body
    w.client_id = json.loads(body)["client_id"]
    cookies = {}

    def authorize_and_exchange():
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": w.client_id, "redirect_uri": REDIRECT,
            "scope": "agency:read offline_access", "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256"})
        st, h, body = w.get(f"/oauth/authorize?{q}", cookies)
        w.keep(cookies, h)
        if st == 302 and h.get("location", "").startswith("/login"):
            st, h, body = w.get(h["location"], cookies)
            w.keep(cookies, h)
            f = hidden_fields(body.decode()) + [("email", a.email), ("password", a.password)]
            st, h, body = w.form("/login", f, cookies)
            w.keep(cookies, h)
            st, h, body = w.get(h["location"], cookies)
            w.keep(cookies, h)
        if st == 200:
            f = hidden_fields(body.decode()) + [("decision", "allow")]
            st, h, body = w.form("/oauth/authorize", f, cookies)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.get("location", "")).query)).get("code")
        if not code:
            return None
        st, h, body = w.form("/oauth/token", [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT),
            ("client_id", w.client_id), ("code_verifier", verifier)])
        return json.loads(body) if st == 200 else None

    first = authorize_and_exchange()  # signs in and consents: not timed
    assert first, "first flow"
    rt = [first["refresh_token"]]

    def refresh():
        st, _, body = c.request("POST", "/oauth/token", urllib.parse.urlencode({
            "grant_type": "refresh_token", "refresh_token": rt[0], "client_id": w.client_id}), form)
        if st != 200:
            return False
        rt[0] = json.loads(body)["refresh_token"]
        return True

    def client_credentials():
        st, _, _ = c.request("POST", "/oauth/token", "grant_type=client_credentials",
                             {**form, "Authorization": basic(cc_id, cc_secret)})
        return st == 200

    def introspect_key():
        st, _, body = c.request("POST", "/oauth/introspect",
                                urllib.parse.urlencode({"token": random.choice(keys)}),
                                {**form, "Authorization": basic(rs_id, rs_secret)})
        return st == 200 and json.loads(body)["active"]

    def sign_in():
        jar = {}
        st, h, body = w.get("/login", jar)
        w.keep(jar, h)
        f = hidden_fields(body.decode()) + [("email", a.email), ("password", a.password)]
        st, _, _ = w.form("/login", f, jar)
        return st == 303

    for _ in range(a.n):
        timed("client_credentials", client_credentials)
        timed("refresh", refresh)
        timed("authorize+code exchange", lambda: authorize_and_exchange() is not None)
        timed("API-key introspection", introspect_key)
    for _ in range(max(20, a.n // 10)):
        timed("sign-in", sign_in)
    for name, xs in times.items():
        print(f"  {name:26} n={len(xs):4d}  p50 {pct(xs, 50):6.2f} ms  p99 {pct(xs, 99):6.2f} ms")


if __name__ == "__main__":
    main()

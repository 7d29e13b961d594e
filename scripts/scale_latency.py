#!/usr/bin/env python3
"""Latency of the request paths, one request at a time (scripts/scale-latency.sh).

Against running skedcast-auth servers, each given as
NAME=BASE_URL,CC_ID:CC_SECRET,RS_ID:RS_SECRET,KEYS_FILE: client_credentials,
refresh rotation (one family, rotated again and again), authorize with a
remembered consent, code exchange, API-key introspection (the file's keys in
turn, each once a cycle: a key's first use in a minute writes last_used_at)
and sign-in (form + password).

`compare` (two or more servers) alternates the servers request by request,
in a different order each round, so the machine's load falls on all of
them alike; it prints p50 / p99 in ms per path and server, and each
server's ratio to the first. `prune` measures rounds until the file --until
exists (the script touches it when a housekeeping pass over the first
server's database ends): p50 / p99 per path and server, and the first's
failures, after `--before` rounds measured the same way before the pass
started; the other servers are controls for the machine's load. Python's own time is in every figure: compare
columns, not absolute values.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import time
import urllib.parse

from soak import REDIRECT, Conn, Worker, hidden_fields

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PATHS = ["client_credentials", "code exchange", "refresh", "API-key introspection",
         "sign-in", "authorize (remembered consent)"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] * 1000 if xs else float("nan")


def basic(cid, secret):
    raw = f"{urllib.parse.quote(cid, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


class Target:
    """One server: its clients, a member's browser with a remembered consent."""

    def __init__(self, spec, email, password):
        self.name, rest = spec.split("=", 1)
        base, cc, rs, keys = rest.split(",")
        self.cc, self.rs = cc.split(":", 1), rs.split(":", 1)
        self.keys = [k.strip() for k in open(keys) if k.strip()]
        self.next_key = 0
        self.email, self.password = email, password
        self.c = Conn(base)
        args = argparse.Namespace(auth=base, api=base, email=email, password=password)
        self.w = Worker(args, None, None, None)
        st, _, body = self.c.request("POST", "/oauth/register", json.dumps({
            "client_name": "Latency", "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none", "scope": "agency:read offline_access",
        }), {"Content-Type": "application/json"})
        assert st == 201, body
        self.w.client_id = json.loads(body)["client_id"]
        self.cookies = {}
        self.code = None
        # Signs in and consents once: not measured.
        assert self.authorize(), "first authorization"
        first = self.exchange_json()
        assert first, "first code exchange"
        self.rt = first["refresh_token"]

    def authorize(self):
        self.verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.w.client_id, "redirect_uri": REDIRECT,
            "scope": "agency:read offline_access", "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256"})
        w, jar = self.w, self.cookies
        st, h, body = w.get(f"/oauth/authorize?{q}", jar)
        w.keep(jar, h)
        if st == 302 and h.get("location", "").startswith("/login"):
            st, h, body = w.get(h["location"], jar)
            w.keep(jar, h)
            f = hidden_fields(body.decode()) + [("email", self.email), ("password", self.password)]
            st, h, body = w.form("/login", f, jar)
            w.keep(jar, h)
            st, h, body = w.get(h["location"], jar)
            w.keep(jar, h)
        if st == 200:
            f = hidden_fields(body.decode()) + [("decision", "allow")]
            st, h, body = w.form("/oauth/authorize", f, jar)
        loc = urllib.parse.urlsplit(h.get("location", "")).query
        self.code = dict(urllib.parse.parse_qsl(loc)).get("code")
        return self.code is not None

    def exchange_json(self):
        st, h, body = self.w.form("/oauth/token", [
            ("grant_type", "authorization_code"), ("code", self.code or ""),
            ("redirect_uri", REDIRECT), ("client_id", self.w.client_id),
            ("code_verifier", self.verifier)])
        self.code = None
        return json.loads(body) if st == 200 else None

    def exchange(self):
        return self.exchange_json() is not None

    def refresh(self):
        st, _, body = self.c.request("POST", "/oauth/token", urllib.parse.urlencode({
            "grant_type": "refresh_token", "refresh_token": self.rt,
            "client_id": self.w.client_id}), FORM)
        if st != 200:
            return False
        self.rt = json.loads(body)["refresh_token"]
        return True

    def client_credentials(self):
        st, _, _ = self.c.request("POST", "/oauth/token", "grant_type=client_credentials",
                                  {**FORM, "Authorization": basic(*self.cc)})
        return st == 200

    def introspect_key(self):
        key = self.keys[self.next_key % len(self.keys)]
        self.next_key += 1
        st, _, body = self.c.request("POST", "/oauth/introspect",
                                     urllib.parse.urlencode({"token": key}),
                                     {**FORM, "Authorization": basic(*self.rs)})
        return st == 200 and json.loads(body)["active"]

    def sign_in(self):
        jar = {}
        st, h, body = self.w.get("/login", jar)
        self.w.keep(jar, h)
        f = hidden_fields(body.decode()) + [("email", self.email), ("password", self.password)]
        st, _, _ = self.w.form("/login", f, jar)
        return st == 303

    def steps(self, with_sign_in):
        """One round: (path, call) in order; the exchange redeems the
        authorization's code."""
        out = [("client_credentials", self.client_credentials),
               ("refresh", self.refresh),
               ("authorize (remembered consent)", self.authorize),
               ("code exchange", self.exchange),
               ("API-key introspection", self.introspect_key)]
        if with_sign_in:
            out.append(("sign-in", self.sign_in))
        return out


class Timings:
    def __init__(self):
        self.t, self.failed = {}, {}

    def run(self, name, fn):
        t = time.perf_counter()
        ok = fn()
        self.t.setdefault(name, []).append(time.perf_counter() - t)
        if not ok:
            self.failed[name] = self.failed.get(name, 0) + 1
        return ok


def one_round(targets, timings, i, sign_in_every):
    order = targets if i % 2 == 0 else targets[::-1]
    rounds = [t.steps(i % sign_in_every == 0) for t in order]
    for k in range(len(rounds[0])):
        for t, steps in zip(order, rounds):
            name, fn = steps[k]
            timings[t.name].run(name, fn)


def compare(a, targets):
    timings = {t.name: Timings() for t in targets}
    for i in range(a.n):
        one_round(targets, timings, i, a.sign_in_every)
    first = targets[0].name
    head = "".join(f" | {t.name} p50 / p99 (ms)" for t in targets)
    ratios = "".join(f" | {t.name}/{first} p50, p99" for t in targets[1:])
    print(f"| path{head}{ratios} |")
    print("|---" * (1 + 2 * len(targets) - 1) + "|")
    for path in PATHS:
        row = f"| {path}"
        for t in targets:
            xs = timings[t.name].t.get(path, [])
            row += f" | {pct(xs, 50):.2f} / {pct(xs, 99):.2f}"
        base = timings[first].t.get(path, [])
        for t in targets[1:]:
            xs = timings[t.name].t.get(path, [])
            row += f" | {pct(xs, 50) / pct(base, 50):.2f}, {pct(xs, 99) / pct(base, 99):.2f}"
        print(row + " |")
    for t in targets:
        n = {p: len(xs) for p, xs in timings[t.name].t.items()}
        if timings[t.name].failed:
            print(f"  {t.name}: FAILED {timings[t.name].failed} of {n}")
    print(f"  ({a.n} rounds; sign-in every {a.sign_in_every} rounds)")
    return 1 if any(timings[t.name].failed for t in targets) else 0


def prune(a, targets):
    """The first target is pruned; the others, served by the same machine
    and measured in turn with it, are controls: what the machine's load
    alone does to them over the same time."""
    before = {t.name: Timings() for t in targets}
    during = {t.name: Timings() for t in targets}
    for i in range(a.before):
        one_round(targets, before, i, a.sign_in_every)
    open(a.ready, "w").close()  # the script starts the pass now
    i, started = 0, time.time()
    while not os.path.exists(a.until):
        one_round(targets, during, i, a.sign_in_every)
        i += 1
        if time.time() - started > a.max_secs:
            sys.exit(f"the pass did not end within {a.max_secs} s")
    secs = time.time() - started
    head = "".join(f" | {t.name} before p50 / p99 | during p50 / p99 | p99 during / before"
                   for t in targets)
    print(f"| path{head} | {targets[0].name} failed during |")
    print("|---" * (2 + 3 * len(targets)) + "|")
    for path in PATHS:
        row = f"| {path}"
        for t in targets:
            b, d = before[t.name].t.get(path, []), during[t.name].t.get(path, [])
            row += (f" | {pct(b, 50):.2f} / {pct(b, 99):.2f} | {pct(d, 50):.2f} / {pct(d, 99):.2f}"
                    f" | {pct(d, 99) / pct(b, 99):.2f}")
        d = during[targets[0].name].t.get(path, [])
        print(f"{row} | {during[targets[0].name].failed.get(path, 0)} of {len(d)} |")
    print(f"  ({a.before} rounds before; {i} rounds during the {secs:.0f} s pass; ms)")
    failed = any(x[t.name].failed for x in (before, during) for t in targets)
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["compare", "prune"])
    p.add_argument("--target", action="append", required=True,
                   help="NAME=BASE_URL,CC_ID:CC_SECRET,RS_ID:RS_SECRET,KEYS_FILE")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("-n", type=int, default=300, help="rounds (compare)")
    p.add_argument("--sign-in-every", type=int, default=5)
    p.add_argument("--before", type=int, default=300, help="rounds before the pass (prune)")
    p.add_argument("--ready", help="file created when the pass may start (prune)")
    p.add_argument("--until", help="file that appears when the pass is over (prune)")
    p.add_argument("--max-secs", type=float, default=1800)
    a = p.parse_args()
    targets = [Target(s, a.email, a.password) for s in a.target]
    sys.exit(compare(a, targets) if a.mode == "compare" else prune(a, targets))


if __name__ == "__main__":
    main()

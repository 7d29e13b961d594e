#!/usr/bin/env python3
"""Soak load for scripts/soak.sh (Python standard library only).

Mixed load on loopback against a running skedcast-auth and skedcast-api:
full authorization flows (sign-in form, consent, code exchange with PKCE),
refresh-token rotations, JWKS fetches and GET /v1/agency with the access
tokens. With several auth instances (--auth and --auth-pid take
comma-separated lists: instances sharing one database) each request goes to
one of them at random, so a flow signs in at one, consents at another and
redeems its code at a third; races (--w-race-refresh, --w-race-code) present
one refresh token or one code to two instances at once and count how many
won (exactly one must). The RSS of both services (VmRSS in
/proc/PID/status, summed over the auth instances) is sampled every few
seconds; at the end a table and the growth between the first and
the last minute are printed. Then a burst of sign-ins (--burst flows at
--burst-concurrency, RSS sampled every 0.1 s) and an idle pause
(--settle seconds): the peak RSS during the burst and the settled RSS after
the pause are printed for both services. Exit status 1 when requests failed.
"""
import argparse
import base64
import hashlib
import html
import http.client
import json
import random
import re
import secrets
import sys
import threading
import time
import urllib.parse

REDIRECT = "http://127.0.0.1/callback"


def rss_kib(pids):
    """VmRSS of a pid, or summed over a comma-separated list of pids."""
    total = 0
    for pid in str(pids).split(","):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return total


class Conn:
    """One keep-alive HTTP/1.1 connection to host:port, reconnecting."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.c = None

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.c.request(method, path, body=body, headers=headers)
                r = self.c.getresponse()
                data = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.c.close()
                    self.c = None
                return r.status, r.headers, data
            except (http.client.HTTPException, ConnectionError, OSError):
                self.c.close()
                self.c = None
                if attempt:
                    raise


def hidden_fields(page):
    out = []
    for part in page.split('<input type="hidden" ')[1:]:
        n = re.search(r'name="([^"]*)"', part)
        v = re.search(r'value="([^"]*)"', part)
        if n and v:
            out.append((html.unescape(n.group(1)), html.unescape(v.group(1))))
    return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}
        self.err = {}
        self.last_errors = []
        # Races run and races with exactly one winner, by kind.
        self.races = {}
        self.one_winner = {}

    def add(self, kind, good, detail=""):
        with self.lock:
            d = self.ok if good else self.err
            d[kind] = d.get(kind, 0) + 1
            if not good and len(self.last_errors) < 20:
                self.last_errors.append(f"{kind}: {detail}")


class Worker(threading.Thread):
    def __init__(self, args, client_id, stats, stop):
        super().__init__(daemon=True)
        self.args, self.client_id, self.stats, self.stop = args, client_id, stats, stop
        self.auths = [Conn(u) for u in args.auth.split(",")]
        # A second connection to each instance, for the other side of a race.
        self.rivals = [Conn(u) for u in args.auth.split(",")]
        self.api = Conn(args.api)
        self.refresh_tokens = []
        self.access = None
        self.rng = random.Random()

    @property
    def auth(self):
        """One of the auth instances, at random for each request."""
        return self.auths[self.rng.randrange(len(self.auths))]

    def form(self, path, pairs, cookies=None, extra=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        h.update(extra or {})
        return self.auth.request("POST", path, urllib.parse.urlencode(pairs), h)

    def get(self, path, cookies):
        h = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        return self.auth.request("GET", path, None, h)

    @staticmethod
    def keep(cookies, headers):
        for sc in headers.get_all("set-cookie") or []:
            nv = sc.split(";", 1)[0]
            k, _, v = nv.partition("=")
            if v:
                cookies[k.strip()] = v.strip()
            else:
                cookies.pop(k.strip(), None)

    def flow(self):
        """Sign in through the form, consent, exchange the code."""
        got = self.authorize()
        if not got[0]:
            return got
        _, code, verifier = got
        st, h, body = self.form("/oauth/token", self.code_form(code, verifier))
        if st != 200:
            return False, f"token {st} {body[:200]!r}"
        self.keep_tokens(json.loads(body))
        return True, ""

    def code_form(self, code, verifier):
        return [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT),
                ("client_id", self.client_id), ("code_verifier", verifier)]

    def keep_tokens(self, t):
        self.access = t["access_token"]
        if "refresh_token" in t:
            self.refresh_tokens.append(t["refresh_token"])
            # Keep a bounded number of live families per worker.
            if len(self.refresh_tokens) > 50:
                self.refresh_tokens.pop(0)

    def authorize(self):
        """Sign in through the form and consent: (True, code, verifier) or
        (False, why)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT,
            "scope": "agency:read posts:read offline_access", "state": secrets.token_hex(8),
            "code_challenge": challenge, "code_challenge_method": "S256",
        })
        cookies = {}
        st, h, body = self.get(f"/oauth/authorize?{q}", cookies)
        self.keep(cookies, h)
        if st == 302 and h.get("location", "").startswith("/login"):
            nxt = h["location"]
            st, h, body = self.get(nxt, cookies)
            self.keep(cookies, h)
            form = hidden_fields(body.decode())
            form += [("email", self.args.email), ("password", self.args.password)]
            st, h, body = self.form("/login", form, cookies)
            self.keep(cookies, h)
            if st != 303:
                return False, f"sign-in {st} {body[:200]!r}"
            st, h, body = self.get(h["location"], cookies)
            self.keep(cookies, h)
        if st == 200:
            form = hidden_fields(body.decode()) + [("decision", "allow")]
            st, h, body = self.form("/oauth/authorize", form, cookies)
        loc = h.get("location", "")
        if st not in (302, 303) or not loc.startswith(REDIRECT):
            return False, f"consent {st} {loc} {body[:200]!r}"
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        if "code" not in params:
            return False, f"no code: {loc}"
        return True, params["code"], verifier

    def race(self, form):
        """POST `form` to /oauth/token at two different instances (or twice
        at the one) at the same instant; the two statuses and bodies."""
        n = len(self.auths)
        i = self.rng.randrange(n)
        j = (i + 1 + self.rng.randrange(n - 1)) % n if n > 1 else i
        barrier = threading.Barrier(2)
        out = [None, None]
        body = urllib.parse.urlencode(form)
        h = {"Content-Type": "application/x-www-form-urlencoded"}

        def side(k, conn):
            try:
                barrier.wait(timeout=10)
                st, _, b = conn.request("POST", "/oauth/token", body, h)
                out[k] = (st, b)
            except Exception as e:  # noqa: BLE001 - reported as a failed side
                out[k] = (0, repr(e).encode())

        t = threading.Thread(target=side, args=(1, self.rivals[j]))
        t.start()
        side(0, self.auths[i])
        t.join()
        return out

    def judge(self, kind, out, keep_refresh=True):
        """A race is good when exactly one side got tokens and the other an
        RFC 6749 invalid_grant."""
        wins = [o for o in out if o[0] == 200]
        lost = [o for o in out if o[0] == 400 and b"invalid_grant" in o[1]]
        with self.stats.lock:
            self.stats.races[kind] = self.stats.races.get(kind, 0) + 1
            if len(wins) == 1:
                self.stats.one_winner[kind] = self.stats.one_winner.get(kind, 0) + 1
        if len(wins) == 1:
            t = json.loads(wins[0][1])
            if keep_refresh:
                self.keep_tokens(t)
            else:
                self.access = t["access_token"]
        if len(wins) == 1 and len(lost) == 1:
            return True, ""
        return False, f"{kind} race: {[(o[0], o[1][:120]) for o in out]!r}"

    def race_code(self):
        """One code redeemed at two instances at once."""
        got = self.authorize()
        if not got[0]:
            return got
        _, code, verifier = got
        # The loser replayed the code, which revokes what the code issued
        # (OAuth 2.1 §4.1.3): the winner's refresh token is dead.
        return self.judge("code", self.race(self.code_form(code, verifier)), keep_refresh=False)

    def race_refresh(self):
        """One refresh token rotated at two instances at once: one wins, the
        other is a reuse, which revokes the family (so the token is dropped)."""
        if not self.refresh_tokens:
            return self.flow()
        rt = self.refresh_tokens.pop(self.rng.randrange(len(self.refresh_tokens)))
        form = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", self.client_id)]
        # The winner's refresh token belongs to a family the loser revoked.
        return self.judge("refresh", self.race(form), keep_refresh=False)

    def refresh(self):
        if not self.refresh_tokens:
            return self.flow()
        i = self.rng.randrange(len(self.refresh_tokens))
        rt = self.refresh_tokens[i]
        st, h, body = self.form("/oauth/token", [
            ("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", self.client_id),
        ])
        if st != 200:
            self.refresh_tokens.pop(i)
            return False, f"refresh {st} {body[:200]!r}"
        t = json.loads(body)
        self.refresh_tokens[i] = t["refresh_token"]
        self.access = t["access_token"]
        return True, ""

    def jwks(self):
        st, h, body = self.auth.request("GET", "/.well-known/jwks.json")
        return st == 200 and b'"keys"' in body, f"jwks {st}"

    def resource(self):
        if self.access is None:
            return self.flow()
        st, h, body = self.api.request("GET", "/v1/agency", None, {"Authorization": f"Bearer {self.access}"})
        return st == 200, f"agency {st} {body[:200]!r}"

    def run(self):
        actions = [("flow", self.flow, self.args.w_flow), ("refresh", self.refresh, self.args.w_refresh),
                   ("jwks", self.jwks, self.args.w_jwks), ("agency", self.resource, self.args.w_agency),
                   ("race_code", self.race_code, self.args.w_race_code),
                   ("race_refresh", self.race_refresh, self.args.w_race_refresh)]
        actions = [a for a in actions if a[2] > 0]
        names = [a[0] for a in actions]
        funcs = [a[1] for a in actions]
        weights = [a[2] for a in actions]
        while not self.stop.is_set():
            i = self.rng.choices(range(len(actions)), weights)[0]
            try:
                good, detail = funcs[i]()
            except Exception as e:  # noqa: BLE001 - counted, the soak goes on
                good, detail = False, repr(e)
            self.stats.add(names[i], good, detail)


def burst(args, client_id, stats):
    """--burst full flows (each a password check) at --burst-concurrency, then
    --settle idle seconds; prints peak and settled RSS of both services."""
    todo = list(range(args.burst))
    lock = threading.Lock()

    def one():
        w = Worker(args, client_id, stats, threading.Event())
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            try:
                good, detail = w.flow()
            except Exception as e:  # noqa: BLE001 - counted
                good, detail = False, repr(e)
            stats.add("burst", good, detail)

    before = (rss_kib(args.auth_pid), rss_kib(args.api_pid))
    threads = [threading.Thread(target=one, daemon=True) for _ in range(args.burst_concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    peak = list(before)
    while any(t.is_alive() for t in threads):
        peak = [max(peak[0], rss_kib(args.auth_pid)), max(peak[1], rss_kib(args.api_pid))]
        time.sleep(0.1)
    took = time.monotonic() - start
    peak = [max(peak[0], rss_kib(args.auth_pid)), max(peak[1], rss_kib(args.api_pid))]
    time.sleep(args.settle)
    after = (rss_kib(args.auth_pid), rss_kib(args.api_pid))
    print()
    print(f"burst: {args.burst} sign-in flows at {args.burst_concurrency} concurrent in {took:.1f} s "
          f"({stats.ok.get('burst', 0)} ok), then {args.settle:.0f} s idle")
    for name, i in (("skedcast-auth", 0), ("skedcast-api", 1)):
        print(f"{name}: RSS before {before[i] / 1024:.1f} MiB, peak {peak[i] / 1024:.1f} MiB, "
              f"settled {after[i] / 1024:.1f} MiB")


def register_client(base):
    c = Conn(base)
    st, _, body = c.request("POST", "/oauth/register", json.dumps({
        "client_name": "Soak", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "agency:read posts:read offline_access",
    }), {"Content-Type": "application/json"})
    if st != 201:
        sys.exit(f"registration failed: {st} {body!r}")
    return json.loads(body)["client_id"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--auth", required=True)
    p.add_argument("--api", required=True)
    p.add_argument("--auth-pid", required=True)
    p.add_argument("--api-pid", type=int, required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--seconds", type=int, default=300)
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--w-flow", type=float, default=1)
    p.add_argument("--w-refresh", type=float, default=4)
    p.add_argument("--w-jwks", type=float, default=3)
    p.add_argument("--w-agency", type=float, default=12)
    p.add_argument("--w-race-code", type=float, default=0)
    p.add_argument("--w-race-refresh", type=float, default=0)
    p.add_argument("--burst", type=int, default=200)
    p.add_argument("--burst-concurrency", type=int, default=16)
    p.add_argument("--settle", type=float, default=60)
    args = p.parse_args()

    client_id = register_client(args.auth.split(",")[0])
    stats, stop = Stats(), threading.Event()
    workers = [Worker(args, client_id, stats, stop) for _ in range(args.workers)]
    start = time.monotonic()
    for w in workers:
        w.start()

    samples = []  # (t, auth KiB, api KiB, total requests)
    print(f"{'t (s)':>7} {'auth RSS (MiB)':>15} {'api RSS (MiB)':>14} {'requests':>9} {'errors':>7}", flush=True)
    while True:
        t = time.monotonic() - start
        with stats.lock:
            total, errs = sum(stats.ok.values()), sum(stats.err.values())
        a, b = rss_kib(args.auth_pid), rss_kib(args.api_pid)
        samples.append((t, a, b, total))
        print(f"{t:7.0f} {a / 1024:15.1f} {b / 1024:14.1f} {total:9d} {errs:7d}", flush=True)
        if t >= args.seconds:
            break
        time.sleep(min(args.interval, max(0.0, args.seconds - t)))
    stop.set()
    for w in workers:
        w.join(timeout=35)
    elapsed = time.monotonic() - start

    print()
    print(f"{elapsed:.0f} s, {args.workers} workers; requests by kind (ok / failed):")
    for k in sorted(set(stats.ok) | set(stats.err)):
        print(f"  {k:8} {stats.ok.get(k, 0):8d} / {stats.err.get(k, 0)}")
    total = sum(stats.ok.values()) + sum(stats.err.values())
    print(f"  total    {total:8d} ({total / elapsed:.0f} per second; a flow counts as one)")
    for k in sorted(stats.races):
        print(f"  {k} races: {stats.races[k]}, with exactly one winner: {stats.one_winner.get(k, 0)}")
    window = min(60.0, elapsed / 3)
    first = [s for s in samples if s[0] <= window]
    last = [s for s in samples if s[0] >= samples[-1][0] - window]
    for name, col in (("skedcast-auth", 1), ("skedcast-api", 2)):
        f = sum(s[col] for s in first) / len(first) / 1024
        la = sum(s[col] for s in last) / len(last) / 1024
        peak = max(s[col] for s in samples) / 1024
        print(f"{name}: RSS mean first {window:.0f} s {f:.1f} MiB, last {window:.0f} s {la:.1f} MiB, "
              f"growth {la - f:+.1f} MiB ({(la - f) / f * 100:+.1f} %), peak {peak:.1f} MiB")
        # Past warm-up: the second minute against the last one (runs of 3 min or more).
        second = [s for s in samples if 60 <= s[0] < 120]
        if elapsed >= 180 and second:
            m2 = sum(s[col] for s in second) / len(second) / 1024
            print(f"{'':{len(name)}}  after warm-up: mean of minute 2 {m2:.1f} MiB, last minute {la:.1f} MiB, "
                  f"growth {la - m2:+.1f} MiB ({(la - m2) / m2 * 100:+.1f} %)")
    if args.burst:
        burst(args, client_id, stats)
    if stats.err:
        print("failures (first 20):")
        for e in stats.last_errors:
            print("  " + e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

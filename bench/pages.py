#!/usr/bin/env python3
"""Server time of the agent workspace's pages (issue 4: "< 50 ms server time at 1M tickets").

Signs in as an agent through the login form (session cookie), finds a busy ticket, its
customer and organization and a group through the API, then GETs every page 1 + N times on
one keep-alive connection and reads the server's own time from the `Server-Timing: app;dur=`
header (time until the response headers, without the network and the client). Prints one
JSON line per page and a table: median, p95 and max in ms.

    python3 bench/pages.py --url http://127.0.0.1:8080 --email a@x --password pw --token T [--runs 20]

Loopback only; bounded: at most --runs GETs per page and --max-seconds per page.
"""
import argparse
import http.client
import json
import re
import statistics
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--email", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--token", required=True, help="an API token (to find ids)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("pages.py: loopback targets only")
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)

    def req(method, path, body=None, headers=None):
        h = dict(headers or {})
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return r, data

    def api(path):
        r, data = req("GET", path, headers={"Authorization": f"Bearer {a.token}"})
        if r.status != 200:
            sys.exit(f"pages.py: {path} answered {r.status}: {data[:200]!r}")
        return json.loads(data)

    form = urllib.parse.urlencode({"email": a.email, "password": a.password, "next": "/views/mine"})
    r, data = req("POST", "/login", body=form)
    cookie = r.getheader("Set-Cookie")
    if r.status not in (302, 303) or not cookie:
        sys.exit(f"pages.py: sign-in failed ({r.status}); check --email/--password")
    cookie = cookie.split(";", 1)[0]

    # The ids behind the pages: the open ticket with the most events among the newest page,
    # its customer (and organization, if any), the first group.
    tickets = api("/api/v1/tickets?status=open&limit=100")["items"]
    if not tickets:
        tickets = api("/api/v1/tickets?limit=100")["items"]
    busy = max(tickets, key=lambda t: t.get("last_seq", 0))
    customer = api(f"/api/v1/customers/{busy['requester_id']}")
    org = busy.get("organization_id") or customer.get("organization_id")
    if not org:
        for t in tickets:
            if t.get("organization_id"):
                org = t["organization_id"]
                break
    groups = api("/api/v1/groups")
    groups = groups.get("items", groups) if isinstance(groups, dict) else groups
    pages = [
        ("views: my open tickets", "/views/mine"),
        ("views: unassigned", "/views/unassigned"),
        ("views: all open", "/views/open"),
        ("views: all open, by next SLA due", "/views/open?sort=due"),
        ("views: counts", "/views/counts"),
        ("ticket page (busiest open)", f"/tickets/{busy['id']}"),
        ("customer page", f"/customers/{busy['requester_id']}"),
        ("search: invoice", "/search?q=invoice"),
        ("reports (this month)", "/reports"),
        ("live operations", "/ops"),
        ("team admin", "/admin/team"),
        ("macros", "/macros"),
        ("contact form (portal)", "/contact"),
        ("help center", "/help/en"),
    ]
    if org:
        pages.insert(7, ("organization page", f"/organizations/{org}"))
    if groups:
        pages.insert(3, ("views: group queue", f"/views/group-{groups[0]['id']}"))
    rows = []
    for name, path in pages:
        times = []
        status = None
        t_end = time.monotonic() + a.max_seconds
        for i in range(a.runs + 1):
            r, _ = req("GET", path, headers={"Cookie": cookie})
            status = r.status
            st = r.getheader("Server-Timing") or ""
            m = re.search(r"app;dur=([0-9.]+)", st)
            if i > 0 and m:
                times.append(float(m.group(1)))
            if time.monotonic() > t_end:
                break
        if not times:
            rows.append({"page": name, "path": path, "status": status, "error": "no Server-Timing"})
            continue
        times.sort()
        row = {
            "page": name,
            "path": path,
            "status": status,
            "n": len(times),
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2),
            "max_ms": round(times[-1], 2),
            "label": a.label,
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print(f"| page {a.label} | status | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['page']} (`{r['path']}`) | {r['status']} | – | – | {r['error']} |")
        else:
            print(f"| {r['page']} (`{r['path']}`) | {r['status']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |")


if __name__ == "__main__":
    main()

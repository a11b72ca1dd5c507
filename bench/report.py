#!/usr/bin/env python3
"""Markdown report of one bench/run.sh run: report.py BENCH_OUT > results.md

Reads BENCH_OUT/results.tsv (one row per measurement; a re-measured suite/workload keeps its
last row), BENCH_OUT/meta.tsv (seed times, memory, settings) and BENCH_OUT/env.txt. A run with
any non-2xx response or socket error is shown as FAILED, never as a figure. Ratios are against
the baselines measured in the same run.
"""
import csv
import os
import sys

WORKLOADS = {
    "W1": "GET /organizations/{org_x} as a member",
    "W2": "GET /organizations as the owner (20 organizations)",
    "W3": "GET /organizations/{big_org}/members?limit=100 as a member (1,000 members)",
    "W4": "GET /organizations/{big_org}/members/{user} as a member, cycling over 100 members",
    "W5": "POST /organizations, a unique name per request, as the owner",
    "W6": "PATCH /organizations/{big_org}/members/{user} flipping admin/member, as the owner",
    "W7": "POST /auth/login as the owner (argon2id verification)",
}
BASELINES = {
    "B0": "axum hello JSON",
    "B1": "axum + one SQLite primary-key lookup, 1M rows",
    "B2": "pgbench -S -M prepared (tps), same PostgreSQL cluster",
}
SIZES = {"small": "1,000 orgs x 10", "large": "50,000 orgs x 20"}
P99_MAX_MS = 5.0
MB = 1024.0


def load(out):
    rows = {}
    with open(os.path.join(out, "results.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows[(r["suite"], r["workload"])] = r
    meta = {}
    p = os.path.join(out, "meta.tsv")
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                meta[k] = v
    env = []
    p = os.path.join(out, "env.txt")
    if os.path.exists(p):
        env = [line.rstrip("\n") for line in open(p) if line.strip()]
    return rows, meta, env


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def failed(r):
    """None when clean, else a short reason."""
    if num(r.get("req_s")) is None:
        return "no result"
    bad = []
    if r["non2xx"] not in ("0", ""):
        what = "failed transactions" if "pgbench" in r["workload"] else "non-2xx"
        bad.append(f"{r['non2xx']} {what}")
    if r["sock_err"] not in ("0", ""):
        bad.append(f"{r['sock_err']} socket errors")
    return ", ".join(bad) or None


def fmt_rate(r):
    why = failed(r)
    return f"FAILED ({why})" if why else f"{num(r['req_s']):,.0f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def mb(kb):
    v = num(kb)
    return f"{v / MB:.1f}" if v is not None else "-"


def main():
    out = sys.argv[1]
    rows, meta, env = load(out)
    base = {w.split("_")[0]: r for (s, w), r in rows.items() if s == "baseline"}

    def base_rps(key):
        r = base.get(key)
        return num(r["req_s"]) if r and not failed(r) else None

    hello, lookup, pgb = base_rps("B0"), base_rps("B1"), base_rps("B2")
    p = print
    p("# orgd benchmark results")
    p()
    p("Produced by `bench/run.sh`" + (" in quick mode (`BENCH_QUICK=1`): a smoke test, not a measurement."
                                      if meta.get("quick") == "1" else "."))
    p("Method and targets: `docs/performance.md`.")
    p()
    for line in env:
        p(f"- {line}")
    if "settings" in meta:
        p(f"- {meta['settings']}")
    if "orgd_env" in meta:
        p(f"- orgd serve environment: `{meta['orgd_env']}`")
    p()

    p("## Baselines (same run, same load generator and pinning)")
    p()
    p("| baseline | what | req/s | p50 ms | p99 ms | foreign CPU % |")
    p("|---|---|---:|---:|---:|---:|")
    for key in sorted(base):
        r = base[key]
        p(f"| {r['workload']} | {BASELINES.get(key, '')} | {fmt_rate(r)} | {r['p50_ms']} | {r['p99_ms']} "
          f"| {r['foreign_cpu_pct']} |")
    p()

    p("## orgd")
    p()
    p("req/s is the wrk figure; a run with any non-2xx response or socket error is FAILED. "
      "x lookup = req/s / B1, x hello = req/s / B0, x pgbench = req/s / B2 (PostgreSQL W1 only).")
    p()
    p("| engine | size | workload | req/s | p50 ms | p99 ms | x lookup | x hello | x pgbench | foreign CPU % |")
    p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    orgd = [(s, w, r) for (s, w), r in rows.items() if s != "baseline"]
    for s, w, r in orgd:
        engine, _, size = s.partition("-")
        rps = None if failed(r) else num(r["req_s"])
        x_pg = ratio(rps, pgb) if engine == "postgres" and w.startswith("W1") else ""
        p(f"| {engine} | {size} | {w} | {fmt_rate(r)} | {r['p50_ms']} | {r['p99_ms']} | {ratio(rps, lookup)} "
          f"| {ratio(rps, hello)} | {x_pg} | {r['foreign_cpu_pct']} |")
    p()
    for k, v in WORKLOADS.items():
        p(f"- {k}: {v}")
    p()

    suites = sorted({s for s, _, _ in orgd}, key=lambda s: (s.split("-")[0] != "sqlite", s.split("-")[1] != "small"))
    p("## Seeding and memory")
    p()
    p("Seed time: wall time of `orgd admin seed` (includes migrations and one argon2 hash). Memory: VmRSS of "
      "the `orgd serve` process idle after start, right after W1, after all workloads (+2 s), and its peak "
      "(VmHWM).")
    p()
    p("| engine | size | memberships | seed s | RSS idle MB | RSS after W1 MB | RSS after all MB | peak RSS MB |")
    p("|---|---|---:|---:|---:|---:|---:|---:|")
    for s in suites:
        engine, _, size = s.partition("-")
        p(f"| {engine} | {size} ({SIZES.get(size, '')}) | {meta.get(s + '.memberships', '-')} "
          f"| {meta.get(s + '.seed_secs', '-')} | {mb(meta.get(s + '.rss_idle_kb'))} "
          f"| {mb(meta.get(s + '.rss_after_W1_kb'))} | {mb(meta.get(s + '.rss_after_kb'))} "
          f"| {mb(meta.get(s + '.rss_peak_kb'))} |")
    p()

    p("RSS after each workload (MB):")
    p()
    for s in suites:
        steps = [f"{wl} {mb(meta[f'{s}.rss_after_{wl}_kb'])}" for wl in WORKLOADS if f"{s}.rss_after_{wl}_kb" in meta]
        if steps:
            p(f"- {s}: idle {mb(meta.get(s + '.rss_idle_kb'))}, " + ", ".join(steps))
    p()

    p("## Targets")
    p()
    p("| target | where | measured | verdict |")
    p("|---|---|---:|---|")

    def verdict(ok):
        return "-" if ok is None else ("met" if ok else "**missed**")

    def get(s, prefix):
        for (ss, w), r in rows.items():
            if ss == s and w.startswith(prefix + "_"):
                return r
        return None

    for s in suites:
        for wl, need in (("W1", 0.8), ("W4", 0.8), ("W2", 0.4), ("W3", 0.4)):
            r = get(s, wl)
            if not r:
                continue
            rps = None if failed(r) else num(r["req_s"])
            x = rps / lookup if rps is not None and lookup else None
            p(f"| {wl} >= {need}x SQLite lookup | {s} | {'FAILED' if failed(r) else ratio(rps, lookup)} "
              f"| {verdict(None if x is None else x >= need)} |")
    for s in suites:
        r = get(s, "W1")
        if s.startswith("postgres") and r:
            rps = None if failed(r) else num(r["req_s"])
            p(f"| W1 >= 0.8x pgbench -S | {s} | {ratio(rps, pgb)} "
              f"| {verdict(None if rps is None or not pgb else rps / pgb >= 0.8)} |")
    for s in suites:
        for (ss, w), r in rows.items():
            if ss != s:
                continue
            p99 = num(r["p99_ms"])
            p(f"| p99 <= {P99_MAX_MS:g} ms at {os.environ.get('BENCH_CONNS', '64')} connections | {s} {w.split('_')[0]} "
              f"| {r['p99_ms']} ms | {verdict(None if p99 is None or failed(r) else p99 <= P99_MAX_MS)} |")
    engines = sorted({s.split("-")[0] for s in suites}, key=lambda e: e != "sqlite")
    for e in engines:
        if f"{e}-small" not in suites or f"{e}-large" not in suites:
            continue
        for wl in WORKLOADS:
            a, b = get(f"{e}-small", wl), get(f"{e}-large", wl)
            if not a or not b or failed(a) or failed(b):
                continue
            loss = 1 - num(b["req_s"]) / num(a["req_s"])
            shown = f"{loss * 100:.0f}% slower" if loss >= 0 else f"{-loss * 100:.0f}% faster"
            p(f"| <= 20% loss small -> large | {e} {wl} | {shown} | {verdict(loss <= 0.20)} |")
    for s in suites:
        idle, w1 = num(meta.get(s + ".rss_idle_kb")), num(meta.get(s + ".rss_after_W1_kb"))
        if idle is not None:
            p(f"| RSS idle <= 50 MB | {s} | {idle / MB:.1f} MB | {verdict(idle / MB <= 50)} |")
        if w1 is not None:
            p(f"| RSS under W1 <= 150 MB | {s} | {w1 / MB:.1f} MB | {verdict(w1 / MB <= 150)} |")


if __name__ == "__main__":
    main()

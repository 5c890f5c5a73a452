#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns the results.tsv that bench/run.sh writes (METRIC<TAB>PROXY<TAB>VALUE lines) into the
comparison table: one row per metric, one column per proxy (with its ratio to `direct` where
direct has the metric; the median where a test ran repeatedly), wormhole's ratio to each anchor, the wormhole target and met/missed."""
import argparse
import sys

ANCHORS = ["socat", "haproxy", "proxyd"]

# key, label, decimals
METRICS = [
    ("tput_gbps", "throughput, 1 stream (Gbit/s)", 2),
    ("cpu_s_per_gb", "proxy CPU s per GB", 3),
    ("conn_rate", "new connections/s (wrk, Connection: close)", 0),
    ("conn_p50_us", "  new-conn request latency p50 (µs)", 0),
    ("conn_p99_us", "  new-conn request latency p99 (µs)", 0),
    ("conn_errors", "  new-conn wrk errors", 0),
    ("cpu_us_per_conn", "proxy CPU µs per new connection", 1),
    ("ka_rate", "keep-alive requests/s", 0),
    ("ka_p50_us", "  keep-alive latency p50 (µs)", 0),
    ("ka_p99_us", "  keep-alive latency p99 (µs)", 0),
    ("cpu_us_per_req", "proxy CPU µs per keep-alive request", 1),
    ("rtt_p50_us", "1-byte RTT p50 (µs)", 1),
    ("rtt_p99_us", "1-byte RTT p99 (µs)", 1),
    ("pss_kb_per_conn_1000", "PSS kB per idle conn, 1000 held", 2),
    ("fds_per_conn_1000", "fds per idle conn, 1000 held", 2),
    ("failed_1000", "failed/refused of 1000", 0),
    ("pss_kb_per_conn_9000", "PSS kB per idle conn, 9000 held", 2),
    ("fds_per_conn_9000", "fds per idle conn, 9000 held", 2),
    ("failed_9000", "failed/refused of 9000", 0),
]


def fmt(v, d):
    if v is None:
        return "-"
    return f"{v:.{d}f}"


def targets(r):
    """(metric -> (target text, met: True/False/None))"""
    w = lambda k: r.get(k, {}).get("wormhole")
    out = {}
    t = w("tput_gbps")
    pd, hp = r.get("tput_gbps", {}).get("proxyd"), r.get("tput_gbps", {}).get("haproxy")
    if t is not None and pd and hp:
        out["tput_gbps"] = (">= 1.0x proxyd, >= 1.15x haproxy", t >= pd and t >= 1.15 * hp)
    else:
        out["tput_gbps"] = (">= 1.0x proxyd, >= 1.15x haproxy", None)
    simple = [
        ("cpu_s_per_gb", "<= 0.40", lambda v: v <= 0.40),
        ("cpu_us_per_conn", "<= 80", lambda v: v <= 80),
        ("cpu_us_per_req", "<= 17", lambda v: v <= 17),
        ("rtt_p50_us", "<= 125", lambda v: v <= 125),
        ("pss_kb_per_conn_9000", "<= 3", lambda v: v <= 3),
        ("fds_per_conn_9000", "== 2", lambda v: abs(v - 2) < 0.005),
        ("failed_9000", "== 0", lambda v: v == 0),
    ]
    for k, text, ok in simple:
        v = w(k)
        out[k] = (text, None if v is None else ok(v))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--markdown")
    ap.add_argument("--proxies", default="direct wormhole socat haproxy proxyd")
    a = ap.parse_args()
    proxies = a.proxies.split()
    r = {}
    raw = {}
    for line in open(a.results):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3 or parts[2] == "":
            continue
        try:
            raw.setdefault(parts[0], {}).setdefault(parts[1], []).append(float(parts[2]))
        except ValueError:
            pass
    # Repeated runs: the median (the upper one of an even count's middle pair).
    for k, per in raw.items():
        for p, vs in per.items():
            vs.sort()
            r.setdefault(k, {})[p] = vs[len(vs) // 2]
    tg = targets(r)
    anchors = [p for p in ANCHORS if p in proxies]
    head = ["metric"] + proxies
    if "wormhole" in proxies:
        head += [f"wormhole/{p}" for p in anchors] + ["wormhole target", "met?"]
    rows = []
    for k, label, d in METRICS:
        vals = r.get(k, {})
        if not vals:
            continue
        row = [label]
        direct = vals.get("direct")
        for p in proxies:
            v = vals.get(p)
            cell = fmt(v, d)
            if v is not None and p != "direct" and direct:
                cell += f" ({v / direct:.2f}x)"
            row.append(cell)
        if "wormhole" in proxies:
            wv = vals.get("wormhole")
            for p in anchors:
                av = vals.get(p)
                row.append(f"{wv / av:.2f}x" if wv is not None and av else "-")
            text, met = tg.get(k, ("", None))
            row.append(text)
            row.append("" if k not in tg else ("n/a" if met is None else ("met" if met else "MISSED")))
        rows.append(row)
    widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()

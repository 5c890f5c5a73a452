#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docker-table.py - the result table of bench/docker.sh

Reads the three TSV files docker.sh writes (wrk runs through the docker-ns and url tails; trigger
runs; baseline API runs) and prints one table: metric, value, target, met?. Medians throughout;
p90 is nearest-rank. Times in the trigger files are CLOCK_REALTIME nanoseconds.
"""
import argparse
import csv
import math
import statistics
import sys


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(v):
    return statistics.median(v) if v else None


def p90(v):
    if not v:
        return None
    s = sorted(v)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{nd}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wrk")
    ap.add_argument("trigger")
    ap.add_argument("baseline")
    ap.add_argument("--dur", default="?")
    ap.add_argument("--markdown")
    a = ap.parse_args()

    table = []  # (metric, value, target, met)

    def add(metric, value, target="", met=""):
        table.append((metric, value, target, met))

    # ---- docker-ns against url -----------------------------------------------------------
    w = rows(a.wrk)
    by = {"docker-ns": {}, "url": {}}
    for r in w:
        by[r["seg"]][int(r["rep"])] = r
    reps = sorted(set(by["docker-ns"]) & set(by["url"]))
    ratios = [float(by["docker-ns"][i]["rate"]) / float(by["url"][i]["rate"]) for i in reps]
    ratio = med(ratios)

    def col(seg, key):
        return med([float(r[key]) for r in by[seg].values()])

    if reps:
        ns_rows(add, by, reps, ratios, ratio, col)

    t = [r for r in rows(a.trigger) if int(r["listen_ns"]) > 0]
    if t:
        trigger_rows(add, t)
    b = rows(a.baseline)
    if b:
        baseline_rows(add, b, t)

    hdr = ("metric", "value", "target", "met?")
    widths = [max(len(str(x[i])) for x in table + [hdr]) for i in range(4)]
    line = lambda x: "| " + " | ".join(str(c).ljust(widths[i]) for i, c in enumerate(x)) + " |"  # noqa: E731
    out = [line(hdr), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(x) for x in table]
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)


def ns_rows(add, by, reps, ratios, ratio, col):
    for seg in ("url", "docker-ns"):
        add(f"new conn/s via {seg} tail (wrk, Connection: close)", fmt(col(seg, "rate"), 0))
    add(
        "  ratio docker-ns/url (median of %d alternations: %s)"
        % (len(reps), " ".join(f"{x:.3f}" for x in ratios)),
        fmt(ratio, 3),
        ">= 0.95",
        "-" if ratio is None else ("met" if ratio >= 0.95 else "MISSED"),
    )
    for seg in ("url", "docker-ns"):
        add(f"  request latency p50 / p99 via {seg} (µs)",
            f"{fmt(col(seg, 'p50_us'), 0)} / {fmt(col(seg, 'p99_us'), 0)}")
    for seg in ("url", "docker-ns"):
        add(f"  wormholed CPU µs per connection via {seg}", fmt(col(seg, "cpu_us_per_conn")))
    errs = sum(int(r["errors"]) for s in by.values() for r in s.values())
    add("  wrk errors (all runs)", str(errs))


def ms(r, k0, k1):
    return (int(r[k1]) - int(r[k0])) / 1e6


def trigger_rows(add, t):
    over = [ms(r, "listen_ns", "first_byte_ns") for r in t]
    total = [ms(r, "connect_ns", "first_byte_ns") for r in t]
    om = med(over)
    add(f"trigger docker-run: overhead = first reply byte - container listening, median of {len(t)} (ms)",
        fmt(om), "<= 50", "-" if om is None else ("met" if om <= 50 else "MISSED"))
    add("  overhead p90 / min / max (ms)",
        f"{fmt(p90(over))} / {fmt(min(over) if over else None)} / {fmt(max(over) if over else None)}")
    add("  first connection -> first reply byte, median / p90 (ms)", f"{fmt(med(total))} / {fmt(p90(total))}")
    add("  first connection -> container listening, median (ms)",
        fmt(med([ms(r, "connect_ns", "listen_ns") for r in t])))
    add("  timeline, median ms after the client's connect():", "")
    steps = [
        ("log 'first connection, running the trigger'", "trigger_log_ns"),
        ("container Created (Engine API)", "created_ns"),
        ("container StartedAt (Engine API)", "started_ns"),
        ("wh-echo listening (--stamp)", "listen_ns"),
        ("log 'started container' (create+start+inspect answered)", "started_log_ns"),
        ("first reply byte at the client", "first_byte_ns"),
    ]
    for name, key in steps:
        v = [ms(r, "connect_ns", key) for r in t if int(r[key]) > 0]
        add(f"    {name}", fmt(med(v)))
    add("  steps, median (ms):", "")
    pairs = [
        ("running the trigger -> Created", "trigger_log_ns", "created_ns"),
        ("Created -> StartedAt", "created_ns", "started_ns"),
        ("StartedAt -> listening", "started_ns", "listen_ns"),
        ("listening -> log 'started container'", "listen_ns", "started_log_ns"),
        ("StartedAt -> log 'started container'", "started_ns", "started_log_ns"),
        ("log 'started container' -> first reply byte", "started_log_ns", "first_byte_ns"),
    ]
    for name, k0, k1 in pairs:
        v = [ms(r, k0, k1) for r in t if int(r[k0]) > 0 and int(r[k1]) > 0]
        add(f"    {name}", f"{fmt(med(v))} (p90 {fmt(p90(v))})")
    st = [r for r in t if r["attempts"] not in ("-", "")]
    if st:
        add("  connector: connect() attempts to the container, median / max (strace)",
            f"{fmt(med([int(r['attempts']) for r in st]), 0)} / {max(int(r['attempts']) for r in st)}")
        ok = [r for r in st if r["last_attempt_ns"] != "-"]
        v = [ms(r, "listen_ns", "last_attempt_ns") for r in ok]
        add("    listening -> last (successful) connect(), median / p90 (ms)", f"{fmt(med(v))} / {fmt(p90(v))}")
        v = [ms(r, "started_log_ns", "first_attempt_ns") for r in ok]
        add("    log 'started container' -> first connect(), median / p90 (ms)", f"{fmt(med(v))} / {fmt(p90(v))}")


def baseline_rows(add, b, t):
    add(f"baseline: same container via the Engine API (curl create+start), median of {len(b)} (ms):", "")
    add("    create request -> listening", fmt(med([ms(r, "create_req_ns", "listen_ns") for r in b])))
    add("    create call / start call",
        f"{fmt(med([ms(r, 'create_req_ns', 'create_resp_ns') for r in b]))} / "
        f"{fmt(med([ms(r, 'create_resp_ns', 'start_resp_ns') for r in b]))}")
    add("    create request -> Created / Created -> StartedAt / StartedAt -> listening",
        f"{fmt(med([ms(r, 'create_req_ns', 'created_ns') for r in b]))} / "
        f"{fmt(med([ms(r, 'created_ns', 'started_ns') for r in b]))} / "
        f"{fmt(med([ms(r, 'started_ns', 'listen_ns') for r in b]))}")
    if t:
        add("  trigger: running the trigger -> listening (same span through wormholed)",
            fmt(med([ms(r, "trigger_log_ns", "listen_ns") for r in t if int(r["trigger_log_ns"]) > 0])))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Report of bench/cost (Python stdlib only).

    cost_report.py DIR

Reads DIR/runs.tsv (and idle.tsv, late.tsv, bpf-cost.txt, machine.txt when
there) and writes DIR/table.md (the cost table), DIR/added-cpu.svg (added
CPU per request against the rate, log x axis) and DIR/summary.md (the
conditions, the table, saturation, idle, lateness, the programs' run time
by the kernel's accounting and per-packet costs).

Per run: machine CPU per request = the non-idle time of all CPUs over
loadgen's run (window x CPUs - idle - iowait, /proc/stat: idle time is
measured at idle entry and exit) / requests sent; the busy jiffies
(user+nice+system+irq+softirq, sampled at each scheduler tick) the same way,
as a cross-check: on a tick-accounting kernel in a VM they can miss most of
the time (bench/out: busy jiffies below loadgen's own CPU alone). loadgen's
own CPU (getrusage) per request too. Added CPU per request = hedge up - hedge
down of the same repetition (the two ran one after the other): the median
over repetitions, and their range.
"""

import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import MT, Plot, escape  # noqa: E402  (bench/report.py's plot)

COLOURS = {"answered": "#1f77b4", "stall": "#d62728"}
LOSS_MAX_PCT = 1.0
Y_CAP = 50.0            # µs: the plot's scale ignores medians beyond it


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(v, default=0.0):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def per_run(r):
    sent = max(num(r["sent"]), 1.0)
    planned = max(num(r["planned"]), 1.0)
    return {
        "cpu": num(r["nonidle_s"]) * 1e6 / sent,
        "jiffies": num(r["busy_s"]) * 1e6 / sent,
        "nonidle": num(r["nonidle_s"]) * 1e6 / sent,
        "gen": num(r["gen_cpu_s"]) * 1e6 / sent,
        "loss": (planned - num(r["sent"]) + num(r["lost"])) / planned * 100,
        "rate": num(r["send_rate"]),
        "wake": num(r["ticks"]) / max(num(r["run_s"]), 1e-9),
        "hedges": num(r["hedges_sent"]) / max(num(r["run_s"]), 1e-9),
        "bg": num(r["bg_cpu"]),
        "drops": num(r["srv_drops"]),
        "evicted": num(r["evicted"]),
        "dups": num(r["duplicates"]),
    }


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs, fmt="%+.2f"):
    xs = [x for x in xs if x == x]      # no NaN
    if not xs:
        return "-"
    if len(xs) == 1:
        return "**" + fmt % xs[0] + "**"
    return "**%s** [%s, %s]" % (fmt % med(xs), fmt % min(xs), fmt % max(xs))


def load_cells(runs):
    """{(workload, rate): {"down": {rep: m}, "up": {rep: m}}}"""
    cells = {}
    for r in runs:
        if r["part"] != "load":
            continue
        key = (r["workload"], int(r["rate"]))
        cells.setdefault(key, {"down": {}, "up": {}})[r["mode"]][
            r["rep"]] = per_run(r)
    return cells


def added(cell, field):
    reps = sorted(set(cell["down"]) & set(cell["up"]))
    return [cell["up"][k][field] - cell["down"][k][field] for k in reps]


def mean(ms, field):
    xs = [m[field] for m in ms.values() if m[field] == m[field]]
    return sum(xs) / len(xs) if xs else float("nan")


def table(cells):
    head = ("| workload | rate (/s) | achieved down / up (/s) | lost or unsent "
            "down / up (%) | machine CPU down (µs/req) | up (µs/req) | "
            "**added: up − down** (µs/req) | loadgen's own CPU down / up "
            "(µs/req) | added, loadgen's own CPU taken out (µs/req) | added, "
            "busy jiffies (µs/req) | tick wake-ups/s | hedges/s | busy CPUs "
            "before the run (noise) |")
    rows = [head, "|---|" + "---:|" * 12]
    for (wl, rate) in sorted(cells, key=lambda k: (k[0], k[1])):
        c = cells[(wl, rate)]
        if not c["down"] or not c["up"]:
            continue
        rest = [a - g for a, g in zip(added(c, "cpu"), added(c, "gen"))]
        bg = [m["bg"] for ms in c.values() for m in ms.values()]
        rows.append(
            "| %s | %d | %.0f / %.0f | %.2f / %.2f | %.2f | %.2f | %s | "
            "%.2f / %.2f | %s | %s | %.0f | %.0f | "
            "%.2f [%.2f, %.2f] |" % (
                wl, rate, mean(c["down"], "rate"), mean(c["up"], "rate"),
                mean(c["down"], "loss"), mean(c["up"], "loss"),
                mean(c["down"], "cpu"), mean(c["up"], "cpu"),
                spread(added(c, "cpu")),
                mean(c["down"], "gen"), mean(c["up"], "gen"),
                spread(rest), spread(added(c, "jiffies")),
                mean(c["up"], "wake"), mean(c["up"], "hedges"),
                med(bg), min(bg), max(bg)))
    return "\n".join(rows) + "\n"


PROGS = ("splitter", "watcher", "ticker", "rescuer")


def kernel(runs):
    """Part k: hedge's programs' run time per request sent, by the kernel's
    accounting (kernel.bpf_stats_enabled): the median over repetitions of
    each program's and of their sum, per workload and rate. Markdown lines,
    none if part k did not run."""
    cells = {}
    for r in runs:
        if r.get("part") != "kern":
            continue
        sent = num(r["sent"])
        ns = [num(r.get(p + "_ns"), float("nan")) for p in PROGS]
        if sent <= 0 or any(x != x for x in ns[:3]):
            continue        # not counted (stats off, a program unknown)
        ns[3] = 0.0 if ns[3] != ns[3] else ns[3]    # no hedge: no Rescuer run
        per = [x / sent for x in ns]
        cells.setdefault((r["workload"], int(r["rate"])), []).append(
            per + [sum(per)])
    if not cells:
        return []
    md = ["## Hedge's programs per request, by the kernel's accounting "
          "(part k)", "",
          "| workload | rate (/s) | all four (µs/req) | Splitter (ns/req) | "
          "watcher | ticker | Rescuer | runs |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (wl, rate), rows in sorted(cells.items()):
        m = [med([row[i] for row in rows]) for i in range(5)]
        tot = [row[4] for row in rows]
        md.append("| %s | %d | **%.2f** [%.2f, %.2f] | %.0f | %.0f | %.0f | "
                  "%.0f | %d |" % (wl, rate, m[4] / 1000, min(tot) / 1000,
                                   max(tot) / 1000, m[0], m[1], m[2], m[3],
                                   len(rows)))
    md += ["", "Each program's run_time_ns over the run (hedge status "
           "--json, kernel.bpf_stats_enabled on) / requests sent: median "
           "[min, max] over repetitions for the sum, medians for each. "
           "Kernel time outside the programs (the tick's timer and "
           "softirq, the hedges' sending) is not in it.", ""]
    return md


def saturation(runs):
    """Per repetition and mode: the highest rate with < 1% lost or
    unsent, and what was tried ({rep: {mode: best}}, {rep: {mode: {rate:
    ok}}}). A rate holds if every run of it in that repetition held."""
    part = "sat" if any(r["part"] == "sat" for r in runs) else "load"
    best, tried = {}, {}
    for r in runs:
        if r["part"] != part or r["workload"] != "answered":
            continue
        rep = int(r["rep"]) if part == "sat" else 1
        rate, mode = int(r["rate"]), r["mode"]
        ok = per_run(r)["loss"] < LOSS_MAX_PCT
        t = tried.setdefault(rep, {}).setdefault(mode, {})
        t[rate] = t.get(rate, True) and ok
    # The rate held up to the first that failed: one held above a failure
    # (near saturation the server's queue either drains or stays full,
    # run by run) is luck, not capacity.
    for rep, modes in tried.items():
        for mode, t in modes.items():
            held = None
            for rate in sorted(t):
                if not t[rate]:
                    break
                held = rate
            best.setdefault(rep, {})[mode] = held
    return part, best, tried


def plot(cells):
    series = {}
    for (wl, rate), c in cells.items():
        for field, what in (("cpu", "non-idle"), ("jiffies", "busy jiffies")):
            a = [x for x in added(c, field) if x == x]
            if a:
                series.setdefault((wl, what), []).append(
                    (rate, med(a), min(a), max(a)))
    if not series:
        return None
    rates = [p[0] for s in series.values() for p in s]
    # The scale follows the non-idle medians up to Y_CAP µs: one noisy
    # rate (hundreds of µs at 1 000/s on a shared host) would flatten the
    # rest; what lies beyond is clipped, its median marked at the edge.
    ys = [p[1] for (_, what), s in series.items() if what == "non-idle"
          for p in s if abs(p[1]) <= Y_CAP] or [0.0]
    xlo, xhi = 10 ** len(str(int(min(rates)))) / 10, 1e6
    while xhi / 10 >= max(rates) * 1.5:
        xhi /= 10
    ylo, yhi = min(0.0, min(ys)), max(1.5, max(ys))
    ylo, yhi = ylo - (yhi - ylo) * 0.1, yhi + (yhi - ylo) * 0.1
    step = nice_step((yhi - ylo) / 8)
    ylo, yhi = step * int(ylo / step - (ylo < 0)), step * (int(yhi / step) + 1)
    p = Plot("Added CPU per request, hedge up − hedge down (tick line)",
             "requests per second (log scale)",
             "added CPU per request (µs)", xlo, xhi, ylo, yhi)
    p.x_axis_log()
    ticks, v = [], ylo
    while v <= yhi + step / 2:
        ticks.append(round(v, 6))
        v += step
    p.y_axis(ticks, lambda v: "%g" % v)
    p.hline(1.0, "target: 1 µs")
    if ylo < 0:
        p.hline(0.0, "0")
    for (wl, what), pts in sorted(series.items()):
        pts.sort()
        colour = COLOURS.get(wl, "#2ca02c")
        p.out.append('<polyline clip-path="url(#plot)" fill="none" '
                     'stroke="%s" stroke-width="2" %spoints="%s"/>' % (
                         colour, 'stroke-dasharray="6,4" '
                         if what != "non-idle" else "", " ".join(
                             "%.1f,%.1f" % (p.x(x), p.y(m))
                             for x, m, _, _ in pts)))
        for x, m, lo, hi in pts:
            px = p.x(x)
            p.out.append('<line clip-path="url(#plot)" x1="%.1f" y1="%.1f" '
                         'x2="%.1f" y2="%.1f" stroke="%s"/>' % (
                             px, p.y(lo), px, p.y(hi), colour))
            ym = min(max(m, ylo), yhi)
            if ym != m:
                p.out.append('<text x="%.1f" y="%.1f" text-anchor="middle" '
                             'font-size="10" fill="%s">%+.0f µs</text>' % (
                                 px + 4, p.y(ym) + (12 if m > yhi else -8),
                                 colour, m))
            p.out.append('<%s cx="%.1f" cy="%.1f" r="4" fill="%s"%s>'
                         '<title>%s</title></%s>' % (
                             "circle", px, p.y(ym),
                             colour if what == "non-idle" else "white",
                             "" if what == "non-idle" else
                             ' stroke="%s" stroke-width="2"' % colour,
                             escape("%s, %s CPU, %d/s: %+.2f µs [%+.2f, "
                                    "%+.2f]" % (wl, what, x, m, lo, hi)),
                             "circle"))
    p.frame()
    p.legend([("%s, %s CPU (%s)" % (wl, what, "solid" if what == "non-idle"
                                     else "dashed"),
               COLOURS.get(wl, "#2ca02c")) for wl, what in sorted(series)])
    # At the top right, not bottom right (report.py's place), where the
    # high rates' points near 0 would be under it.
    for i in range(len(p.out) - 1, -1, -1):
        if p.out[i].startswith('<rect') and 'fill-opacity="0.9"' in p.out[i]:
            break
    shift = MT + 10 - int(p.out[i].split('y="')[1].split('"')[0])
    p.out[i:] = ['<g transform="translate(0 %d)">' % shift] + p.out[i:] + \
        ["</g>"]
    return p.svg()


def nice_step(raw):
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    while mag > raw:
        mag /= 10
    for m in (1, 2, 5, 10):
        if mag * m >= raw:
            return mag * m
    return mag * 10


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: cost_report.py DIR")
    d = sys.argv[1]
    runs = read_tsv(os.path.join(d, "runs.tsv"))
    cells = load_cells(runs)
    md = ["# hedge: CPU cost of hedging (bench/cost)", ""]
    mpath = os.path.join(d, "machine.txt")
    if os.path.exists(mpath):
        md += ["- " + l.rstrip() for l in open(mpath)] + [""]
    if cells:
        t = table(cells)
        with open(os.path.join(d, "table.md"), "w") as f:
            f.write(t)
        md += [t, "Machine CPU = non-idle time of all CPUs over loadgen's run"
               " (window × CPUs − measured idle, /proc/stat) / requests sent;"
               " added = up − down of the same repetition: median [min, max]."
               " Busy jiffies: the same from /proc/stat's tick-sampled busy"
               " columns (user+nice+system+irq+softirq), a cross-check. Busy"
               " CPUs before the run: the machine's busy jiffies in the 1 s"
               " before each run, nothing sent (the other tenants), in CPUs:"
               " median [min, max].", ""]
        svg = plot(cells)
        if svg:
            with open(os.path.join(d, "added-cpu.svg"), "w") as f:
                f.write(svg)
            md += ["Plot: added-cpu.svg", ""]
        notes = []
        for (wl, rate), c in sorted(cells.items()):
            for mode, ms in c.items():
                for rep, m in sorted(ms.items()):
                    if m["loss"] >= LOSS_MAX_PCT:
                        notes.append("- %s %d/s hedge %s rep %s: %.1f%% lost"
                                     " or unsent (achieved %.0f/s, server "
                                     "drops %d)" % (wl, rate, mode, rep,
                                                    m["loss"], m["rate"],
                                                    m["drops"]))
                    if m["dups"] > 0:
                        notes.append("- %s %d/s hedge %s rep %s: %d duplicate"
                                     " responses reached loadgen" % (
                                         wl, rate, mode, rep, m["dups"]))
                    if m["evicted"] > 0:
                        notes.append("- %s %d/s hedge %s rep %s: %d evicted "
                                     "from the Scoreboard" % (
                                         wl, rate, mode, rep, m["evicted"]))
        if notes:
            md += ["Notes:"] + notes + [""]
    part, best, tried = saturation(runs)
    if tried:
        md += ["## Saturation (answered workload, %s runs)" % part, ""]
        ratios = []
        for rep in sorted(tried):
            for mode in ("down", "up"):
                t = tried[rep].get(mode, {})
                md.append("- rep %d, hedge %s: held (< 1%% lost or unsent) "
                          "up to **%s**/s (tried: %s)" % (
                              rep, mode, best[rep].get(mode),
                              ", ".join("%d %s" % (r, "ok" if ok else
                                                   "failed")
                                        for r, ok in sorted(t.items()))))
            down, up = best[rep].get("down"), best[rep].get("up")
            if down and up:
                ratios.append(100.0 * up / down)
                md.append("- rep %d: up / down = %.0f%%" % (rep, ratios[-1]))
        if ratios:
            md.append("- **up / down, median of %d: %.0f%%** [%.0f%%, "
                      "%.0f%%] (target ≥ 95%%)" % (
                          len(ratios), med(ratios), min(ratios),
                          max(ratios)))
        md.append("")
    idle = read_tsv(os.path.join(d, "idle.tsv"))
    if idle:
        md += ["## Idle, then one request that needs its hedge", "",
               "| rep | idle (s) | ticks while idle | wake-ups/s | hedges "
               "sent | early | hedge late by (µs, histogram max) |",
               "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in idle:
            md.append("| %s | %s | %s | %.2f | %s | %s | %s |" % (
                r["rep"], r["idle_s"], r["ticks"],
                num(r["ticks"]) / max(num(r["idle_s"]), 1), r["hedges"],
                r["early"], r["late_max_us"]))
        md.append("")
    late = read_tsv(os.path.join(d, "late.tsv"))
    if late:
        md += ["## Hedge lateness, every request hedged, 10 000/s, delay "
               "10 ms (100 in flight)", "",
               "| rep | sent | hedges | early | p50 (µs) | p99 (µs) | max "
               "(µs) | lost | duplicates |",
               "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in late:
            md.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["rep"], r["sent"], r["hedges"], r["early"],
                r["late_p50_us"], r["late_p99_us"], r["late_max_us"],
                r["lost"], r["duplicates"]))
        md.append("")
    md += kernel(runs)
    bpath = os.path.join(d, "bpf-cost.txt")
    if os.path.exists(bpath):
        md += ["## Per packet (bench/bpf-cost)", "", "```"] + [
            l.rstrip() for l in open(bpath)] + ["```", ""]
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Report of a hedge benchmark campaign (Python stdlib only).

    report.py --out DIR baseline=b.csv app-c=a.csv app-py=p.csv kernel=k.csv

Reads one CSV per method (id,latency_us,hedged,timed_out; a header line, if
any, is skipped), prints a Markdown table in the shape of the thesis's Table
4.2 with the P99 reduction against the first method, and writes into DIR:

    table.md      the same table
    summary.json  the figures of every method
    cdf.svg       CDF of latency, log x axis (thesis Figure 4.1)
    tail.svg      the tail, P90-P100 (thesis Figure 4.2)

Percentiles are nearest-rank (rank ceil(p/100 * n), 1-based), as in the
clients; timed-out requests count at their recorded latency (the timeout);
stdev uses the n - 1 denominator.
"""

import argparse
import json
import math
import os
import sys
from xml.sax.saxutils import escape

LABELS = {
    "baseline": "Baseline",
    "app-c": "App-Hedged (C)",
    "app-py": "App-Hedged (Python)",
    "kernel": "Kernel-Hedged",
    "kernel-netem": "Kernel-Hedged (netem line)",
    "kernel-tick": "Kernel-Hedged (tick line)",
}
COLOURS = {
    "baseline": "#d62728",
    "app-c": "#1f77b4",
    "app-py": "#ff7f0e",
    "kernel": "#2ca02c",
}
SPARE_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                 "#17becf")
PCTS = (("p50", 500), ("p95", 950), ("p99", 990), ("p999", 999))


def read_csv(path):
    """Returns (latencies in ms, number hedged, number timed out)."""
    lat, hedged, timeouts = [], 0, 0
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or not line[0].isdigit():
                continue            # blank or header
            fields = line.split(",")
            if len(fields) < 4:
                raise ValueError("%s:%d: expected 4 fields" % (path, lineno))
            lat.append(float(fields[1]) / 1000.0)
            hedged += int(fields[2])
            timeouts += int(fields[3])
    return lat, hedged, timeouts


def nearest_rank(sorted_vals, permille):
    rank = max(1, (permille * len(sorted_vals) + 999) // 1000)
    return sorted_vals[rank - 1]


def stats(lat):
    s = sorted(lat)
    n = len(s)
    out = {"n": n}
    if not n:
        return out
    for key, pm in PCTS:
        out[key + "_ms"] = nearest_rank(s, pm)
    mean = sum(s) / n
    out["max_ms"] = s[-1]
    out["min_ms"] = s[0]
    out["mean_ms"] = mean
    out["stdev_ms"] = (math.sqrt(sum((v - mean) ** 2 for v in s) / (n - 1))
                       if n > 1 else 0.0)
    return out


def markdown_table(methods):
    head = ("| Method | P50 (ms) | P95 (ms) | P99 (ms) | P99.9 (ms) "
            "| MAX (ms) | Mean (ms) | Stdev (ms) | P99 Reduction |")
    rows = [head, "|" + "---|" * 9]
    base = methods[0]["stats"].get("p99_ms")
    for m in methods:
        st = m["stats"]
        if not st["n"]:
            rows.append("| %s | (no data) |%s" % (m["label"], " - |" * 7))
            continue
        cells = ["%.2f" % st[k] for k in ("p50_ms", "p95_ms", "p99_ms",
                                           "p999_ms", "max_ms", "mean_ms",
                                           "stdev_ms")]
        red = m.get("p99_reduction_pct")
        cells.append("-" if m is methods[0] or red is None else
                     "%.1f%%" % red)
        rows.append("| %s | %s |" % (m["label"], " | ".join(cells)))
    return "\n".join(rows) + "\n"


# ---- SVG -------------------------------------------------------------------

W, H = 860, 540
ML, MR, MT, MB = 80, 30, 50, 70     # margins: plot area inside them


def fmt_ms(v):
    return ("%g" % v) if v >= 1 else ("%.2g" % v)


def log_range(lo, hi):
    lo = max(lo, 1e-3)
    hi = max(hi, lo * 10)
    return 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))


class Plot:
    def __init__(self, title, xlabel, ylabel, xlo, xhi, ylo, yhi):
        self.xlo, self.xhi, self.ylo, self.yhi = xlo, xhi, ylo, yhi
        self.pw, self.ph = W - ML - MR, H - MT - MB
        self.out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"'
            ' viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial,'
            ' sans-serif" font-size="13">' % (W, H, W, H),
            '<rect width="100%" height="100%" fill="white"/>',
            '<defs><clipPath id="plot"><rect x="%d" y="%d" width="%d"'
            ' height="%d"/></clipPath></defs>' % (ML, MT, self.pw, self.ph),
            '<text x="%d" y="%d" text-anchor="middle" font-size="16"'
            ' font-weight="bold">%s</text>' % (W // 2, MT - 20, escape(title)),
            '<text x="%d" y="%d" text-anchor="middle">%s</text>'
            % (ML + self.pw // 2, H - 20, escape(xlabel)),
            '<text x="20" y="%d" text-anchor="middle" transform="rotate(-90'
            ' 20 %d)">%s</text>' % (MT + self.ph // 2, MT + self.ph // 2,
                                    escape(ylabel)),
        ]

    def x(self, v):
        v = min(max(v, self.xlo), self.xhi)
        f = (math.log10(v) - math.log10(self.xlo)) / (
            math.log10(self.xhi) - math.log10(self.xlo))
        return ML + f * self.pw

    def y(self, v):
        f = (v - self.ylo) / (self.yhi - self.ylo)
        return MT + self.ph - f * self.ph

    def x_axis_log(self):
        o, y0 = self.out, MT + self.ph
        d = self.xlo
        while d <= self.xhi * 1.0001:
            for k in range(1, 10):
                v = d * k
                if v > self.xhi * 1.0001:
                    break
                px = self.x(v)
                major = k == 1
                o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"'
                         ' stroke="%s" stroke-width="1"/>'
                         % (px, MT, px, y0, "#cccccc" if major else "#eeeeee"))
                if major or k in (2, 5):
                    o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"'
                             ' stroke="black"/>' % (px, y0, px,
                                                    y0 + (6 if major else 4)))
                    o.append('<text x="%.1f" y="%d" text-anchor="middle"'
                             '%s>%s</text>' % (px, y0 + 20,
                                               "" if major else
                                               ' font-size="10" fill="#555"',
                                               fmt_ms(v)))
            d *= 10

    def y_axis(self, ticks, fmt):
        o = self.out
        for v in ticks:
            py = self.y(v)
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"'
                     ' stroke="#dddddd"/>' % (ML, py, ML + self.pw, py))
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"'
                     ' stroke="black"/>' % (ML - 6, py, ML, py))
            o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                     % (ML - 9, py + 4, fmt(v)))

    def hline(self, v, label):
        py = self.y(v)
        self.out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"'
                        ' stroke="#888" stroke-dasharray="5,4"/>'
                        % (ML, py, ML + self.pw, py))
        self.out.append('<text x="%d" y="%.1f" fill="#666" font-size="11">'
                        '%s</text>' % (ML + 6, py + 13, escape(label)))

    def step(self, sorted_vals, colour, from_frac=0.0):
        """Empirical CDF as a step line, from the fraction from_frac up;
        collinear points (in 0.1 px) are merged."""
        n = len(sorted_vals)
        raw = []
        prev = from_frac
        for i, v in enumerate(sorted_vals):
            frac = (i + 1) / n
            if frac < from_frac:
                continue
            px = round(self.x(v), 1)
            raw.append((px, round(self.y(prev), 1)))
            raw.append((px, round(self.y(frac), 1)))
            prev = frac
        pts = []
        for p in raw:
            if pts and p == pts[-1]:
                continue
            if len(pts) >= 2 and (pts[-2][0] == pts[-1][0] == p[0] or
                                  pts[-2][1] == pts[-1][1] == p[1]):
                pts[-1] = p
            else:
                pts.append(p)
        if not pts:
            return
        self.out.append('<polyline clip-path="url(#plot)" fill="none"'
                        ' stroke="%s" stroke-width="2" stroke-opacity="0.85"'
                        ' stroke-linejoin="round"'
                        ' points="%s"/>' % (colour, " ".join(
                            "%.1f,%.1f" % p for p in pts)))

    def legend(self, entries):
        lh = 20
        w = 30 + 8 * max(len(l) for l, _ in entries) + 20
        x0 = ML + self.pw - w - 10
        y0 = MT + self.ph - lh * len(entries) - 20
        o = self.out
        o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="white"'
                 ' fill-opacity="0.9" stroke="#999"/>'
                 % (x0, y0, w, lh * len(entries) + 10))
        for i, (label, colour) in enumerate(entries):
            yy = y0 + 15 + i * lh
            o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"'
                     ' stroke-width="3"/>' % (x0 + 8, yy, x0 + 30, yy, colour))
            o.append('<text x="%d" y="%d">%s</text>'
                     % (x0 + 36, yy + 4, escape(label)))

    def frame(self):
        self.out.append('<rect x="%d" y="%d" width="%d" height="%d"'
                        ' fill="none" stroke="black"/>'
                        % (ML, MT, self.pw, self.ph))

    def svg(self):
        return "\n".join(self.out + ["</svg>"]) + "\n"


def plots(methods):
    data = [m for m in methods if m["stats"]["n"]]
    if not data:
        return None, None
    lo = min(m["stats"]["min_ms"] for m in data)
    hi = max(m["stats"]["max_ms"] for m in data)
    xlo, xhi = log_range(lo, hi)
    entries = [(m["label"], m["colour"]) for m in data]

    cdf = Plot("CDF of latency (log scale)", "latency (ms, log scale)",
               "fraction of requests", xlo, xhi, 0.0, 1.0)
    cdf.x_axis_log()
    cdf.y_axis([i / 10 for i in range(11)], lambda v: "%.1f" % v)
    for m in data:
        cdf.step(m["sorted"], m["colour"])
    cdf.frame()
    cdf.legend(entries)

    tail = Plot("Tail of the latency distribution (P90-P100)",
                "latency (ms, log scale)", "percentile", xlo, xhi, 0.90, 1.0)
    tail.x_axis_log()
    tail.y_axis([0.90 + i / 100 for i in range(11)],
                lambda v: "P%d" % round(v * 100))
    tail.hline(0.999, "P99.9")
    for m in data:
        tail.step(m["sorted"], m["colour"], from_frac=0.90)
    tail.frame()
    tail.legend(entries)
    return cdf.svg(), tail.svg()


def main():
    ap = argparse.ArgumentParser(
        description="Table 4.2 and Figures 4.1/4.2 of a hedge campaign.")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("methods", nargs="+", metavar="NAME=CSV",
                    help="the first one is the baseline of the reduction")
    a = ap.parse_args()

    methods = []
    for i, spec in enumerate(a.methods):
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            ap.error("expected NAME=CSV, got %r" % spec)
        try:
            lat, hedged, timeouts = read_csv(path)
        except (OSError, ValueError) as e:
            sys.exit("report.py: %s" % e)
        colour = COLOURS.get(name) or SPARE_COLOURS[i % len(SPARE_COLOURS)]
        methods.append({"name": name, "label": LABELS.get(name, name),
                        "colour": colour, "csv": path, "sorted": sorted(lat),
                        "stats": stats(lat), "hedged": hedged,
                        "timeouts": timeouts})

    base = methods[0]["stats"].get("p99_ms")
    for m in methods[1:]:
        p99 = m["stats"].get("p99_ms")
        if base and p99 is not None:
            m["p99_reduction_pct"] = (base - p99) / base * 100.0

    table = markdown_table(methods)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table)
    summary = {"baseline": methods[0]["name"], "methods": []}
    for m in methods:
        e = {"name": m["name"], "label": m["label"], "csv": m["csv"],
             "hedged": m["hedged"], "timeouts": m["timeouts"]}
        e.update({k: (round(v, 3) if isinstance(v, float) else v)
                  for k, v in m["stats"].items()})
        if "p99_reduction_pct" in m:
            e["p99_reduction_pct"] = round(m["p99_reduction_pct"], 2)
        summary["methods"].append(e)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    cdf, tail = plots(methods)
    if cdf:
        with open(os.path.join(a.out, "cdf.svg"), "w") as f:
            f.write(cdf)
        with open(os.path.join(a.out, "tail.svg"), "w") as f:
            f.write(tail)
    sys.stdout.write(table)


if __name__ == "__main__":
    main()

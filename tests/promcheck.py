#!/usr/bin/env python3
"""tests/promcheck.py - a strict reader of the Prometheus text exposition
format (version 0.0.4), for `hedge status --prometheus` on stdin.

Checks what node_exporter's textfile collector and Prometheus insist on:
metric and label names, one HELP and one TYPE per family before its
samples, families not interleaved, sample values that parse, no duplicate
series; for histograms: `le` buckets in increasing order with cumulative
counts, a `+Inf` bucket equal to `_count`, and a `_sum`. Exits 1 with one
line per problem; prints "ok FAMILIES SAMPLES" otherwise.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)(?: -?\d+)?$" % (NAME, LABEL, LABEL))
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


def value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", text):
        raise ValueError(text)
    return float(text)


def family_of(name, types):
    if name in types:
        return name
    for base, kind in types.items():
        for suffix in SUFFIXES.get(kind, ()):
            if suffix and name == base + suffix:
                return base
    return None


def check(lines):
    errors, types, helps, done, series = [], {}, {}, set(), set()
    current, samples, hist = None, 0, {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            errors.append("%d: empty line" % n)
            continue
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    errors.append("%d: malformed %s" % (n, line[:6]))
                continue
            kind, name, rest = m.groups()
            table = helps if kind == "HELP" else types
            if name in table:
                errors.append("%d: second %s for %s" % (n, kind, name))
            if name in done:
                errors.append("%d: %s after the family's samples ended" % (n, name))
            if kind == "TYPE":
                if rest not in TYPES:
                    errors.append("%d: unknown type %s" % (n, rest))
                if current == name:
                    errors.append("%d: TYPE after samples of %s" % (n, name))
            table[name] = rest
            if current and current != name:
                done.add(current)
                current = None
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append("%d: malformed sample: %s" % (n, line))
            continue
        name, labels_text, val = m.group(1), m.group(2) or "", m.groups()[-1]
        try:
            v = value(val)
        except ValueError:
            errors.append("%d: bad value %r" % (n, val))
            continue
        fam = family_of(name, types)
        if fam is None:
            errors.append("%d: %s has no TYPE before it" % (n, name))
            continue
        if fam not in helps:
            errors.append("%d: %s has no HELP" % (n, fam))
        if fam in done:
            errors.append("%d: samples of %s are not together" % (n, fam))
        if current != fam:
            if current:
                done.add(current)
            current = fam
        labels = dict(re.findall(LABEL, labels_text))
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            errors.append("%d: duplicate series %s%s" % (n, name, labels))
        series.add(key)
        samples += 1
        if types[fam] == "counter" and (v < 0 or math.isnan(v)):
            errors.append("%d: counter %s is %s" % (n, name, val))
        if types[fam] == "histogram":
            rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
            h = hist.setdefault((fam, rest), {"le": [], "sum": None, "count": None})
            if name == fam + "_bucket":
                if "le" not in labels:
                    errors.append("%d: bucket without le" % n)
                    continue
                h["le"].append((value(labels["le"]), v, n))
            elif name == fam + "_sum":
                h["sum"] = v
            elif name == fam + "_count":
                h["count"] = v
            else:
                errors.append("%d: %s is not a histogram series" % (n, name))
    for (fam, rest), h in hist.items():
        les = h["le"]
        if not les or les[-1][0] != math.inf:
            errors.append("%s%s: no +Inf bucket last" % (fam, dict(rest)))
            continue
        for (a, ca, _), (b, cb, n) in zip(les, les[1:]):
            if not b > a:
                errors.append("%d: le %s not above %s" % (n, b, a))
            if cb < ca:
                errors.append("%d: bucket counts not cumulative" % n)
        if h["count"] is None or h["sum"] is None:
            errors.append("%s%s: no _count or _sum" % (fam, dict(rest)))
        elif h["count"] != les[-1][1]:
            errors.append("%s%s: _count %s != +Inf bucket %s" % (fam, dict(rest), h["count"], les[-1][1]))
    return errors, len(types), samples


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        print("the exposition does not end with a newline")
        return 1
    errors, families, samples = check(text[:-1].split("\n"))
    for e in errors:
        print(e)
    if errors:
        return 1
    print("ok %d %d" % (families, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())

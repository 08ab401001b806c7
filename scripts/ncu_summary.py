#!/usr/bin/env python3
"""Summarises an Nsight Compute CSV (`ncu --metrics gpu__time_duration.sum --csv`) of a dse-bench run.

Every step of the executor starts with an `embed` kernel, so the kernels are cut into steps there;
the last step is a decode step. Prints the sum of kernel times of that step, then its time per
kernel name (launches, total, mean), largest first, then the same for the prefill: every step
before the trailing run of decode steps (a prompt longer than a chunk takes several steps) but the
first --skip ones (default 2): the GPU session replays each captured graph once when it is
created (decode, then prefill; kernels of an empty step, not part of any timed run).

    ncu_summary.py PROFILE.csv [--skip N]
"""
import csv
import sys
from collections import OrderedDict


def read_kernels(path):
    rows = []
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # skip ncu's own log lines
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = r.get("Metric Unit", "nsecond")
        v = float(r["Metric Value"].replace(",", ""))
        scale = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}.get(unit, 1e-3)
        rows.append((r["Kernel Name"], v * scale))
    return rows


def short(name):
    name = name.split("(")[0]
    if name.startswith("void "):
        name = name[5:]
    for prefix in ("dse::", "gpu::", "runtime::", "<unnamed>::", "(anonymous namespace)::"):
        name = name.replace(prefix, "")
    return name


def report(title, kernels):
    total = sum(t for _, t in kernels)
    print(f"{title}: {len(kernels)} kernels, {total:.1f} us of kernel time")
    by = OrderedDict()
    for n, t in kernels:
        c, s = by.get(short(n), (0, 0.0))
        by[short(n)] = (c + 1, s + t)
    for n, (c, s) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        print(f"  {s:9.1f} us {100 * s / total:5.1f}%  {c:4d} x {s / c:7.2f} us  {n}")


def main():
    skip = 2
    if len(sys.argv) > 3 and sys.argv[2] == "--skip":
        skip = int(sys.argv[3])
    kernels = read_kernels(sys.argv[1])
    if not kernels:
        print("no kernel times in", sys.argv[1])
        return 1
    steps, cur = [], []
    for n, t in kernels:
        if short(n).startswith("embed") and cur:
            steps.append(cur)
            cur = []
        cur.append((n, t))
    steps.append(cur)
    report(f"decode step (last of {len(steps)} steps)", steps[-1])
    # Decode steps run one fixed kernel sequence (prefill chunks run GEMMs instead of GEMVs): the
    # trailing steps with the last step's sequence are decode steps, the ones before them prefill.
    names = [[short(n) for n, _ in s] for s in steps]
    n_prefill = len(steps) - 1
    while n_prefill > 1 and names[n_prefill - 1] == names[-1]:
        n_prefill -= 1
    first = min(skip, n_prefill - 1)
    count = n_prefill - first
    report(f"prefill ({count} step{'s' if count > 1 else ''} after {first} warm-up steps)",
           [k for s in steps[first:n_prefill] for k in s])
    return 0


if __name__ == "__main__":
    sys.exit(main())

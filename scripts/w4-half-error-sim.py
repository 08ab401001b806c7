#!/usr/bin/env python3
"""Simulates the f16 arithmetic of the int4 decode GEMV (targets/gpu/src/gemv_w4_half.cuh).

Each variant computes sum_k (n[k] - 8) * x[k] for int4 codes n in [0, 15] the way one GPU lane
does: x staged in f16 after a power-of-two scale, per 32-weight vector two f16 lanes that each
accumulate 16 products (every f16 operation rounds once, as the hardware's HFMA2/HADD2 do), the
vector's sum widened to f32. It prints the error against the exact sums of the same staged x, as a
fraction of the outputs' rms (mean and largest), for a few distributions of x and of the codes.

  pair      the offset 8 taken off every nibble pair before its product (13 instructions / 8 weights)
  vector    products of n itself, 8 * sum(x) of the vector taken off once in f32 (9)
  word      products of n itself, one f16 add of -8 * (the word's x sum) per 8 weights after the
            first two products (10; the kernel's choice)
  word-first  the same add before the word's products

Usage: python3 scripts/w4-half-error-sim.py [--k K] [--rows N] (needs numpy)
"""
import argparse

import numpy as np


def fma(a, b, c):
    # float64 holds the exact product and sum of f16 values here; one rounding to f16, as an FMA.
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float16)


def gemv(x, n, variant):
    """Returns (result, exact) for every row of codes n [N, K] against x [K]."""
    k = x.shape[0]
    rows = n.shape[0]
    exponent = np.frexp(np.abs(x).max())[1]
    # The kernel's staging: max|x| in [128, 256) for "pair", [2^14, 2^15) for the subnormal forms.
    e = 8 - exponent if variant == "pair" else 15 - exponent
    xs = (x * 2.0**e).astype(np.float16)
    acc = np.zeros(rows)
    for v in range(k // 32):
        lanes = np.zeros((rows, 2))
        for lane in range(2):
            h = np.zeros(rows, dtype=np.float16)
            for word in range(4):
                ks = [32 * v + 8 * word + 4 * lane + j for j in range(4)]
                xx, nn = xs[ks], n[:, ks]
                if variant == "pair":
                    for j in range(4):
                        h = fma((nn[:, j] - 8).astype(np.float16), np.full(rows, xx[j]), h)
                    continue
                offset = np.float16(-8.0 * float(np.sum(xx.astype(np.float64))) * 2.0**-24)
                for j in range(4):
                    if (variant == "word" and j == 2) or (variant == "word-first" and j == 0):
                        h = (h.astype(np.float64) + float(offset)).astype(np.float16)
                    h = fma((nn[:, j] * 2.0**-24).astype(np.float16), np.full(rows, xx[j]), h)
            lanes[:, lane] = h.astype(np.float64)
        f = lanes.sum(1)
        if variant == "vector":
            f -= 8.0 * float(np.sum(xs[32 * v:32 * v + 32].astype(np.float64))) * 2.0**-24
        acc += f
    unit = 2.0**-e if variant == "pair" else 2.0**(24 - e)
    exact = ((n - 8) * xs.astype(np.float64)[None, :]).sum(1) * 2.0**-e
    return acc * unit, exact


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=1024)
    ap.add_argument("--rows", type=int, default=512)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    k, rows = args.k, args.rows
    inputs = {
        "Gaussian": rng.standard_normal(k),
        "product of two Gaussians (silu(g) * u-like tails)": rng.standard_normal(k) * rng.standard_normal(k),
        "Gaussian, every 97th x 100 (outlier channels)": rng.standard_normal(k) * np.where(np.arange(k) % 97 == 0, 100.0, 1.0),
    }
    codes = {
        "uniform codes": rng.integers(0, 16, (rows, k)),
        "Gaussian weights quantized (codes near 8)": np.clip(np.round(rng.standard_normal((rows, k)) * 2.5), -8, 7).astype(int) + 8,
    }
    for xname, x in inputs.items():
        for cname, n in codes.items():
            cells = []
            for variant in ("pair", "vector", "word", "word-first"):
                y, exact = gemv(x, n, variant)
                err = np.abs(y - exact)
                rms = np.sqrt(np.mean(exact**2))
                cells.append(f"{variant} {np.sqrt(np.mean(err**2)) / rms:.2e} (max {err.max() / rms:.2e})")
            print(f"{xname}; {cname}: " + ", ".join(cells))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Runs the GPU kernel tests and the kernel benchmark on a GPU machine (binaries built elsewhere,
# in $1, default build-gpu-bin) and writes everything to ${OUT:-.}/gpu-results/:
#   gpu.txt (card, driver, clocks), tests.txt (Catch2 output), bench.txt (the benchmark table),
#   sass-summary.txt (per kernel: 16-byte global loads and local-memory spills in the sm_90a code).
set -u
# Time limits keep a hung kernel from eating the whole device budget (exit status 124).
BIN=${1:-build-gpu-bin}
RESULTS=${OUT:-$PWD}/gpu-results
mkdir -p "$RESULTS"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv \
  > "$RESULTS/gpu.txt" 2>&1
timeout 300 "$BIN/dse-gpu-tests" --durations yes > "$RESULTS/tests.txt" 2>&1
echo "dse-gpu-tests exit status $?" >> "$RESULTS/tests.txt"
timeout 240 "$BIN/dse-gpu-kernel-bench" > "$RESULTS/bench.txt" 2>&1
echo "dse-gpu-kernel-bench exit status $?" >> "$RESULTS/bench.txt"
if command -v cuobjdump > /dev/null; then
  cuobjdump -sass -arch sm_90a "$BIN/dse-gpu-kernel-bench" 2> /dev/null |
    awk '/Function :/ { f = $3 } /LDG\.E\.128|LDG\.E\.ENL2\.128|LDG\.E\.CONSTANT\.128|\.128 / && /LDG/ { v[f]++ }
         /LDL|STL/ { s[f]++ } /Function :/ { seen[f] = 1 }
         END { for (f in seen) printf "%6d 16-byte LDG %4d LDL/STL  %s\n", v[f], s[f], f }' |
    sort -k5 > "$RESULTS/sass-summary.txt"
fi
cat "$RESULTS/gpu.txt"
grep -E "FAILED|failed|passed|exit status" "$RESULTS/tests.txt" | tail -30
cat "$RESULTS/bench.txt"

#!/usr/bin/env bash
# Pruning benchmark: the 1.1B synthetic model (f32 GGUF, 4.4 GB) pruned
# while compiling, against the same compile without pruning measured in the
# same run. One JSON object per line.
# Usage: bench/prune.sh [BUILD_DIR] [WORK_DIR]   (after bench/compile.sh made WORK_DIR/tl-f32.gguf)
set -euo pipefail
build=${1:-build}
work=${2:-bench-work}
threads=${THREADS:-2}
B=$build/bin
in=$work/tl-f32.gguf
[ -f "$in" ] || { echo "run bench/compile.sh first (it makes $in)" >&2; exit 1; }
export SLMC_CACHE_DIR=$work/bench-hash-cache # hashes remembered: measure the pruning, not SHA-256

measure() {
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>&1
  cat "$work/time.txt"
}
row() { # name baseline-seconds args...
  local name=$1 base=$2
  shift 2
  read -r s rss < <(measure "$B/slmc" compile "$in" "$@" -o "$work/bench-prune.gguf" --threads "$threads" --quiet)
  awk -v n="$name" -v s="$s" -v rss="$rss" -v b="$base" \
    'BEGIN{printf "{\"bench\":\"prune\",\"case\":\"%s\",\"seconds\":%s,\"peak_rss_mb\":%.0f,\"times_unpruned\":%.2f}\n", n, s, rss / 1024, (b > 0 ? s / b : 0)}'
  rm -f "$work/bench-prune.gguf"
  echo "$s" >"$work/last.txt"
}

"$B/slmc" compile "$in" --type f16 -o "$work/bench-prune.gguf" --quiet # remember the hash
row "f16 (baseline)" 0 --type f16
f16=$(cat "$work/last.txt")
row "q4_0 (baseline)" 0 --type q4_0
q40=$(cat "$work/last.txt")
row "magnitude 50% per row, f16" "$f16" --prune magnitude --sparsity 0.5 --type f16
row "magnitude 2:4, f16" "$f16" --prune magnitude --pattern 2:4 --type f16
row "magnitude 2:4, q4_0" "$q40" --prune magnitude --pattern 2:4 --type q4_0
row "structured ffn 0.75 + heads 24 + layers 18 (random), f16" "$f16" --ffn 0.75 --heads 24 --layers 18 \
  --importance random --type f16
stats=$work/bench-prune.stats
[ -f "$stats" ] || "$B/slmc" calibrate "$work/tl-f16.gguf" --data "$work/calib-text.txt" --tokens 1024 --ctx 512 \
  --threads "$threads" -o "$stats" --quiet
row "wanda 50% per row, f16" "$f16" --prune wanda --sparsity 0.5 --calib "$stats" --type f16
row "structured ffn 0.75 (activation), f16" "$f16" --ffn 0.75 --calib "$stats" --type f16

#!/usr/bin/env bash
# Scoring benchmark: slmc score of a Q4_0 student against shakespeare-F16
# on the held-out text (ctx 128, llama.cpp's protocol), the teacher's logits
# computed (cold, cache written) against read from the teacher cache,
# measured in the same run; then the size-budget search's cost per
# evaluation. One JSON object per line.
# Usage: bench/score.sh [BUILD_DIR] [SHARED_DIR] [WORK_DIR]
set -euo pipefail
build=${1:-build}
shared=${2:-../shared}
work=${3:-bench-work}
threads=${THREADS:-2}
B=$build/bin
M=$shared/models
mkdir -p "$work"
export SLMC_CACHE_DIR=$work/bench-score-cache
rm -rf "$SLMC_CACHE_DIR"
teacher=$M/shakespeare-F16.gguf
student=$work/shk-q4_0.gguf
"$B/slmc" compile "$teacher" --type q4_0 -o "$student" --quiet

run() { # case -> seconds, teacher forward passes
  local t0 t1
  t0=$(date +%s.%N)
  "$B/slmc" score --teacher "$teacher" --student "$student" --data "$M/shakespeare-eval.txt" --ctx 128 \
    --threads "$threads" --json >"$work/score.json" 2>/dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}'
  echo " $(python3 -c "import json; print(json.load(open('$work/score.json'))['teacher_forward_passes'])")"
}
read -r cold cold_fw < <(run)
read -r warm warm_fw < <(run)
awk -v c="$cold" -v w="$warm" -v cf="$cold_fw" -v wf="$warm_fw" 'BEGIN{
  printf "{\"bench\":\"score\",\"case\":\"teacher computed (cache written)\",\"seconds\":%s,\"teacher_forward_passes\":%s}\n", c, cf;
  printf "{\"bench\":\"score\",\"case\":\"teacher from the cache\",\"seconds\":%s,\"teacher_forward_passes\":%s,\"speedup\":%.2f}\n", w, wf, c / w}'
rm -rf "$SLMC_CACHE_DIR"

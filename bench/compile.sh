#!/usr/bin/env bash
# Compile benchmark: the 1.1B synthetic model (TinyLlama shapes) from an f32
# GGUF (4.4 GB, llama-quantize's input) to Q8_0, Q4_0 and Q4_K_M, plus
# calibration throughput on the same model. One JSON object per line.
#
# Baselines measured in the same run: reading the input once (cat to
# /dev/null, page cache warm), the floor any converter pays. llama-quantize
# is not installed here; its figures on this machine kind come from issue 4
# (4.4 s, 4.2 s and 33 s, 4.4 GB peak) and are printed beside ours.
# Usage: bench/compile.sh [BUILD_DIR] [WORK_DIR]   (needs ~15 GB of disk)
set -euo pipefail
build=${1:-build}
work=${2:-bench-work}
threads=${THREADS:-2}
B=$build/bin
mkdir -p "$work"
[ -f "$work/tl/model.safetensors" ] || "$B/slmc" synth --arch llama --preset 1b -o "$work/tl" --quiet
in=$work/tl-f32.gguf
[ -f "$in" ] || "$B/slmc" compile "$work/tl" --type f32 -o "$in" --quiet
bytes=$(stat -c %s "$in")

# seconds and peak RSS (KiB) of a command
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null
  cat "$work/time.txt"
}

cat "$in" >/dev/null # warm the page cache
read -r read_s _ < <(measure cat "$in")
echo "{\"bench\":\"read_input\",\"bytes\":$bytes,\"seconds\":$read_s}"

# hashing the input for slmc.inputs.sha256 is part of every compile; "cold"
# hashes it (a private, empty hash cache), "warm" finds it remembered from
# the cold run, as a second compile from the same teacher does
cache=$work/bench-hash-cache
for spec in "q8_0 4.4" "q4_0 4.2" "q4_k_m 33"; do
  read -r type ref_s <<<"$spec"
  for run in cold warm cold warm; do
    out="$work/bench-$type.gguf"
    [ "$run" = cold ] && rm -rf "$cache"
    read -r s rss < <(SLMC_CACHE_DIR=$cache measure "$B/slmc" compile "$in" --type "$type" -o "$out" \
      --threads "$threads" --quiet)
    awk -v t="$type" -v s="$s" -v rss="$rss" -v b="$bytes" -v ref="$ref_s" -v r="$read_s" -v run="$run" \
      'BEGIN{printf "{\"bench\":\"compile\",\"type\":\"%s\",\"hash\":\"%s\",\"seconds\":%s,\"input_gb_per_s\":%.3f,\"peak_rss_mb\":%.0f,\"speedup_vs_llama_quantize\":%.2f,\"times_read_input\":%.2f}\n", t, run, s, b / s / 1e9, rss / 1024, ref / s, s / r}'
    rm -f "$out"
  done
done
rm -rf "$cache"

# calibration: forward passes with the statistics observer, ctx 512
data=$work/calib-text.txt
[ -f "$data" ] || cat "$(dirname "$0")"/../docs/*.md "$(dirname "$0")"/../README.md >"$data"
teacher=$work/tl-f16.gguf
[ -f "$teacher" ] || "$B/slmc" compile "$work/tl" --type f16 -o "$teacher" --quiet
read -r s rss < <(measure "$B/slmc" calibrate "$teacher" --data "$data" --tokens 2048 --ctx 512 \
  --threads "$threads" -o "$work/bench.stats" --quiet)
awk -v s="$s" -v rss="$rss" \
  'BEGIN{printf "{\"bench\":\"calibrate\",\"model\":\"1b f16\",\"tokens\":2048,\"ctx\":512,\"seconds\":%s,\"tokens_per_s\":%.1f,\"peak_rss_mb\":%.0f}\n", s, 2048 / s, rss / 1024}'
rm -f "$work/bench.stats"

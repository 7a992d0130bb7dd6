#!/usr/bin/env bash
# Runtime benchmark: the 1.1B synthetic model (TinyLlama shapes) converted
# to each weight type, prefill of 512 tokens and decode of 128 tokens on
# 2 threads, with the memory-bandwidth probe measured in the same run.
# Usage: bench/runtime.sh [BUILD_DIR] [WORK_DIR]   (needs ~12 GB of disk)
set -euo pipefail
build=${1:-build}
work=${2:-bench-work}
threads=${THREADS:-2}
mkdir -p "$work"
[ -f "$work/tl/model.safetensors" ] || "$build/bin/slmc" synth --arch llama --preset 1b -o "$work/tl" --quiet
for type in ${TYPES:-f16 q8_0 q4_0 q4_k q4_k_m}; do
  out="$work/tl-$type.gguf"
  [ -f "$out" ] || "$build/bin/slmc" compile "$work/tl" --type "$type" -o "$out" --quiet
  echo "== $type"
  "$build/bin/slmrt" bench -m "$out" -p "${PROMPT:-512}" -n "${GEN:-128}" --threads "$threads"
done

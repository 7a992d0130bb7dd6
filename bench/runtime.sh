#!/usr/bin/env bash
# Runtime benchmark: the 1.1B synthetic model (TinyLlama shapes) converted
# to each weight type; for each, `slmrt bench` twice (prefill of PROMPT
# tokens, decode of GEN tokens with the bandwidth probe interleaved) and a
# prefill of 128 tokens, the prompt length of llama.cpp's figures in
# issue 3. One JSON object per line on stdout.
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
  for run in 1 2; do
    "$build/bin/slmrt" bench -m "$out" -p "${PROMPT:-512}" -n "${GEN:-128}" --threads "$threads" --json | tr -d '\n '
    echo
  done
  "$build/bin/slmrt" bench -m "$out" -p 128 -n 1 --threads "$threads" --json | tr -d '\n '
  echo
done

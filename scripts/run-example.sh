#!/usr/bin/env bash
# The main job on the built-in example model: build slmc, synthesize the
# tiny llama model as a Hugging Face folder (plus a LoRA adapter for it and
# calibration / evaluation text), compile it to a Q8_0 GGUF artifact, then
# through every pass of examples/recipes/full.yaml (lora-merge, prune,
# calibrate, quantize, score) with a report, and run both artifacts with the
# runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
mkdir -p out
build/bin/slmc synth --arch llama --preset tiny -o out/tiny
build/bin/slmc synth --preset tiny --adapter -o out/tiny-adapter
build/bin/slmc synth --text calib -o out/calib.txt
build/bin/slmc synth --text eval -o out/eval.txt
build/bin/slmc compile out/tiny --type q8_0 -o out/tiny-q8_0.gguf
build/bin/slmrt inspect out/tiny-q8_0.gguf
build/bin/slmrt run -m out/tiny-q8_0.gguf -p "The river runs" -n 32
build/bin/slmc compile out/tiny -o out/tiny-full.gguf --recipe examples/recipes/full.yaml \
  --report out/tiny-full.json
build/bin/slmc inspect out/tiny-full.gguf | grep -E '^  slmc\.(score|recipe|lora)' | cut -c1-160
build/bin/slmrt run -m out/tiny-full.gguf -p "The river runs" -n 32

#!/usr/bin/env bash
# The main job on the built-in example model: build slmc, synthesize the
# tiny llama model as a Hugging Face folder, compile it to a Q8_0 GGUF
# artifact, and open the artifact with the runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
mkdir -p out
build/bin/slmc synth --arch llama --preset tiny -o out/tiny
build/bin/slmc compile out/tiny --type q8_0 -o out/tiny-q8_0.gguf
build/bin/slmrt inspect out/tiny-q8_0.gguf
build/bin/slmrt run -m out/tiny-q8_0.gguf -p "The river runs" -n 32

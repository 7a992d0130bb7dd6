#!/usr/bin/env bash
# Installs every Debian package slmc's build, tests and CI need.
# Idempotent: packages already present are skipped. Runs as root or via sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libopenblas-dev liblapacke-dev   # BLAS sgemm, LAPACKE (Cholesky for GPTQ)
  libdnnl-dev                      # oneDNN matmul (AMX/VNNI)
  ocl-icd-opencl-dev opencl-headers # dnnl-config.cmake requires OpenCL
  libhdf5-dev                      # HDF5 model reader
  zlib1g-dev                       # gzip calibration data
  libjansson-dev                   # JSON (config.json, tokenizer.json, safetensors headers)
  libssl-dev                       # sha256 of inputs (libcrypto)
  check                            # unit tests
  libyaml-dev libpcre2-dev         # recipes, tokenizer pre-split regexes
)

missing=()
for p in "${PACKAGES[@]}"; do
  [ -n "$p" ] || continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

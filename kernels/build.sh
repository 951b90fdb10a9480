#!/usr/bin/env bash
# Compiles kernels/*.cu to PTX for the CUDA backend, skipping kernels whose sources did not change.
#   kernels/build.sh           rebuild stale PTX with nvcc, then have ptxas check every file for sm_90a
#   kernels/build.sh --check   only report stale PTX (exit 1), no nvcc needed
# A kernel's sources are its .cu followed by every kernels/*.cuh in name order; the SHA-256 of those bytes
# is the PTX's first line, so a stale file is found without a compiler (KernelSourcesTest does the same).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/../src/main/resources/dev/diagonal/backend/cuda/kernels
arch=${DIAGONAL_PTX_ARCH:-compute_80}
check_only=false
[[ ${1:-} == --check ]] && check_only=true

sources_hash() {
  local headers=()
  shopt -s nullglob
  headers=("$here"/*.cuh)
  shopt -u nullglob
  cat "$1" ${headers[@]+"${headers[@]}"} | sha256sum | cut -d' ' -f1
}

stale=0
mkdir -p "$out"
for cu in "$here"/*.cu; do
  name=$(basename "$cu" .cu)
  ptx=$out/$name.ptx
  want="// diagonal-sources-sha256 $(sources_hash "$cu")"
  if [[ -f $ptx && $(head -1 "$ptx") == "$want" ]]; then
    continue
  fi
  if $check_only; then
    echo "stale: $ptx (kernels/$name.cu or a .cuh changed; run kernels/build.sh)" >&2
    stale=1
    continue
  fi
  command -v nvcc >/dev/null || { echo "kernels/$name.cu changed but nvcc is not on PATH" >&2; exit 1; }
  tmp=$(mktemp)
  nvcc -ptx -arch="$arch" -O3 -std=c++17 -I"$here" -o "$tmp" "$cu"
  { echo "$want"; cat "$tmp"; } > "$ptx"
  rm -f "$tmp"
  echo "built $ptx"
done
$check_only && exit $stale

if command -v ptxas >/dev/null; then
  for ptx in "$out"/*.ptx; do
    ptxas -arch=sm_90a -o /dev/null "$ptx"
  done
  echo "ptxas accepts every kernel for sm_90a"
fi

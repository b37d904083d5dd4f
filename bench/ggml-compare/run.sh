#!/usr/bin/env bash
# Builds ggml from a local checkout and runs ggml_compare.cpp (see its head comment).
# usage: bench/ggml-compare/run.sh GGML_SOURCE_DIR [ggml_compare options]
# Needs the project built first (./setup.sh or cmake --build build/release: libqb_kernels.a);
# ggml is built in $QB_GGML_BUILD (default /tmp/qb-ggml-build) with its native CPU flags and
# OpenMP, as llama.cpp builds it. Nothing is downloaded.
set -euo pipefail
if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -lt 1 ]] && exit 2 || exit 0
fi
[[ -d "$1" ]] || { echo "run.sh: $1: no such directory" >&2; exit 2; }
ggml=$(cd "$1" && pwd); shift
root=$(cd "$(dirname "$0")/../.." && pwd)
lib="$root/build/release/kernels/libqb_kernels.a"
out=${QB_GGML_BUILD:-/tmp/qb-ggml-build}
[[ -f "$ggml/include/ggml.h" ]] || { echo "run.sh: $ggml/include/ggml.h not found: not a ggml checkout" >&2; exit 2; }
[[ -f "$lib" ]] || { echo "run.sh: $lib not found: build the project first (./setup.sh)" >&2; exit 2; }
cmake -S "$ggml" -B "$out/ggml" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DGGML_OPENMP=ON -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF > "$out.cmake.log" 2>&1 \
  || { echo "run.sh: configuring ggml failed, see $out.cmake.log" >&2; exit 1; }
ninja -C "$out/ggml" ggml ggml-base ggml-cpu > "$out.build.log" 2>&1 \
  || { echo "run.sh: building ggml failed, see $out.build.log" >&2; exit 1; }
lib_dir=$(dirname "$(find "$out/ggml" -name 'libggml-cpu.so' | head -1)")
c++ -O2 -std=c++17 -fopenmp -Wno-psabi -I"$root" -I"$ggml/include" \
  "$root/bench/ggml-compare/ggml_compare.cpp" "$lib" -o "$out/ggml_compare" \
  -L"$lib_dir" -lggml -lggml-base -lggml-cpu -Wl,-rpath,"$lib_dir"
exec "$out/ggml_compare" "$@"

#!/usr/bin/env bash
# QuantBench set-up: installs the Debian 12 packages it needs (as root, or through sudo), then
# configures and builds the Release preset. Idempotent: a second run only rebuilds what changed.
#
#   ./setup.sh            install + build
#   ./setup.sh --run      install + build + run the main job (the built-in study)
#   ./setup.sh --test     install + build + run the test suite (what .ci/run calls)
#   ./setup.sh --help
set -euo pipefail
cd "$(dirname "$0")"

mode=build
case "${1:-}" in
  "") ;;
  --run) mode=run ;;
  --test) mode=test ;;
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "setup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread
  qt6-base-dev qt6-svg-dev libqt6svg6 libqcustomplot-dev
  libyaml-cpp-dev nlohmann-json3-dev
  xvfb xauth
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install packages" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# OpenBLAS must be the BLAS libtorch resolves (Debian's generic path): ~300 vs ~5 GFLOP/s.
if command -v update-alternatives >/dev/null; then
  blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
  case "$blas" in
    *openblas*) ;;
    *) echo "setup.sh: warning: libblas.so.3 points to '${blas:-nothing}', not OpenBLAS" >&2 ;;
  esac
fi

export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_BASEDIR="$PWD"  # hash paths relative to the checkout so fresh clones hit the cache
jobs=$(nproc)
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

case "$mode" in
  run)
    exec ./build/release/bin/quantbench-cli run projects/tiny-reasoner.yaml
    ;;
  test)
    cd build/release
    exec ctest --output-on-failure -j "$jobs" --timeout 900
    ;;
esac

#!/usr/bin/env bash
# Builds the addon and the tracker with ASan + UBSan (CMakeLists.txt) into
# build-asan/ (or $1), never touching node-gyp's build/Release.
#   scripts/asan-build.sh [outdir] [extra cmake args…]
# Needs clang (Debian: clang, libclang-rt-dev) and cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-asan}
shift || true
for tool in clang clang++ cmake; do
  command -v "$tool" >/dev/null || { echo "asan-build: $tool not found (Debian: apt-get install clang libclang-rt-dev cmake)" >&2; exit 2; }
done
node_inc=$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")
[ -f "$node_inc/node_api.h" ] || node_inc=/usr/include/node
addon_inc=$(node -p "require('node-addon-api').include_dir")
cmake -S . -B "$out/cmake" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DNODE_INCLUDE_DIR="$node_inc" -DNODE_ADDON_API_DIR="$addon_inc" \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/$out" -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$PWD/$out" "$@" >/dev/null
cmake --build "$out/cmake" -j 2 -- --no-print-directory

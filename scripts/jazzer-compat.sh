#!/usr/bin/env bash
# @jazzer.js/fuzzer 4.0.0 ships its libFuzzer addon prebuilt against glibc
# 2.38 and GCC 13's libstdc++ (older versions download theirs from GitHub at
# install, which this offline machine cannot). Where it does not load (Debian
# 12: glibc 2.36), this patches the installed copy once: the three missing
# symbols come from fuzz/jazzer-compat/shim.cc, their version references are
# made weak. Idempotent; `npm ci` restores the original.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=node_modules/@jazzer.js/fuzzer/prebuilds
addon=$dir/fuzzer-linux-x64.node
if node -e "require('@jazzer.js/fuzzer')" 2>/dev/null; then exit 0; fi
[ -f "$addon.orig" ] && cp "$addon.orig" "$addon" || cp "$addon" "$addon.orig"
command -v patchelf >/dev/null || { echo "jazzer-compat: needs patchelf (Debian: apt-get install patchelf)" >&2; exit 2; }
echo "jazzer-compat: patching $addon for this glibc/libstdc++" >&2
c++ -O2 -shared -fPIC -o "$dir/libjazzer-compat.so" fuzz/jazzer-compat/shim.cc
python3 fuzz/jazzer-compat/weaken_verneed.py "$addon" GLIBC_2.38 GLIBCXX_3.4.32
for sym in __isoc23_strtol __isoc23_strtoul _ZSt21ios_base_library_initv; do
  patchelf --clear-symbol-version "$sym" "$addon"
done
# An absolute path: patchelf 0.14 garbles the string table when it adds both a
# NEEDED entry and an rpath.
patchelf --add-needed "$PWD/$dir/libjazzer-compat.so" "$addon"
node -e "require('@jazzer.js/fuzzer')"

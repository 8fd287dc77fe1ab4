#!/usr/bin/env bash
# `npm run fuzz`: coverage-guided fuzzing of the two parsers that read bytes
# another process wrote (issue 15 item 7), each for a bounded number of runs:
#   header   lib/table/header.ts parseHeader, through Jazzer.js (libFuzzer in
#            node, coverage from Jazzer's instrumentation of dist/)
#   tracker  native/tracker_parse.c (the tracker's stdin parser and name
#            table), through libFuzzer with ASan + UBSan (clang)
# Seeds are made by the real code (scripts/fuzz-seeds.ts); the inputs found
# are merged, minimized, into test/fuzz-corpus/{header,tracker}/ (≤ 200 each),
# which test/fuzz-corpus.test.ts replays in every `npm test`.
#   scripts/fuzz.sh [runs]          (default 1000000; FUZZ_TARGETS="header tracker")
# Exits non-zero on any crash (the input is kept in build-fuzz/artifacts/).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
targets=${FUZZ_TARGETS:-header tracker}
work=$PWD/build-fuzz
mkdir -p "$work/artifacts"
for tool in clang; do command -v $tool >/dev/null || { echo "fuzz: $tool not found (Debian: apt-get install clang libclang-rt-dev)" >&2; exit 2; }; done
npm run build --silent
stats() {  # stats <log> → "N runs in S s, corpus C"
  local done; done=$(grep -E '^Done [0-9]+ runs' "$1" | tail -1 || true)
  echo "${done:-no 'Done' line}"
}
# Rebuilds test/fuzz-corpus/<name> as the minimal set of every input that adds coverage.
keep() {  # keep <name> <merge command…>
  local name=$1; shift
  local fresh="$work/merged/$name"
  rm -rf "$fresh"; mkdir -p "$fresh" "test/fuzz-corpus/$name"
  "$@" -merge=1 "$fresh" "test/fuzz-corpus/$name" "$work/corpus/$name" "$work/seeds/$name" >"$work/merge-$name.log" 2>&1
  local n; n=$(ls "$fresh" | wc -l)
  if [ "$n" -gt 200 ]; then ls "$fresh" | sort | tail -n +201 | sed "s|^|$fresh/|" | xargs rm -f; n=200; fi
  rm -rf "test/fuzz-corpus/$name"; mv "$fresh" "test/fuzz-corpus/$name"
  echo "fuzz: $name corpus: $n inputs in test/fuzz-corpus/$name"
}

for target in $targets; do
  mkdir -p "$work/corpus/$target" "$work/seeds/$target" "test/fuzz-corpus/$target"
  case $target in
  header)
    scripts/jazzer-compat.sh
    npx tsx scripts/fuzz-seeds.ts header "$work/seeds/header"
    cmd=(npx jazzer fuzz/header.fuzz.cjs --sync --)
    ;;
  tracker)
    clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -o "$work/tracker_fuzz" fuzz/tracker_fuzz.c native/tracker_parse.c
    # The owner's real lines: the release addon with a tracker that records its stdin.
    cap=$work/capture-native; mkdir -p "$cap"; rm -f "$work/lines"
    ln -sf "$PWD/build/Release/shmkit.node" "$cap/shmkit.node"
    printf '#!/bin/sh\ncat > "$SHMKIT_FUZZ_CAPTURE.tmp" && mv "$SHMKIT_FUZZ_CAPTURE.tmp" "$SHMKIT_FUZZ_CAPTURE"\n' > "$cap/shmkit-tracker"
    chmod +x "$cap/shmkit-tracker"
    SHMKIT_NATIVE_DIR=$cap SHMKIT_FUZZ_CAPTURE=$work/lines npx tsx scripts/fuzz-seeds.ts tracker
    for _ in $(seq 100); do [ -f "$work/lines" ] && break; sleep 0.1; done
    [ -s "$work/lines" ] || { echo "fuzz: captured no tracker lines" >&2; exit 1; }
    # Byte 0: read size − 1 (mod 64); byte 1: odd = the tracker's 64 KiB buffer, even = small.
    for p in '\000\001' '\077\001' '\003\040' '\017\376'; do
      { printf "$p"; cat "$work/lines"; } > "$work/seeds/tracker/lines-$(printf "$p" | od -An -tx1 | tr -d ' ')"
    done
    cmd=("$work/tracker_fuzz")
    ;;
  *) echo "fuzz: unknown target $target" >&2; exit 2 ;;
  esac
  log=$work/$target.log
  echo "fuzz: $target: ${cmd[*]} -runs=$runs -max_len=4096 …"
  status=0
  "${cmd[@]}" -runs="$runs" -max_len=4096 -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" \
    "$work/corpus/$target" "test/fuzz-corpus/$target" "$work/seeds/$target" >"$log" 2>&1 || status=$?
  echo "fuzz: $target: $(stats "$log") (exit $status; log $log)"
  if [ "$status" -ne 0 ]; then tail -40 "$log" >&2; echo "fuzz: $target FAILED" >&2; exit 1; fi
  keep "$target" "${cmd[@]}"
done

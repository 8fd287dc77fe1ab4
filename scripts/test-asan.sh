#!/usr/bin/env bash
# `npm run test:asan`: builds the addon and the tracker with ASan + UBSan
# (scripts/asan-build.sh → build-asan/), shows that an injected bug is caught
# (scripts/asan-selftest.sh), then runs the native-heavy test files with the
# sanitizer runtime preloaded (scripts/asan-env.sh). Fails if a test fails or
# any process of the run — the vitest workers, the children they fork, the
# trackers — wrote a sanitizer report.
#   scripts/test-asan.sh [test files…]   (default: the list below)
#   SHMKIT_ASAN_SKIP_SELFTEST=1 skips the self-test.
set -euo pipefail
cd "$(dirname "$0")/.."
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(test/segment.test.ts test/lifecycle.test.ts test/sync.test.ts test/table.test.ts
         test/threads.test.ts test/workers.test.ts test/readonly.test.ts)
fi
# Tests whose subject the sanitizer run changes on purpose, left out by name:
# - V8's WebAssembly trap handler: turned off here (scripts/asan-env.sh says why);
# - "still lets a SIGSEGV sent … / a real stack overflow … kill the process":
#   a deadly SIGSEGV ends in ASan's report and exit status 1, not death by
#   the signal (the SIGTRAP cases still run);
# - "/proc/self/maps returns to its start": ASan's quarantine keeps up to
#   256 MiB of freed heap mapped to catch use-after-free.
skip='through V8’s own trap handler|a SIGSEGV sent to the process kill|a real stack overflow past V8’s limit kill|/proc/self/maps returns to its start'
scripts/asan-build.sh build-asan
[ "${SHMKIT_ASAN_SKIP_SELFTEST:-}" = 1 ] || scripts/asan-selftest.sh
npm run build --silent
. scripts/asan-env.sh
echo "test:asan: ${files[*]} against $SHMKIT_NATIVE_DIR/, reports in $ASAN_LOG_DIR"
status=0
npx vitest run "${files[@]}" --testNamePattern "^(?!.*($skip))" || status=$?
if ! asan_check_logs; then
  echo "test:asan: FAILED: sanitizer reports above (from $ASAN_LOG_DIR)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then echo "test:asan: FAILED: the tests failed (status $status); no sanitizer report" >&2; exit "$status"; fi
rm -rf "$ASAN_LOG_DIR"
echo "test:asan: passed, zero sanitizer reports"

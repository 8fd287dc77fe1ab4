#!/usr/bin/env bash
# Shows that the sanitizer run can fail: a scratch build (build-asan-selftest/,
# CMake option SHMKIT_ASAN_SELFTEST) adds asanSelftest(kind) with a deliberate
# bug (native/asan_selftest.cc). Under the environment of `npm run test:asan`
# (scripts/asan-env.sh), each bug must end its process with a failing status
# and leave the matching report in the log directory — also when the buggy
# process is a child whose parent exits 0, as in tests that expect a child to
# fail. Exits non-zero if any report is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/asan-build.sh build-asan-selftest -DSHMKIT_ASAN_SELFTEST=ON >/dev/null
fails=0
expect() {  # expect <what> <pattern> <node script>
  local what=$1 pattern=$2 script=$3 status=0
  (
    export ASAN_LOG_DIR; ASAN_LOG_DIR=$(mktemp -d /tmp/shmkit-asan-selftest.XXXXXX)
    SHMKIT_NATIVE_DIR=build-asan-selftest
    . scripts/asan-env.sh
    set +e
    node -e "$script" >/dev/null 2>&1
    status=$?
    set -e
    if asan_check_logs 2>/dev/null; then
      echo "FAIL $what: no sanitizer report (exit status $status)"; exit 1
    fi
    if ! cat "$ASAN_LOG_DIR"/* | grep -q "$pattern"; then
      echo "FAIL $what: report lacks '$pattern':"; cat "$ASAN_LOG_DIR"/*; exit 1
    fi
    echo "ok   $what: reported ($(grep -ho "$pattern" "$ASAN_LOG_DIR"/* | head -1)), exit status $status"
    rm -rf "$ASAN_LOG_DIR"
  ) || fails=$((fails + 1))
}
call() { echo "require('./dist/binding').binding.asanSelftest('$1')"; }
expect 'use-after-unmap' 'AddressSanitizer: SEGV' "$(call unmap)"
expect 'use-after-free of a mapping owner' 'AddressSanitizer: heap-use-after-free' "$(call free)"
expect 'heap overflow' 'AddressSanitizer: heap-buffer-overflow' "$(call overflow)"
expect 'signed overflow (UBSan)' 'runtime error: signed integer overflow' "$(call ub)"
# A child's report, while the parent (like a test expecting the child to die) exits 0.
expect 'use-after-free in a child process' 'AddressSanitizer: heap-use-after-free' \
  "require('child_process').spawnSync(process.execPath, ['-e', \"$(call free)\"], { stdio: 'ignore' })"
if [ "$fails" -ne 0 ]; then echo "asan-selftest: $fails injected bug(s) went unreported" >&2; exit 1; fi
echo "asan-selftest: every injected bug was reported"

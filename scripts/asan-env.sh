# Sourced by scripts/test-asan.sh and scripts/asan-selftest.sh: the
# environment that runs Node (not instrumented) with the sanitizer build of
# the addon and the tracker. Sets ASAN_LOG_DIR; every process of the run,
# children included, writes its reports to $ASAN_LOG_DIR/report.<pid>.
#
# LD_PRELOAD: node itself is not built with ASan, so the runtime must be the
#   first library loaded; children (node, the tracker, sh, python) inherit it.
# detect_leaks=0: node does not free its heap, its isolates or its addon data
#   at exit (it exits without tearing down), so LeakSanitizer would report
#   every run; leaks are not what this run looks for.
# --disable-wasm-trap-handler: node's SIGSEGV handler (installed for
#   WebAssembly bounds checks, after ASan's) does not chain to the handler it
#   replaced: a wild read would kill the process with a bare SIGSEGV instead of
#   ASan's "SEGV on unknown address" report with a stack. Without it V8 bounds-
#   checks WebAssembly inline (an out-of-bounds access still throws).
# allow_user_segv_handler=1 (the default, stated): the readonly guard
#   (native/guard.cc) installs its SIGSEGV/SIGTRAP handlers after ASan's and
#   chains faults that are not its own to ASan's (handle_segv=1, the default).
# halt_on_error / -fno-sanitize-recover: the first report ends the process
#   with a failing status, and the log file makes it visible even when a test
#   expected that child to fail. ASan and UBSan share one log_path (the
#   runtime keeps one; the last one parsed wins), so both name it.
ASAN_RUNTIME=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
[ -f "$ASAN_RUNTIME" ] || { echo "asan: no $ASAN_RUNTIME (Debian: apt-get install libclang-rt-dev)" >&2; exit 2; }
ASAN_LOG_DIR=${ASAN_LOG_DIR:-$(mktemp -d /tmp/shmkit-asan.XXXXXX)}
export LD_PRELOAD="$ASAN_RUNTIME"
export ASAN_OPTIONS="detect_leaks=0:allow_user_segv_handler=1:handle_segv=1:halt_on_error=1:log_path=$ASAN_LOG_DIR/report"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$ASAN_LOG_DIR/report"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--disable-wasm-trap-handler"
export SHMKIT_NATIVE_DIR=${SHMKIT_NATIVE_DIR:-build-asan}

# Prints every report of the run; fails if there is one.
asan_check_logs() {
  local found=0 f
  for f in "$ASAN_LOG_DIR"/report.*; do
    [ -e "$f" ] || continue
    found=1
    echo "==== sanitizer report: $f" >&2
    cat "$f" >&2
  done
  return $found
}

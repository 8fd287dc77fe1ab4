#!/usr/bin/env bash
# Model-checks the table append/recovery protocol (lib/table/append.ts,
# model/append.pml), the growth of a growable table's memory
# (lib/table/grow.ts, model/grow.pml), a channel's message ring
# (lib/channel/ring.ts, model/channel.pml), and the semaphore and barrier
# protocols (lib/sync/semaphore-state.ts, barrier-state.ts;
# model/semaphore.pml, barrier.pml) with spin: each model in its correct
# form must show no error in every configuration below, and each
# deliberately broken variant must show one.
# Builds in a temporary directory (nothing is written to the repository).
#
#   bash model/check.sh               all runs, JOBS=2 at a time
#   MODELS=grow bash model/check.sh   only grow.pml's runs (append, channel,
#                                     semaphore, barrier: only that model's)
#   JOBS=1 bash model/check.sh        one at a time
#   KEEP=1 bash model/check.sh        keep the build directory (trails of the
#                                     broken variants: spin -t -p <model>.pml there)
#
# Exit status: 0 if every run came out as expected, 1 if not, 2 if spin or a
# C compiler is missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
models=${MODELS:-append grow semaphore barrier}
jobs=${JOBS:-2}
memlim=${MEMLIM_MB:-8000}   # per pan run; pan stops (and the run fails) beyond it

if ! command -v spin >/dev/null 2>&1; then
  echo "check.sh: spin is not installed (Debian/Ubuntu: apt-get install spin)" >&2
  exit 2
fi
cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "check.sh: no C compiler '$cc' (Debian/Ubuntu: apt-get install gcc)" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-spin.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
  echo "build directory: $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

# The configurations.  Fields: name | expect | search | hash | spin -D flags | what | model
#   expect  pass: 0 errors and a complete search; fail: at least 1 error;
#           info: printed only, does not decide the exit status
#   search  safety: assertions + never claim (P1, P2, P3, P4a);
#           np: spin's non-progress-cycle search with no progress label, so
#           any infinite execution is reported (P4b)
#   hash    pan -w: log2 of the hash table slots (2^24 x 8 bytes = 128 MB)
#   model   append (default) or grow: model/<model>.pml
MAIN="-DNW=2 -DNB=2 -DS0=2 -DS1=1 -DS2=1 -DS3=2 -DCAP=6 -DMAXDEAD=2"
RUN3="-DNW=2 -DNB=2 -DS0=3 -DS1=1 -DS2=1 -DS3=2 -DCAP=7 -DMAXDEAD=2"
THREE="-DNW=3 -DNB=1 -DS0=1 -DS1=1 -DS2=1 -DCAP=3 -DMAXDEAD=1"
READER="-DNW=2 -DNB=1 -DS0=2 -DS1=1 -DCAP=4 -DMAXDEAD=2 -DADV_CALLS=1"
runs=(
  "three|pass|safety|26|$THREE|3 writers x 1 row, cap 3, 1 may die"
  "reader|pass|safety|25|$READER|2 writers x 1 batch (2),(1), cap 4, + a reader's advance() meanwhile"
  "main|pass|safety|24|$MAIN|2 writers x batches (2,1),(1,2), cap 6, both may die"
  "main-np|pass|np|24|$MAIN|same: no infinite execution"
  "run3|pass|safety|24|$RUN3|2 writers x batches (3,1),(1,2), cap 7: RUN fill"
  "run3-np|pass|np|24|$RUN3|same: no infinite execution"
  "suspect|pass|safety|24|$MAIN -DSUSPECT|main + recovery may void a LIVE writer's claim"
  "abandon|pass|safety|24|$MAIN -DABANDON=1|main + one batch abandoned mid-write"
  "broken-commit|fail|safety|20|$MAIN -DSUSPECT -DBROKEN_COMMIT|commit as a plain store (+SUSPECT)"
  "broken-zerostall|fail|safety|20|$MAIN -DBROKEN_ZEROSTALL|zero-stall voiding as load-then-store"
  "broken-commit-exact|info|safety|24|$MAIN -DBROKEN_COMMIT|commit as a plain store, exact dead(): expected 0 errors, commit's CAS only matters if dead() can err"
)
# grow.pml: 2 row regions, MAXR rows, a heap of HEAP units in slices of 3;
# appends t = w*NA + a of R<t> rows and L<t> heap units (0: short values
# only); 1 writer may die, fallocate may fail MAXFAIL times.  The broken
# variants are checked with -DUSE_ONLY: caught by a consequence (a write or
# read of memory that has none, a view past its data buffer, a straddle),
# not by the publication assertions.  Together about 30 s of CPU (15-20 s
# on 2 idle cores).
G_ROWS="-DNW=2 -DNA=2 -DR0=1 -DR1=2 -DR2=2 -DR3=1 -DMAXR=4 -DMAXFAIL=2 -DREADS=0"
G_HEAP="-DNW=2 -DNA=2 -DR0=1 -DR1=2 -DR2=1 -DR3=1 -DL0=2 -DL1=3 -DL2=2 -DL3=1 -DMAXR=4 -DHEAP=9 -DMAXFAIL=2 -DREADS=0"
G_MIX="-DNW=2 -DNA=2 -DR0=1 -DR1=2 -DR2=2 -DR3=1 -DL0=2 -DL1=2 -DL2=3 -DL3=1 -DMAXR=4 -DHEAP=6"
G_THREE="-DNW=3 -DNA=1 -DR0=1 -DR1=1 -DR2=2 -DL0=2 -DL1=2 -DL2=2 -DMAXR=4 -DHEAP=6 -DMAXFAIL=1 -DREADS=0"
runs+=(
  "grow-rows|pass|safety|22|$G_ROWS|grow: 2 writers x appends of (1,2),(2,1) rows, 4 rows of room: ensureRows, ENOSPC, FULL|grow"
  "grow-heap|pass|safety|22|$G_HEAP|grow: 2 writers x (1 row + 2 units, 2 + 3),(1 + 2, 1 + 1), heap 9 in slices of 3|grow"
  "grow-reader|pass|safety|23|$G_MIX -DMAXFAIL=1 -DREADS=1|grow: rows and heap, + a reader (length, then heapReady) meanwhile|grow"
  "grow-three|pass|safety|23|$G_THREE|grow: 3 writers x 1 append (1+2, 1+2, 2+2)|grow"
  "grow-np|pass|np|22|$G_MIX -DREADS=0|grow: rows and heap (1+2, 2+2),(2+3, 1+1), heap 6: no infinite execution|grow"
  "grow-broken-raise|fail|safety|20|$G_MIX -DREADS=0 -DUSE_ONLY -DBROKEN_RAISE_FIRST|grow: ensureRows raises ready before it allocates|grow"
  "grow-broken-reserve|fail|safety|20|$G_MIX -DREADS=0 -DUSE_ONLY -DBROKEN_RESERVE|grow: begin() tests the capacity only, not ready|grow"
  "grow-broken-noskip|fail|safety|20|$G_MIX -DREADS=0 -DUSE_ONLY -DBROKEN_NOSKIP|grow: heapAlloc without the slice-boundary skip|grow"
  "grow-broken-store|fail|safety|20|$G_MIX -DREADS=0 -DUSE_ONLY -DBROKEN_HEAP_STORE|grow: heapReady raised by load-then-store, not compareExchange|grow"
)

# channel.pml: the message ring of a channel (lib/channel/ring.ts). Writers
# send NM messages (some of 2 slots), a writer and a reader may die at any
# step; every wait is a blocking guard, so a stuck process is an invalid end
# state. About 25 s of CPU in all.
C_TWO="-DN=2 -DNW=2 -DNR=2 -DNM=1 -DMAXDEADW=1 -DMAXDEADR=1"
C_ONE="-DN=2 -DNW=2 -DNR=1 -DNM=2 -DMAXDEADW=1 -DMAXDEADR=0"
C_THREE="-DN=2 -DNW=3 -DNR=1 -DNM=1 -DMAXDEADW=2 -DMAXDEADR=0"
runs+=(
  "chan-two|pass|safety|23|$C_TWO|channel: ring of 2 slots, 2 writers x 1 message (1 and 2 slots), 2 readers; 1 of each may die|channel"
  "chan-one|pass|safety|22|$C_ONE|channel: ring of 2 slots, 2 writers x 2 messages, 1 reader; a writer may die|channel"
  "chan-n3|pass|safety|22|${C_ONE/-DN=2/-DN=3}|channel: as chan-one with a ring of 3 slots (messages wrap)|channel"
  "chan-three|pass|safety|23|$C_THREE|channel: 3 writers x 1 message, 2 of them may die, 1 reader|channel"
  "chan-broken-take|fail|safety|20|$C_TWO -DBROKEN_TAKE_FIRST|channel: the reader takes (head) before it copies|channel"
  "chan-broken-release|fail|safety|20|$C_ONE -DBROKEN_RELEASE|channel: the writer lets go of its claim before it publishes|channel"
  "chan-broken-room|fail|safety|20|$C_TWO -DBROKEN_ROOM|channel: the room test allows one slot too many|channel"
  "chan-broken-look|fail|safety|20|$C_ONE -DBROKEN_LOOK_ORDER|channel: the reader judges own by the seq it read before own|channel"
)

# semaphore.pml: 3 processes x 2 acquires of 2 permits, 1 may die anywhere
# (also in the state lock); barrier.pml: 3 parties x 2 rounds, members may
# die anywhere.  A few seconds each.
runs+=(
  "sem|pass|safety|24||semaphore: 3 processes x 2 acquires, 2 permits, 1 may die|semaphore"
  "sem-broken-norepair|fail|safety|20|-DBROKEN_NO_REPAIR|semaphore: a dead holder's state lock taken over without recomputing count|semaphore"
  "sem-broken-seqlate|fail|safety|20|-DBROKEN_SEQ_LATE|semaphore: a waiter reads seq after its failed take|semaphore"
  "bar|pass|safety|22||barrier: 3 parties x 2 rounds, 1 may die|barrier"
  "bar-timeout|pass|safety|22|-DR=3 -DMAXDEAD=2 -DTIMEOUT|barrier: 3 parties x 3 rounds, 2 may die, a wait may time out|barrier"
  "bar-broken-wake|fail|safety|20|-DBROKEN_WAKE_PASSES|barrier: a waiter passes on any wake|barrier"
  "bar-broken-norepair|fail|safety|20|-DBROKEN_NO_REPAIR|barrier: a dead holder's lock taken over without ending a complete round|barrier"
)

run_one() { # name expect search hash defs model
  local name=$1 expect=$2 search=$3 hash=$4 defs=$5 model=$6 d=$tmp/$1
  mkdir -p "$d" && cp "$here/$model.pml" "$d/$model.pml" && cd "$d" || return
  local t0=$SECONDS
  # shellcheck disable=SC2086
  if ! spin -a $defs "$model.pml" >spin.log 2>&1; then
    echo "spin -a failed: $(head -3 spin.log | tr '\n' ' ')" >result
    return
  fi
  # A broken variant's search is short: compile it fast rather than well.
  local opt=-O2
  [ "$expect" = fail ] && opt=-O0
  local flags=("$opt" -DNOFAIR -DMEMLIM="$memlim" -w -o pan pan.c)
  local panargs=(-m100000 -w"$hash")
  if [ "$search" = np ]; then
    flags=(-DNP -DNOCLAIM "${flags[@]}")
    panargs=(-l "${panargs[@]}")
  else
    flags=(-DSAFETY "${flags[@]}")
  fi
  if ! "$cc" "${flags[@]}" >cc.log 2>&1; then
    echo "cc failed: $(head -3 cc.log | tr '\n' ' ')" >result
    return
  fi
  ./pan "${panargs[@]}" >pan.log 2>&1
  local errors states depth secs
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log | tail -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log | tail -1)
  depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.log | tail -1)
  secs=$((SECONDS - t0))
  local note=""
  grep -q "max search depth too small" pan.log && note="$note depth-limit-hit"
  grep -qi "out of memory\|memory limit" pan.log && note="$note out-of-memory"
  grep -q "Search not completed" pan.log && [ "${errors:-0}" = 0 ] && note="$note incomplete"
  local why
  why=$(grep -m1 "^pan:1:" pan.log | sed 's/^pan:1: //; s/end state in claim reached/never claim violated (P1: a slot below committed changed or was not complete)/')
  echo "${errors:-?}|${states:-?}|${depth:-?}|${secs}|${note# }|${why}" >result
}

# Keep the runs of the selected models only.
selected=()
for r in "${runs[@]}"; do
  IFS='|' read -r name expect search hash defs what model <<<"$r"
  case " $models " in *" ${model:-append} "*) selected+=("$r") ;; esac
done
runs=("${selected[@]}")
if [ "${#runs[@]}" = 0 ]; then
  echo "check.sh: no runs for MODELS='$models' (known: append grow channel semaphore barrier)" >&2
  exit 1
fi

start=$SECONDS
running=0
for r in "${runs[@]}"; do
  IFS='|' read -r name expect search hash defs what model <<<"$r"
  (run_one "$name" "$expect" "$search" "$hash" "$defs" "${model:-append}") &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

status=0
printf '%-20s %-6s %-7s %8s %12s %6s %6s  %s\n' run expect search errors states depth secs result
for r in "${runs[@]}"; do
  IFS='|' read -r name expect search hash defs what model <<<"$r"
  res=$(cat "$tmp/$name/result" 2>/dev/null || echo "no result")
  IFS='|' read -r errors states depth secs note why <<<"$res"
  verdict=ok
  case $expect in
    pass) { [ "$errors" = 0 ] && [ -z "$note" ]; } || verdict=UNEXPECTED ;;
    fail) { [[ "$errors" =~ ^[0-9]+$ ]] && [ "$errors" -ge 1 ]; } || verdict=UNEXPECTED ;;
    info) verdict=info ;;
  esac
  [ "$verdict" = UNEXPECTED ] && status=1
  printf '%-20s %-6s %-7s %8s %12s %6s %6s  %s\n' "$name" "$expect" "$search" "$errors" "$states" "$depth" "$secs" "$verdict${note:+ ($note)}"
  echo "    $what"
  [ -n "$why" ] && echo "    first violation: $why"
  if [ "$errors" = "?" ]; then echo "    $res"; fi
done
echo "total: $((SECONDS - start)) s"
if [ "$status" = 0 ]; then
  echo "check.sh: all runs as expected"
else
  echo "check.sh: some runs NOT as expected (KEEP=1 keeps $tmp for the logs and trails)"
fi
exit "$status"

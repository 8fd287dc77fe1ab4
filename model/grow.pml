/*
 * grow.pml: a Promela model of how a growable table gets its memory, in
 * lib/table/grow.ts (class Growth: ensureRows and its region allocation, heapAlloc,
 * #ensureHeap), and of the places in table.ts / codec.ts / append.ts that
 * rely on it: the heap room taken before the rows are reserved, the reserve
 * loop of RecordTable.#reserve around AppendLog.begin (which reserves only
 * below rowsReady), the writes, and a reader's bounds (length, heapReady).
 * Checked with spin by check.sh.
 *
 * ============================================================================
 * WHAT IS MODELLED
 * ============================================================================
 * Memory is units: row j of region g (NREG row regions: the row states, a
 * column's values, a validity bitmap, ... each sized for MAXR rows) is
 * alloc[g*MAXR + j]; heap unit u (HEAP units in slices of SLICE) is
 * halloc[u].  posix_fallocate(offset, length) of a range is ONE atomic step
 * that either gives every unit of the range memory or fails (ENOSPC) and
 * changes nothing.  That is what tmpfs does: shmem_fallocate holds the inode
 * lock, so calls on one file do not interleave, and on failure it undoes only
 * the pages this call added (mm/shmem.c: "SGP_FALLOC on a folio fallocated
 * earlier must initialize it now, lest undo on failure cancel our earlier
 * guarantee").  Here a failure may happen at any call, at most MAXFAIL
 * times in a run: more often than on tmpfs, which fails only when it needs a
 * new page and has none (or the range is larger than the whole filesystem).
 * Nothing is ever freed.
 *
 * Shared words, as in the table header (layout.ts OFF):
 *   ready      rowsReady   Int32: rows [0, ready) have memory in every region
 *   reserved   append.ts   Int32: next free slot
 *   committed  append.ts   Int32: the table's length
 *   heapTop    BigInt64: heap units handed out (bump pointer)
 *   heapReady  BigInt64: heap units [0, heapReady) have memory
 *
 * Processes:
 *   writer[NW]  each makes NA appends (rows R0.., heap units L0.. below; a
 *               batch's long values are one heap chunk here, as #heapCursor
 *               takes them when they fit in a slice), each like codec.ts
 *               append / table.ts #appendBatch:
 *                 heap room first (heapAlloc), then #reserve (begin; when it
 *                 returns -1: full test, ensureRows(r + n), again), then the
 *                 writes (heap bytes, then each row), then commit.
 *               A writer may die before any step that writes shared memory
 *               (STEP), fallocate included.
 *   reader      never dies: up to READS times while writers run it does what
 *               RecordTable.length and toArrow() / get() do (advance, load
 *               committed, then heapReady, then read below both); once every
 *               writer has finished or died, it runs the end checks.
 *   watchdog    fires only on a deadlock (spin's timeout): asserts that the
 *               reader got through its end checks.
 *
 *  model                                   code
 *  --------------------------------------  ---------------------------------
 *  heapAlloc(len):                         grow.ts Growth.heapAlloc
 *   LOAD top = heapTop                       Atomics.load(h64, iTop)
 *   skip to the next slice if it straddles   (start % slice) + len > slice
 *   start + len > HEAP -> -1 (HEAPFULL)      end > heapSize: return -1 (ERR_SHM_TABLE_FULL)
 *   STEP CAS heapTop top -> start + len      compareExchange; fails: again
 *   ensureHeap(start + len)                  #ensureHeap(end), may throw ENOSPC
 *  ensureHeap(need):                       grow.ts #ensureHeap
 *   LOAD rd = heapReady; need <= rd -> done
 *   STEP fallocate [rd, step)                step = min(HEAP, max(need, rd + max(rd/HDIV, HSTEP)))
 *   fails: STEP fallocate [rd, need);        the catch: exactly n, or throw
 *          fails again: ENOSPC
 *   raise heapReady to target: LOAD cur;     for (cur = load; cur < target; cur = load)
 *     STEP CAS cur -> target                   if (compareExchange(cur, target) === cur) break
 *  #reserve(n) / begin(n):                 table.ts #reserve, append.ts AppendLog.begin
 *   LOAD r = reserved; LOAD rd = ready       begin: r + n > min(load(ready), cap) -> -1
 *   -1: LOAD r = reserved; r + n > MAXR ->     #reserve: log.reserved; ERR_SHM_TABLE_FULL
 *       FULL; else ensureRows(r + n)           (ENOSPC: thrown) and again
 *   STEP CAS reserved r -> r + n             begin: compareExchange; fails: again
 *   (mark, claim: append.pml)
 *  ensureRows(need):                       grow.ts Growth.ensureRows / step()
 *   LOAD rd = ready; need <= rd -> done
 *   per region g: STEP fallocate rows        step(): allocate(ready, ahead), ahead = min(MAXR,
 *     [rd, step) of g; a failure stops         max(need, rd + max(rd >> RSHIFT, ROWSTEP)))
 *   failed: per region again for [rd, need)  step(): allocate(ready, n); fails: throw ENOSPC
 *   raise ready as heapReady above
 *  writes:                                 codec.ts st<k> / bulk.ts write
 *   STEP the value's heap units              BUF.utf8Write / U8.set at h
 *   STEP row j, every region, per row        the views, values, validity, state words
 *  commit: STEP (exact dead(): it cannot     append.ts commit + advance; recovery voids
 *   fail) + ghost advance of committed       the rows of a dead writer (append.pml)
 *  reader: ghost advance; LOAD c =         RecordTable.length; toArrow(): n = length,
 *   committed; LOAD hr = heapReady; reads    then toArrowTable(..., grow.heapReady):
 *   rows [0, c), heap [0, hr), and each      slices of [0, heapReady); get(i):
 *   view of a row below c                    a + n > HEAP + heapReady() -> badView
 *
 * ============================================================================
 * ABSTRACTIONS
 * ============================================================================
 *  - Units, not bytes.  Row j's bytes in a region lie in [per*j, per*(j+1))
 *    (a bitmap: bit j in byte j/8, read as the Int32 word j/32, which never
 *    crosses a page), inside what ensureRows allocates for (from, to) iff from <= j
 *    < to; fallocate works in whole pages, so the real memory is a superset.
 *    A heap unit is a run of bytes; the slice size is SLICE units.
 *  - The append protocol (mark, claim, commit, recovery) is append.pml's:
 *    here commit is one step that cannot fail (exact dead()), and committed
 *    moves over rows that are committed or whose writer died (recovery voids
 *    them) in one ghost step, by a committing writer or by the reader.
 *  - Sequential consistency, as in append.pml.
 *  - Bounded instance: NW writers x NA appends, MAXR rows, HEAP units; see
 *    check.sh for the configurations checked.
 *
 * ============================================================================
 * PROPERTIES (assertions; G = "on publication", U = "at the use")
 * ============================================================================
 *  G1 ready is raised only to a value whose rows are allocated in every
 *     region; heapReady only to one whose units are allocated (asserted in
 *     the raising compareExchange).
 *  G2 the marks never go down (asserted at every update).
 *  G3 append.ts reserves only below ready: reserved <= ready after every
 *     reserve.
 *  U1 every row a writer writes, in every region, has memory.
 *  U2 every heap unit a writer writes has memory and is its own.
 *  U3 heapAlloc never hands out a unit twice (no overlap between writers,
 *     dead ones included), never past HEAP, and never a range that straddles
 *     a slice (an Arrow view's bytes lie in one data buffer).
 *  U4 a reader that loaded committed c and then heapReady hr finds rows
 *     [0, c) allocated in every region, heap units [0, hr) allocated (the
 *     data buffers toArrow() lays over them), and the heap range of every
 *     committed row below c ending at or below hr (its view is valid: inside
 *     its slice's data buffer, and get() does not call it badView).
 *  E  end checks: committed == reserved <= ready <= MAXR; every append of a
 *     writer that did not die has an outcome; one that ended OK owns exactly
 *     its rows, all committed; one that ended FULL, HEAPFULL or ENOSPC owns
 *     no row (the table is as it was: "ENOSPC leaves the table unchanged").
 *  N  (check.sh, -DNP) no infinite execution: no retry loop spins forever.
 *
 * -DUSE_ONLY drops the G assertions, so that a broken variant must be caught
 * by its consequence (U: a write or read of memory that has none, an
 * overlap, a view past the data buffer).
 *
 * ============================================================================
 * SWITCHES (-D on the spin command line)
 * ============================================================================
 *  MAXR, NREG, ROWSTEP, RSHIFT   rows, row regions, MIN_ROW_STEP, the
 *                                ready >> 5 term (5: 0 at these sizes)
 *  HEAP, SLICE, HSTEP, HDIV      heap units, slice, MIN_HEAP_STEP, ready / 32
 *  NW, NA, R0..R5, L0..L5        writers, appends each; rows and heap units
 *                                of append t = w*NA + a (R 0: none)
 *  MAXDEAD, MAXFAIL, READS       deaths, fallocate failures, reader rounds
 *  BROKEN_RAISE_FIRST  ensureRows raises ready before it allocates (bug)
 *  BROKEN_RESERVE      begin tests only the capacity, not ready (bug)
 *  BROKEN_NOSKIP       heapAlloc without the slice-boundary skip (bug)
 *  BROKEN_HEAP_STORE   heapReady raised by load-then-store, not CAS (bug)
 */

#ifndef MAXR
#define MAXR 4
#endif
#ifndef NREG
#define NREG 2
#endif
#ifndef ROWSTEP
#define ROWSTEP 2
#endif
#ifndef RSHIFT
#define RSHIFT 5
#endif
#ifndef HEAP
#define HEAP 6
#endif
#ifndef SLICE
#define SLICE 3
#endif
#ifndef HSTEP
#define HSTEP 2
#endif
#ifndef HDIV
#define HDIV 32
#endif
#ifndef NW
#define NW 2
#endif
#ifndef NA
#define NA 2
#endif
#ifndef R0
#define R0 1
#endif
#ifndef R1
#define R1 1
#endif
#ifndef R2
#define R2 1
#endif
#ifndef R3
#define R3 1
#endif
#ifndef R4
#define R4 1
#endif
#ifndef R5
#define R5 1
#endif
#ifndef L0
#define L0 0
#endif
#ifndef L1
#define L1 0
#endif
#ifndef L2
#define L2 0
#endif
#ifndef L3
#define L3 0
#endif
#ifndef L4
#define L4 0
#endif
#ifndef L5
#define L5 0
#endif
#ifndef MAXDEAD
#define MAXDEAD 1
#endif
#ifndef MAXFAIL
#define MAXFAIL 2
#endif
#ifndef READS
#define READS 1
#endif

#define NT (NW * NA)
#define ROWS(t) (t == 0 -> R0 : (t == 1 -> R1 : (t == 2 -> R2 : (t == 3 -> R3 : (t == 4 -> R4 : R5)))))
#define LEN(t) (t == 0 -> L0 : (t == 1 -> L1 : (t == 2 -> L2 : (t == 3 -> L3 : (t == 4 -> L4 : L5)))))
#define MIN(a, b) ((a) < (b) -> (a) : (b))
#define MAX(a, b) ((a) > (b) -> (a) : (b))

#if MAXR > 15 || HEAP > 15
#error the model keeps rows and heap units in bytes, below 16
#endif
#if SLICE > HEAP
#error SLICE must not exceed HEAP
#endif

/* outcome of an append */
#define PENDING 0
#define OK 1
#define FULL 2      /* ERR_SHM_TABLE_FULL: no row room */
#define HEAPFULL 3  /* ERR_SHM_TABLE_FULL: no heap room */
#define NOSPC 4     /* ENOSPC */

/* shared words */
byte ready, reserved, committed, heapTop, heapReady;
/* memory */
bool alloc[NREG * MAXR];
bool halloc[HEAP];

/* ghosts (not in the code) */
byte own[HEAP];     /* tag of the append that was handed the unit, 0: none */
byte rtag[MAXR];    /* tag of the append that reserved the row */
byte rw[MAXR];      /* writer that reserved the row */
bool done[MAXR];    /* committed by its writer */
byte hend[MAXR];    /* at an append's first row: end of its heap range, 0: none */
bool dead[NW + 1];  /* dead[NW]: the reader, never */
byte ndead, nfail, ndone;
byte outcome[NT];
bool finished;

/* Before a step that writes shared memory, a writer may die instead (stop for good). */
#define STEP(x) \
  if \
  :: (me < NW && ndead < MAXDEAD) -> d_step { dead[me] = true; ndead++; ndone++ }; goto died \
  :: x \
  fi

/* A pure load: dying before it is the same as dying at the next STEP (see append.pml). */
#define LOAD(x) x

#ifdef USE_ONLY
#define GASSERT(x) skip
#else
#define GASSERT(x) assert(x)
#endif

/* committed moves over rows committed, or void (writer dead): append.ts advance + recovery, as one ghost step */
inline advanceC() {
  do
  :: committed < reserved && (done[committed] || dead[rw[committed]]) -> committed++
  :: else -> break
  od;
  skip
}

/*
 * U4 at any moment: what a reader that loaded committed and heapReady now
 * would read has memory, and every committed row's view ends inside the data
 * buffers.  Asserted in every step that moves committed, heapReady or a
 * view's end (with the marks monotone, that is the same as asserting it
 * after every step); the reader process also checks it across its two loads.
 */
inline published() {
  gj = 0;
  do
  :: gj < NREG * MAXR -> assert(gj % MAXR >= committed || alloc[gj]); gj++
  :: else -> break
  od;
  gj = 0;
  do
  :: gj < committed -> assert(!done[gj] || hend[gj] <= heapReady); gj++
  :: else -> break
  od;
  gj = 0;
  do
  :: gj < heapReady -> assert(halloc[gj]); gj++
  :: else -> break
  od;
  gj = 0
}

/* posix_fallocate of rows [from, to) of region reg: all or nothing; sets ok */
inline fallocRows(reg, from, to) {
  STEP(
    if
    :: d_step { nfail < MAXFAIL; nfail++; ok = false }
    :: d_step {
         gj = from;
         do
         :: gj < to -> alloc[reg * MAXR + gj] = true; gj++
         :: else -> break
         od;
         gj = 0; ok = true }
    fi)
}

/* posix_fallocate of heap units [from, to): all or nothing; sets ok */
inline fallocHeap(from, to) {
  STEP(
    if
    :: d_step { nfail < MAXFAIL; nfail++; ok = false }
    :: d_step {
         gj = from;
         do
         :: gj < to -> halloc[gj] = true; gj++
         :: else -> break
         od;
         gj = 0; ok = true }
    fi)
}

/* ensureRows's allocation of rows (from, to): each region in turn, stopping at a failure; sets ok */
inline tryRows(from, to) {
  reg = 0;
  ok = true;
  do
  :: reg < NREG && ok -> fallocRows(reg, from, to); reg++
  :: else -> break
  od;
  reg = 0
}

/* G1: rows [0, x) have memory in every region */
inline rowsAllocated(x) {
  gj = 0;
  do
  :: gj < NREG * MAXR -> GASSERT(gj % MAXR >= x || alloc[gj]); gj++
  :: else -> break
  od;
  gj = 0
}

/* raise ready to target (a CAS-max loop) */
inline raiseRows() {
  do
  :: LOAD(cur = ready);
     if
     :: cur >= target -> break
     :: else ->
        STEP(d_step {
          if
          :: ready == cur -> rowsAllocated(target); GASSERT(target > ready); ready = target; ok = true
          :: else -> ok = false
          fi });
        if
        :: ok -> break
        :: else
        fi
     fi
  od;
  skip;   /* a break must not land on a d_step */
  d_step { cur = 0; ok = false }
}

/* Growth.ensureRows(need): sets err on ENOSPC */
inline ensureRows() {
  err = false;
  LOAD(rd = ready);
  if
  :: need <= rd -> skip
  :: else ->
     step = MIN(MAXR, MAX(need, rd + MAX(rd >> RSHIFT, ROWSTEP)));
     target = step;
#ifdef BROKEN_RAISE_FIRST
     raiseRows();
#endif
     tryRows(rd, step);
     if
     :: !ok ->
        tryRows(rd, need);
        if
        :: !ok -> err = true
        :: else -> target = need
        fi
     :: else
     fi;
#ifndef BROKEN_RAISE_FIRST
     if
     :: !err -> raiseRows()
     :: else
     fi
#endif
  fi;
  d_step { rd = 0; step = 0; target = 0; ok = false }
}

/* raise heapReady to target */
inline raiseHeap() {
  do
  :: LOAD(cur = heapReady);
     if
     :: cur >= target -> break
     :: else ->
#ifdef BROKEN_HEAP_STORE
        STEP(d_step { GASSERT(target >= heapReady); heapReady = target; published() });
        break
#else
        STEP(d_step {
          if
          :: heapReady == cur ->
             gj = 0;
             do
             :: gj < target -> GASSERT(halloc[gj]); gj++
             :: else -> break
             od;
             gj = 0;
             GASSERT(target > heapReady); heapReady = target; published(); ok = true
          :: else -> ok = false
          fi });
        if
        :: ok -> break
        :: else
        fi
#endif
     fi
  od;
  skip;   /* a break must not land on a d_step */
  d_step { cur = 0; ok = false }
}

/* #ensureHeap(need): sets err on ENOSPC */
inline ensureHeap() {
  err = false;
  LOAD(rd = heapReady);
  if
  :: need <= rd -> skip
  :: else ->
     step = MIN(HEAP, MAX(need, rd + MAX(rd / HDIV, HSTEP)));
     target = step;
     fallocHeap(rd, step);
     if
     :: !ok ->
        fallocHeap(rd, need);
        if
        :: !ok -> err = true
        :: else -> target = need
        fi
     :: else
     fi;
     if
     :: !err -> raiseHeap()
     :: else
     fi
  fi;
  d_step { rd = 0; step = 0; target = 0; ok = false }
}

/* Growth.heapAlloc(hl), hl the value's heap units: h = the start, hfull if no room (-1), err on ENOSPC */
inline heapAlloc() {
  hfull = false;
  err = false;
  do
  :: LOAD(top = heapTop);
     h = top;
#ifndef BROKEN_NOSKIP
     if
     :: (h % SLICE) + hl > SLICE -> h = ((h + SLICE - 1) / SLICE) * SLICE
     :: else
     fi;
#endif
     if
     :: h + hl > HEAP -> hfull = true; break
     :: else ->
        STEP(d_step {
          if
          :: heapTop == top ->
             heapTop = h + hl;
             /* U3: one slice, no overlap */
             assert(h / SLICE == (h + hl - 1) / SLICE);
             gj = h;
             do
             :: gj < h + hl -> assert(own[gj] == 0); own[gj] = tag; gj++
             :: else -> break
             od;
             gj = 0;
             ok = true
          :: else -> ok = false
          fi });
        if
        :: ok -> need = h + hl; ensureHeap(); break
        :: else
        fi
     fi
  od;
  skip;   /* a break must not land on a d_step */
  d_step { top = 0; ok = false; need = 0 }
}

active proctype reader() {
  byte me = NW;
  byte reads, c, hr, j, g, t, cnt, gj;
  do
  :: ndone == NW -> break
  :: ndone < NW && reads < READS ->
     reads++;
     d_step { advanceC(); published() };   /* RecordTable.length on a writable attach advances (and recovers) */
     LOAD(c = committed);
     LOAD(hr = heapReady);
     /* U4: what toArrow() and get() read */
     d_step {
       assert(hr <= HEAP);
       j = 0;
       do
       :: j < c ->
          g = 0;
          do
          :: g < NREG -> assert(alloc[g * MAXR + j]); g++
          :: else -> break
          od;
          assert(!done[j] || hend[j] <= hr);
          j++
       :: else -> break
       od;
       j = 0;
       do
       :: j < hr -> assert(halloc[j]); j++
       :: else -> break
       od;
       j = 0; g = 0; c = 0; hr = 0
     }
  od;
  skip;
  /* every writer finished or died: the end checks (E) */
  d_step {
    advanceC();
    assert(committed == reserved);
    assert(reserved <= ready && ready <= MAXR);
    assert(heapTop <= HEAP && heapReady <= HEAP);
    rowsAllocated(reserved);
    t = 0;
    do
    :: t < NT ->
       if
       :: ROWS(t) > 0 ->
          cnt = 0;
          j = 0;
          do
          :: j < reserved -> if :: rtag[j] == t + 1 -> assert(done[j] || dead[rw[j]]); cnt++ :: else fi; j++
          :: else -> break
          od;
          assert(outcome[t] != OK || cnt == ROWS(t));
          assert(outcome[t] == OK || cnt == 0 || outcome[t] == PENDING);
          assert(outcome[t] != PENDING || dead[t / NA])
       :: else
       fi;
       t++
    :: else -> break
    od;
    t = 0; j = 0; cnt = 0
  };
  finished = true
}

active [NW] proctype writer() {
  byte me = _pid - 1;   /* the reader is pid 0 */
  byte a, n, hl, tag, r, rd, s, h, top, need, step, target, cur, reg, gj, j;
  bool ok, err, hfull;
  a = 0;
  do
  :: a == NA -> break
  :: else ->
     n = ROWS(me * NA + a);
     hl = LEN(me * NA + a);
     tag = me * NA + a + 1;
     if
     :: n == 0 -> goto next
     :: else
     fi;
     /* the heap room first (codec.ts append: E.heap before E.reserve; #appendBatch: #heapCursor first) */
     h = 0;
     if
     :: hl > 0 ->
        heapAlloc();
        if
        :: hfull -> outcome[tag - 1] = HEAPFULL; goto next
        :: err -> outcome[tag - 1] = NOSPC; goto next
        :: else
        fi
     :: else
     fi;
     /* #reserve(n): begin(n), and when it returns -1: the full test, ensureRows(r + n), again */
res: skip;
     LOAD(r = reserved);
     LOAD(rd = ready);
#ifdef BROKEN_RESERVE
     if
     :: r + n > MAXR ->
#else
     if
     :: r + n > MIN(rd, MAXR) ->
#endif
        rd = 0;
        LOAD(r = reserved);
        if
        :: r + n > MAXR -> outcome[tag - 1] = FULL; goto next
        :: else
        fi;
        need = r + n;
        ensureRows();
        need = 0;
        if
        :: err -> outcome[tag - 1] = NOSPC; goto next
        :: else -> goto res
        fi
     :: else
     fi;
     rd = 0;
     STEP(d_step {
       if
       :: reserved == r ->
          reserved = r + n;
          GASSERT(reserved <= ready);   /* G3 */
          j = r;
          do
          :: j < r + n -> rtag[j] = tag; rw[j] = me; j++
          :: else -> break
          od;
          j = 0;
          ok = true
       :: else -> ok = false
       fi });
     if
     :: !ok -> goto res
     :: else
     fi;
     s = r;
     r = 0;
     /* the writes (codec.ts st<k>, bulk.ts write): the values' heap bytes, then
        every row in every region: views, values, validity bits.  One step that
        checks them all at the first write (U1, U2): memory is never freed, so
        what has memory then has it at every later write too. */
     STEP(d_step {
       j = h;
       do
       :: j < h + hl -> assert(halloc[j] && own[j] == tag); j++
       :: else -> break
       od;
       j = s * NREG;
       do
       :: j < (s + n) * NREG -> assert(alloc[(j % NREG) * MAXR + j / NREG]); j++
       :: else -> break
       od;
       j = 0 });
     /* commit (append.pml: it cannot fail with an exact dead()), then advance */
     STEP(d_step {
       if
       :: hl > 0 -> hend[s] = h + hl
       :: else
       fi;
       j = s;
       do
       :: j < s + n -> done[j] = true; j++
       :: else -> break
       od;
       j = 0;
       outcome[tag - 1] = OK;
       advanceC();
       published() });
next: skip;
     d_step { a++; n = 0; hl = 0; tag = 0; r = 0; rd = 0; s = 0; h = 0; err = false; hfull = false; ok = false }
  od;
  STEP(ndone++);
died: skip;
  d_step { a = 0; n = 0; hl = 0; tag = 0; r = 0; rd = 0; s = 0; h = 0; top = 0; need = 0; step = 0; target = 0; cur = 0; reg = 0; gj = 0; j = 0; ok = false; err = false; hfull = false }
}

/* a deadlock (nothing can move) is an error unless the reader finished */
active proctype watchdog() {
  timeout -> assert(finished)
}

/*
 * append.pml: a Promela model of the record-table append / recovery protocol
 * in lib/table/append.ts (class AppendLog), checked with spin by check.sh.
 *
 * ============================================================================
 * WHAT IS MODELLED
 * ============================================================================
 * Shared words, as in append.ts:
 *   reserved, committed  the two Int32 header counters
 *   st[CAP]              the 64-bit state word of each slot, encoded in a byte:
 *                          0 FREE, 1 COMMITTED, 2 VOID,
 *                          RUN(m)   = 4 + m   (m >= 1; the word 4 | m<<32),
 *                          claim(w) = 16 + w  (low half with CLAIM_BIT set;
 *                                              w is the writer's identity)
 *                        LOW(x) / HIGH(x) give what Atomics.load of the low /
 *                        high Int32 half returns (RUN / m for a RUN word).
 *   data[CAP]            the row bytes, abstracted to one tag per slot: the
 *                        number (1..NW*NB) of the batch that wrote it, 0 if
 *                        none.  Writing a row (step 4) is one plain store of
 *                        the tag per slot, each its own step.
 *
 * Processes:
 *   writer[NW]  each appends NB batches (sizes S0.. below) one after the
 *               other, like RecordTable.#appendRows: begin(n); write the n
 *               rows; commit(s); when commit returns false, again from begin
 *               (table.ts); begin returning -1 ends the batch as FULL
 *               (ERR_SHM_TABLE_FULL to the caller).  Writers advance (and so
 *               recover) inside begin/commit/abandon, as the code does.
 *               A writer may die before any step that writes shared
 *               memory, and before finishing (see STEP and LOAD).
 *   advancer    a reader / recoverer that never dies: it may run ADV_CALLS
 *               advance() calls concurrently with the writers (0 by default:
 *               see README, a third concurrent process multiplies the state
 *               space), then, once every writer has finished or died, runs
 *               the final advance() in which recovery is due (see below) and
 *               checks the end state.
 *   watchdog    fires only on a deadlock (spin's timeout): asserts that the
 *               advancer got through its end checks.
 *
 * Each step of the model is one atomic action of the code (STEP: a write or
 * compareExchange, with a death choice before it; LOAD: a pure load):
 *
 *  model                                   append.ts (line numbers as of this
 *                                          writing; function and statement
 *                                          are the stable reference)
 *  --------------------------------------  ---------------------------------
 *  writer, begin(n):
 *   LOAD r = reserved (+FULL test)         begin 140-141  Atomics.load(reserved); r+n > cap -> -1
 *   STEP CAS reserved r -> r+n             begin 142      (fails: goto retry = continue)
 *   STEP CAS st[r+1] FREE -> RUN(n-1)      begin 147      mark, only if n > 1
 *   voidFree(r+2, r+n): STEP CAS per slot  begin 148, #voidFree 214
 *   STEP CAS st[r] FREE -> claim(me)       begin 149      claim
 *   advance(); goto retry                  begin 152      (mark or claim failed)
 *  writer, step 4 (table.ts codec.put):
 *   STEP data[s+i] = tag, i = 0..n-1       plain stores of the row bytes
 *  writer, abandon(s) (ABANDON=1 only):
 *   STEP CAS st[s] claim(me) -> VOID       abandon 165; then advance 166
 *  writer, commit(s):
 *   STEP CAS st[s] claim(me) -> COMMITTED  commit: the compareExchange; on success the
 *                                          code then resolves its own RUN (the
 *                                          resolveRun steps below, as any advancer
 *                                          would) and advances stepping over
 *                                          [s, s+n) unread: those slots are final
 *                                          and only its own writes, so reading
 *                                          them (as the model does) changes nothing
 *   (-DBROKEN_COMMIT: a plain store)
 *   false -> goto retry                    table.ts: `if (this.#log.commit(s)) return s;` in a for(;;)
 *  advance():
 *   LOAD c = committed                     advance 174
 *   LOAD ar = reserved                     advance 175
 *   LOAD v = st[k] per scanned slot        advance: the while loop (a 64-bit load)
 *   resolveRun():
 *     LOAD fate = st[k-1]                  #resolveRun: first line
 *     LOAD m = HIGH(st[k])                 #resolveRun: the code takes m from the word
 *                                          the scan loaded; if another resolver
 *                                          finished meanwhile it stores the same
 *                                          fate again (no state changes), where
 *                                          the model reads m = 0 and skips
 *     STEP st[j] = fate, j in k+1..k+m-1   #resolveRun 207 (plain store)
 *     STEP CAS st[k] RUN(m) -> fate        #resolveRun 208
 *   STEP CAS committed c -> k              advance 183 (fails: next iteration = continue)
 *   hole():                                #hole 218-238, when k < ar (advance 184)
 *     LOAD word = st[k]                    #hole 220
 *     "not due" -> false                   #hole 221-228, 231: first sighting, HOLE_CHECK_MS,
 *                                          ZERO_STALL_MS not elapsed (nondeterministic, below)
 *     word == FREE: STEP CAS st[j] FREE -> VOID for j = k.. while it succeeds (j < ar)
 *                                          #hole 232 (zero-stall rule), then true
 *     else LOAD v = LOW(st[k]); no claim bit -> true      #hole 235
 *          dead(word)? (exact: dead[w])   #hole 236; false -> false
 *          STEP CAS st[k] word -> VOID; true              #hole 237
 *
 * Locals that the code keeps (c, r, k, v, fate, m, word, ...) are process
 * locals; they are reset to 0 when dead, only to keep the state space small.
 *
 * ============================================================================
 * ABSTRACTIONS (what the check does not cover)
 * ============================================================================
 *  - Time.  #hole's clocks (holeSlot/holeWord/holeSince/holeChecked,
 *    HOLE_CHECK_MS, ZERO_STALL_MS) are replaced by a nondeterministic "due"
 *    choice at every hole check while writers run: recovery may fire at any
 *    hole check or never.  That is a superset of the timed behaviour for
 *    safety; in particular the zero-stall rule may void the FREE reservation
 *    of a live writer that merely stalled (between reserve and claim) at any
 *    moment.  For progress, time is assumed to pass: in the advancer's final
 *    advance() (all writers finished or dead) every hole check is due.
 *  - dead(claim) is exact: true only for a writer that has died (dead[w] is set
 *    in the same step as the writer stops for good).  -DSUSPECT lets recovery
 *    also void the claim of a LIVE writer (a wrong judgement, as if
 *    provablyDead erred), to show that commit's compare-and-swap keeps that
 *    safe too (the writer's commit fails and it writes the batch again).
 *  - Death: a writer may stop for good (SIGKILL, a crash) before any STEP;
 *    at most MAXDEAD writers die in one run.  Dying before a pure LOAD is not
 *    a separate choice: it equals dying at the next STEP (see LOAD).  The
 *    advancer never dies, but writers do the same advance/recovery steps and
 *    die inside them.
 *  - Memory model: sequentially consistent.  JS Atomics are SeqCst and the
 *    plain stores (row data, the RUN fill) are ordered by them on x86-64 and
 *    arm64; note that the ECMAScript model gives synchronizes-with only
 *    between accesses of equal range, and the code mixes 64-bit CAS with
 *    32-bit loads of the same word (not modelled).
 *  - Row data is one tag per slot; one row written as several stores is not
 *    modelled (a row is "written" when its tag is).
 *  - Bounded instance: NW writers x NB batches of sizes S0.. (<= 3), CAP slots,
 *    see check.sh for the configurations that are checked.
 *
 * ============================================================================
 * PROPERTIES
 * ============================================================================
 *  P1 nothing visible before it is complete, and frozen once visible:
 *     never claim (checked after every step): for every slot j < committed,
 *     st[j] equals the snapshot taken when committed passed j, and that is
 *     VOID, or COMMITTED with data[j] == its snapshot == the tag of the batch
 *     that reserved j (so the committing batch wrote it before it became
 *     visible, and it never changes).  Without SUSPECT the data of VOID
 *     slots is frozen too (with SUSPECT a misjudged live writer may still
 *     write into its voided row: a void row's bytes are unspecified).
 *     Also asserted: RUN resolution only fills FREE (or already-filled)
 *     slots and copies a final head (COMMITTED/VOID).
 *  P2 no row lost, none twice: end checks of the advancer: every reserved
 *     slot is COMMITTED or VOID, all slots of one reservation share the head's
 *     fate; each batch has at most one COMMITTED reservation; a batch whose
 *     commit succeeded has exactly one; a batch that ended FULL or ABANDONED
 *     has none; every batch of a writer that did not die has an outcome.
 *  P3 committed never goes backwards: asserted at its only update (k > c) and
 *     implied by P1's snapshots.
 *  P4 progress: (a) the final advance() (writers finished or dead, recovery
 *     due) ends with committed == reserved within 2*CAP+2 iterations
 *     (asserted); the watchdog catches any deadlock; (b) check.sh also runs
 *     spin's non-progress-cycle search (-DNP, pan -l) with no progress label
 *     anywhere: it finds ANY infinite execution, so passing it means every
 *     execution is finite: no writer (or recoverer) can loop forever, under
 *     any scheduling, without fairness assumptions.
 *
 * ============================================================================
 * SWITCHES (-D on the spin command line)
 * ============================================================================
 *  CAP, NW, NB, S0..S5   instance: capacity, writers, batches per writer,
 *                        sizes of batch t = w*NB + b (0: no such batch)
 *  MAXDEAD               writers that may die (default 1)
 *  ABANDON=1             a writer may abandon (at most MAXABANDON) batches
 *  ADV_CALLS             advance() calls of the advancer while writers run
 *  SUSPECT               recovery may also void a live writer's claim
 *  BROKEN_COMMIT         commit is a plain store st[s] = COMMITTED (bug)
 *  BROKEN_ZEROSTALL      zero-stall voiding loads the slot, then stores VOID
 *                        (check-then-act instead of CAS) (bug)
 */

#ifndef CAP
#define CAP 6
#endif
#ifndef NW
#define NW 2
#endif
#ifndef NB
#define NB 2
#endif
#ifndef S0
#define S0 2
#endif
#ifndef S1
#define S1 1
#endif
#ifndef S2
#define S2 1
#endif
#ifndef S3
#define S3 2
#endif
#ifndef S4
#define S4 1
#endif
#ifndef S5
#define S5 1
#endif
#ifndef MAXDEAD
#define MAXDEAD 1
#endif
#ifndef ABANDON
#define ABANDON 0
#endif
#ifndef MAXABANDON
#define MAXABANDON 1
#endif
#ifndef ADV_CALLS
#define ADV_CALLS 0
#endif

#define NT (NW * NB)
/* size of batch t = w*NB + b (0-based); 0 = no such batch */
#define SIZE(t) (t == 0 -> S0 : (t == 1 -> S1 : (t == 2 -> S2 : (t == 3 -> S3 : (t == 4 -> S4 : S5)))))

/* state words */
#define FREE 0
#define COMMITTED 1
#define VOID 2
#define RUN 4
#define CLAIM 16
#define RUNW(m) (RUN + (m))
#define CLAIMW(w) (CLAIM + (w))
#define IS_RUN(x) ((x) > RUN && (x) < CLAIM)
#define IS_CLAIM(x) ((x) >= CLAIM)
#define LOW(x) (IS_RUN(x) -> RUN : (x))
#define HIGH(x) (IS_RUN(x) -> (x) - RUN : 0)

/* outcome of a batch */
#define PENDING 0
#define OK 1
#define FULL 2
#define ABANDONED 3

/* shared words */
byte reserved;
byte committed;
byte st[CAP];
byte data[CAP];

/* ghosts (not in the code) */
byte resv[CAP];     /* tag of the batch whose reservation holds the slot */
byte rlen[CAP];     /* at a reservation's first slot: its length */
byte fst[CAP];      /* st[j] when committed passed j */
byte fdata[CAP];    /* data[j] when committed passed j */
bool dead[NW + 1];  /* writer w has died (dead[NW]: the advancer, never) */
byte ndead;
byte ndone;         /* writers finished or dead */
byte nabandon;
bool finished;      /* the advancer passed its end checks */
byte outcome[NT];

/*
 * One step of a process: before it, a writer may die instead (stop for good).
 * `me` is the writer's number (NW for the advancer, which does not die).
 */
#define STEP(x) \
  if \
  :: (me < NW && ndead < MAXDEAD) -> d_step { dead[me] = true; ndead++; ndone++ }; goto died \
  :: x \
  fi

/*
 * A pure load needs no death choice before it: dying before a load is the
 * same, for every other process, as dying at the writer's next STEP (loads
 * change nothing shared, and the next STEP follows with no shared access in
 * between; finishing is a STEP too).  Only cuts states.
 */
#define LOAD(x) x

/* Atomics.compareExchange on a word: one step */
#define CAS(a, old, new, res) d_step { if :: (a) == (old) -> a = new; res = true :: else -> res = false fi }

/* ghost: snapshot of the slots that committed passes */
inline snap(from, to) {
  gj = from;
  do
  :: gj < to -> fst[gj] = st[gj]; fdata[gj] = data[gj]; gj++
  :: else -> break
  od;
  gj = 0
}

/* #resolveRun(k): the RUN at slot k; leaves k at the slot after the run */
inline resolveRun() {
  LOAD(fate = LOW(st[k - 1]));
  assert(fate == COMMITTED || fate == VOID);  /* the head is final */
  LOAD(m = HIGH(st[k]));
  j = k + 1;
  do
  :: j < k + m ->
     STEP(d_step { assert(st[j] == FREE || st[j] == fate); st[j] = fate });
     j++
  :: else -> break
  od;
  STEP(CAS(st[k], RUNW(m), fate, ok));
  d_step { k = k + m; m = 0; fate = 0; j = 0; ok = false }
}

/* #hole(k, ar): sets chg when it returns true */
inline hole() {
  chg = false;
  LOAD(word = st[k]);
  if
  :: !fin -> skip     /* not due (yet): return false */
  :: true ->          /* due */
     if
     :: word == FREE ->
        /* zero-stall rule */
        j = k;
        do
        :: j < ar ->
#ifdef BROKEN_ZEROSTALL
           LOAD(ok = (st[j] == FREE));
           if
           :: ok -> STEP(st[j] = VOID)
           :: else
           fi;
#else
           STEP(CAS(st[j], FREE, VOID, ok));
#endif
           if
           :: ok -> j++
           :: else -> break
           fi
        :: else -> break
        od;
        skip;
        d_step { j = 0; ok = false; chg = true }
     :: else ->
        LOAD(v = LOW(st[k]));
        if
        :: !IS_CLAIM(v) -> chg = true    /* finished meanwhile: step on */
        :: else ->
           if
           :: dead[word - CLAIM] -> STEP(CAS(st[k], word, VOID, ok)); d_step { ok = false; chg = true }
           :: !dead[word - CLAIM] -> skip
#ifdef SUSPECT
           :: !dead[word - CLAIM] -> STEP(CAS(st[k], word, VOID, ok)); d_step { ok = false; chg = true }
#endif
           fi
        fi
     fi
  fi;
  word = 0; v = 0
}

/* advance() */
inline advance() {
  iters = 0;
  do
  :: true ->
     if
     :: fin -> assert(iters < 2 * CAP + 2); iters++
     :: else
     fi;
     LOAD(c = committed);
     LOAD(ar = reserved);
     k = c;
     do
     :: k < ar ->
        LOAD(v = LOW(st[k]));
        if
        :: v == COMMITTED || v == VOID -> k++
        :: v == RUN -> resolveRun()
        :: else -> break
        fi
     :: else -> break
     od;
     v = 0;
     again = false;
     if
     :: k > c ->
        STEP(d_step {
          if
          :: committed == c -> assert(k > c); snap(c, k); committed = k
          :: else -> again = true
          fi
        })
     :: else
     fi;
     if
     :: again -> skip   /* continue */
     :: else ->
        if
        :: k < ar ->
           hole();
           if
           :: chg -> skip   /* continue */
           :: else -> break
           fi
        :: else -> break
        fi
     fi
  od;
  skip;
  d_step { c = 0; ar = 0; k = 0; m = 0; fate = 0; chg = false; again = false; ok = false; iters = 0 }
}

/* #voidFree(from, to) */
inline voidFree(from, to) {
  j = from;
  do
  :: j < to -> STEP(CAS(st[j], FREE, VOID, ok)); j++
  :: else -> break
  od;
  j = 0
}

active proctype advancer() {
  byte me = NW;
  byte calls;
  bool fin;
  byte c, ar, k, v, m, fate, j, word, gj, iters;
  bool ok, chg, again;
  do
  :: ndone == NW -> break
  :: ndone < NW && calls < ADV_CALLS -> calls++; advance()
  od;
  calls = 0;
  /* every writer finished or died: from now on recovery is due (time passes) */
  fin = true;
  advance();
  assert(committed == reserved);
  /* end checks (P2) */
  d_step {
    k = 0;
    do
    :: k < CAP ->
       if
       :: k < reserved ->
          assert(st[k] == COMMITTED || st[k] == VOID);
          assert(st[k] != COMMITTED || data[k] == resv[k]);
          if
          :: rlen[k] > 0 ->
             j = k + 1;
             do
             :: j < k + rlen[k] -> assert(st[j] == st[k]); j++
             :: else -> break
             od
          :: else
          fi
       :: else -> assert(st[k] == FREE)
       fi;
       k++
    :: else -> break
    od;
    m = 0;
    do
    :: m < NT ->
       if
       :: SIZE(m) > 0 ->
          c = 0;
          k = 0;
          do
          :: k < reserved ->
             if
             :: rlen[k] > 0 && resv[k] == m + 1 && st[k] == COMMITTED -> c++
             :: else
             fi;
             k++
          :: else -> break
          od;
          assert(c <= 1);
          assert(outcome[m] != OK || c == 1);
          assert(outcome[m] != FULL || c == 0);
          assert(outcome[m] != ABANDONED || c == 0);
          assert(outcome[m] != PENDING || dead[m / NB])
       :: else
       fi;
       m++
    :: else -> break
    od
  };
  finished = true;
died: skip
}

active [NW] proctype writer() {
  byte me = _pid - 1;   /* the advancer is pid 0 */
  bool fin;             /* always false: writers never run the final advance */
  byte b, n, tag, r, s, i;
  bool cok;
  byte c, ar, k, v, m, fate, j, word, gj, iters;
  bool ok, chg, again;
  b = 0;
  do
  :: b == NB || SIZE(me * NB + b) == 0 -> break
  :: else ->
     n = SIZE(me * NB + b);
     tag = me * NB + b + 1;
     /* begin(n) */
retry: skip;
     LOAD(d_step { r = reserved; if :: r + n > CAP -> outcome[tag - 1] = FULL :: else fi });
     if
     :: r + n > CAP -> goto next   /* -1: ERR_SHM_TABLE_FULL */
     :: else
     fi;
     STEP(d_step {
       if
       :: reserved == r ->
          reserved = r + n; ok = true;
          rlen[r] = n;
          i = r;
          do
          :: i < r + n -> resv[i] = tag; i++
          :: else -> break
          od;
          i = 0
       :: else -> ok = false
       fi
     });
     if
     :: !ok -> goto retry
     :: else
     fi;
     if
     :: n > 1 ->
        STEP(CAS(st[r + 1], FREE, RUNW(n - 1), ok));
        if
        :: !ok -> voidFree(r + 2, r + n); advance(); goto retry
        :: else
        fi
     :: else
     fi;
     STEP(CAS(st[r], FREE, CLAIMW(me), ok));
     if
     :: !ok -> advance(); goto retry
     :: else
     fi;
     s = r;
     r = 0;
     /* step 4: write the rows (a value may fail mid-write: abandon) */
     i = 0;
     do
     :: i < n -> STEP(data[s + i] = tag); i++
     :: i < n && ABANDON && nabandon < MAXABANDON ->
        STEP(d_step { nabandon++; outcome[tag - 1] = ABANDONED; if :: st[s] == CLAIMW(me) -> st[s] = VOID :: else fi });
        advance();
        goto next
     :: else -> break
     od;
     /* commit(s) */
#ifdef BROKEN_COMMIT
     STEP(d_step { st[s] = COMMITTED; cok = true; outcome[tag - 1] = OK });
#else
     STEP(d_step { if :: st[s] == CLAIMW(me) -> st[s] = COMMITTED; cok = true; outcome[tag - 1] = OK :: else -> cok = false fi });
#endif
     advance();
     if
     :: cok -> cok = false
     :: else -> goto retry   /* voided by recovery: write it again */
     fi;
next: skip;
     d_step { b++; n = 0; tag = 0; r = 0; s = 0; i = 0; ok = false }
  od;
  STEP(ndone++);
died: skip;
  d_step { b = 0; n = 0; tag = 0; r = 0; s = 0; i = 0; cok = false; c = 0; ar = 0; k = 0; v = 0; m = 0; fate = 0; j = 0; word = 0; gj = 0; iters = 0; ok = false; chg = false; again = false }
}

/* a deadlock (nothing can move) is an error unless the advancer finished */
active proctype watchdog() {
  timeout -> assert(finished)
}

/* P1, checked after every step */
#ifdef SUSPECT
#define VOIDDATA(x) true
#else
#define VOIDDATA(x) (data[x] == fdata[x])
#endif
#define FROZEN(x) ((x) >= committed || (st[x] == fst[x] && ((fst[x] == VOID && VOIDDATA(x)) || (fst[x] == COMMITTED && data[x] == fdata[x] && fdata[x] == resv[x]))))
#if CAP > 8 || CAP < 3
#error the invariant below covers 3 to 8 slots
#endif
#if CAP > 3
#define FROZEN3 && FROZEN(3)
#else
#define FROZEN3
#endif
#if CAP > 4
#define FROZEN4 && FROZEN(4)
#else
#define FROZEN4
#endif
#if CAP > 5
#define FROZEN5 && FROZEN(5)
#else
#define FROZEN5
#endif
#if CAP > 6
#define FROZEN6 && FROZEN(6)
#else
#define FROZEN6
#endif
#if CAP > 7
#define FROZEN7 && FROZEN(7)
#else
#define FROZEN7
#endif
#define INV (FROZEN(0) && FROZEN(1) && FROZEN(2) FROZEN3 FROZEN4 FROZEN5 FROZEN6 FROZEN7)

never {
  do
  :: !INV -> break
  :: else
  od
}

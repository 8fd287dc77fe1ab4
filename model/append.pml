/* draft */
#ifndef CAP
#define CAP 5
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

#define NT (NW * NB)
/* batch t = w*NB + b (0-based); its size; 0 = no such batch */
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

/* outcomes of a batch */
#define PENDING 0
#define OK 1
#define FULL 2
#define ABANDONED 3

byte reserved;
byte committed;
byte st[CAP];
byte data[CAP];

/* ghosts */
byte resv[CAP];
byte rlen[CAP];
byte fst[CAP];
byte fdata[CAP];
bool dead[NW + 1];
byte ndead;
byte ndone;
byte nabandon;
bool final;
bool finished;
byte outcome[NT];

#define STEP(x) \
  if \
  :: (me < NW && ndead < MAXDEAD) -> d_step { dead[me] = true; ndead++; ndone++ }; goto died \
  :: x \
  fi

#define CAS(a, old, new, res) d_step { if :: (a) == (old) -> a = new; res = true :: else -> res = false fi }

inline snap(from, to) {
  gj = from;
  do
  :: gj < to -> fst[gj] = st[gj]; fdata[gj] = data[gj]; gj++
  :: else -> break
  od;
  gj = 0
}

inline resolveRun() {
  STEP(fate = LOW(st[k - 1]));
  assert(fate == COMMITTED || fate == VOID);
  STEP(m = HIGH(st[k]));
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

inline hole() {
  chg = false;
  STEP(word = st[k]);
  if
  :: !final -> skip
  :: true ->
     if
     :: word == FREE ->
        j = k;
        do
        :: j < ar ->
#ifdef BROKEN_ZEROSTALL
           STEP(ok = (st[j] == FREE));
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
        STEP(v = LOW(st[k]));
        if
        :: !IS_CLAIM(v) -> chg = true
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

inline advance() {
  iters = 0;
  do
  :: true ->
     if
     :: final -> assert(iters < 2 * CAP + 2); iters++
     :: else
     fi;
     STEP(c = committed);
     STEP(ar = reserved);
     k = c;
     do
     :: k < ar ->
        STEP(v = LOW(st[k]));
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
     :: again -> skip
     :: else ->
        if
        :: k < ar ->
           hole();
           if
           :: chg -> skip
           :: else -> break
           fi
        :: else -> break
        fi
     fi
  od;
  skip;
  d_step { c = 0; ar = 0; k = 0; m = 0; fate = 0; chg = false; again = false; ok = false; iters = 0 }
}

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
  byte c, ar, k, v, m, fate, j, word, gj, iters;
  bool ok, chg, again;
#ifndef ADV_CALLS
#define ADV_CALLS 0
#endif
  do
  :: ndone == NW -> break
  :: ndone < NW && calls < ADV_CALLS -> calls++; advance()
  od;
  calls = 0;
  final = true;
  advance();
  assert(committed == reserved);
  /* final checks */
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
  byte me = _pid - 1;
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
retry: skip;
     STEP(r = reserved);
     if
     :: r + n > CAP -> outcome[tag - 1] = FULL; goto next
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
     i = 0;
     do
     :: i < n -> STEP(data[s + i] = tag); i++
     :: i < n && nabandon < MAXABANDON && ABANDON ->
        nabandon++;
        STEP(CAS(st[s], CLAIMW(me), VOID, ok));
        advance();
        outcome[tag - 1] = ABANDONED;
        goto next
     :: else -> break
     od;
#ifdef BROKEN_COMMIT
     STEP(d_step { st[s] = COMMITTED; cok = true });
#else
     STEP(CAS(st[s], CLAIMW(me), COMMITTED, cok));
#endif
     advance();
     if
     :: cok -> cok = false; outcome[tag - 1] = OK
     :: else -> goto retry
     fi;
next: skip;
     d_step { b++; n = 0; tag = 0; r = 0; s = 0; i = 0; ok = false }
  od;
  ndone++;
died: skip;
  d_step { b = 0; n = 0; tag = 0; r = 0; s = 0; i = 0; cok = false; c = 0; ar = 0; k = 0; v = 0; m = 0; fate = 0; j = 0; word = 0; gj = 0; iters = 0; ok = false; chg = false; again = false }
}

active proctype watchdog() {
  timeout -> assert(finished)
}

#ifdef SUSPECT
#define VOIDDATA(x) true
#else
#define VOIDDATA(x) (data[x] == fdata[x])
#endif
#define FROZEN(x) ((x) >= committed || (st[x] == fst[x] && ((fst[x] == VOID && VOIDDATA(x)) || (fst[x] == COMMITTED && data[x] == fdata[x] && fdata[x] == resv[x]))))
#if CAP > 8
#error the invariant below covers at most 8 slots
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
#define INV (FROZEN(0) && FROZEN(1) && FROZEN(2) && FROZEN(3) && FROZEN(4) FROZEN5 FROZEN6 FROZEN7)

never {
  do
  :: !INV -> break
  :: else
  od
}

/*
 * channel.pml: a Promela model of a channel's message ring, lib/channel/ring.ts
 * (class Ring: reserve, publish, look, take). Checked with spin by check.sh.
 *
 * WHAT IS MODELLED
 * N slots; data[i] stands for the bytes of slot i (the value of the message
 * that wrote it last). Writer w sends NM messages; message m of writer w has
 * the value v = w*NM + m + 1 and takes K(w, m) slots (1 or 2, see KSLOTS).
 * Every shared access of ring.ts is one atomic step, as Atomics.* are; the
 * copy of a k-slot message is k steps, so a writer may overwrite slots while
 * a reader copies them. Positions do not wrap (the TypeScript compares
 * int32 differences; a run here never goes near 2^31).
 *
 * Shared words, as in ring.ts: tail, head, own[i] (0 or writer w+1: the
 * claim), seq[i] (p+1 once the message at p is published), klen[i]. A
 * reader looks at seq[i]; only if it is not published does it read own[i]
 * and then seq[i] again, as Ring.look does.
 * dead[w] is what ports.dead() answers: exact (provablyDead is exact for a
 * dead task; it never calls a live one dead).
 *
 * Deaths: writers < MAXDEADW may die before any step (their process is
 * SIGKILLed); readers < MAXDEADR may die before any step.
 *
 * WHAT IS CHECKED
 *   P1 (assert) a reader that takes a message (its compareExchange on head
 *      succeeded) copied it whole: every slot held the message's value;
 *   P2 (assert) no message is taken twice;
 *   P3 (assert) the messages of one writer are taken in the order it sent them;
 *   P4 (final check, after every process ended) every message published by
 *      a writer is taken; a message is taken only if it was reserved
 *      (not made up);
 *   P5 no reader or writer waits for ever: spin reports a blocked state that
 *      is not a valid end state (every wait below is a blocking guard).
 *
 * BROKEN VARIANTS (must fail):
 *   BROKEN_TAKE_FIRST  the reader takes (compareExchange head) before it copies
 *   BROKEN_RELEASE     the writer lets go of own before it publishes seq
 *   BROKEN_ROOM        the writer's room test allows one slot too many
 *   BROKEN_LOOK_ORDER  the reader judges own against the seq it read before own
 */

#ifndef N
#define N 2
#endif
#ifndef NW
#define NW 2
#endif
#ifndef NR
#define NR 2
#endif
#ifndef NM
#define NM 2
#endif
#ifndef MAXDEADW
#define MAXDEADW 1
#endif
#ifndef MAXDEADR
#define MAXDEADR 1
#endif
/* KSLOTS=1: every message takes 1 slot; 2: message m of writer w takes 2 when w + m is odd. */
#ifndef KSLOTS
#define KSLOTS 2
#endif
#define K(w, m) ((((w) + (m)) % 2 == 1 && KSLOTS == 2) -> 2 : 1)
#define NMSG (NW * NM)

#ifdef BROKEN_ROOM
#define ROOM (N + 1)
#else
#define ROOM N
#endif

byte tail, head;
byte own[N];
byte seq[N];
byte klen[N];
byte data[N];
bool dead[NW];
byte published[NMSG];   /* 1 once the writer published it */
byte reserved[NMSG];    /* 1 once the writer moved tail for it */
byte taken[NMSG];       /* times taken */
byte lastm[NW];         /* 1 + the last message of writer w taken (0: none) */
byte wdone;             /* writers that ended (done or dead) */
byte rdone;

/* A writer may die before a step: at most MAXDEADW writers, the first ones. */
#define WDIE if :: (w < MAXDEADW) -> goto wdie :: true -> skip fi
#define RDIE if :: (r < MAXDEADR) -> goto rdie :: true -> skip fi

proctype writer(byte w) {
  byte m, k, p, i, j, cur;
  for (m : 0 .. NM - 1) {
    k = K(w, m);
again:
    WDIE;
    /* 1. room (a blocking guard: wait until readers free some) */
    atomic { p = tail; (p + k - head <= ROOM) || tail != p }
    if :: tail != p -> goto again :: else -> skip fi;
    i = p % N;
    WDIE;
    /* 2. claim own[i]: 0 -> w+1; a dead claimant is taken over while tail is p */
    atomic {
      cur = own[i];
      if
      :: cur == 0 -> own[i] = w + 1
      :: cur != 0 && cur != w + 1 && tail == p && dead[cur - 1] -> own[i] = w + 1
      :: else -> skip
      fi
    }
    if
    :: own[i] != w + 1 ->
      /* a live claimant (it is about to move tail or let go): wait for a change */
      atomic { own[i] != cur || tail != p || (cur != 0 && dead[cur - 1]) }
      goto again
    :: else -> skip
    fi;
    WDIE;
    if
    :: tail != p ->
      atomic { if :: own[i] == w + 1 -> own[i] = 0 :: else -> skip fi }
      goto again
    :: else -> skip
    fi;
    WDIE;
    klen[i] = k;
    WDIE;
    atomic { assert(tail == p); tail = p + k; reserved[w * NM + m] = 1 }
    /* 4. write */
    for (j : 0 .. k - 1) {
      WDIE;
      data[(p + j) % N] = w * NM + m + 1
    }
#ifdef BROKEN_RELEASE
    WDIE;
    atomic { if :: own[i] == w + 1 -> own[i] = 0 :: else -> skip fi }
    WDIE;
    atomic { seq[i] = p + 1; published[w * NM + m] = 1 }
#else
    WDIE;
    /* 5. publish, then let go */
    atomic { seq[i] = p + 1; published[w * NM + m] = 1 }
    WDIE;
    atomic { if :: own[i] == w + 1 -> own[i] = 0 :: else -> skip fi }
#endif
  }
  wdone++;
  goto wend;
wdie:
  atomic { dead[w] = 1; wdone++ }
wend:
  skip
}

proctype reader(byte r) {
  byte p, i, k, j, v, claim, s;
  bool whole;
  do
  :: RDIE;
    p = head;
    if
    :: tail == p ->
      /* empty: wait for a reservation, or the end */
      atomic { tail != p || head != p || wdone == NW }
      if :: tail == p && head == p && wdone == NW -> break :: else -> skip fi
    :: else ->
      i = p % N;
      RDIE;
      /* seq first (published: own is not needed); else own, then seq again */
      s = seq[i];
      claim = 0;
      if
      :: s != p + 1 ->
        RDIE;
        claim = own[i];
#ifndef BROKEN_LOOK_ORDER
        RDIE;
        s = seq[i]
#endif
      :: else -> skip
      fi;
      if
      :: s == p + 1 ->
        RDIE;
        k = klen[i];
#ifdef BROKEN_TAKE_FIRST
        RDIE;
        atomic { if :: head == p -> head = p + k; whole = 1 :: else -> whole = 0 fi }
        if :: !whole -> goto next :: else -> skip fi;
#endif
        /* copy out, a slot per step */
        v = data[i];
        whole = 1;
        for (j : 1 .. k - 1) {
          RDIE;
          if :: data[(p + j) % N] != v -> whole = 0 :: else -> skip fi
        }
#ifndef BROKEN_TAKE_FIRST
        RDIE;
        atomic {
          if
          :: head == p ->
            head = p + k;
#else
        atomic {
          if
          :: true ->
#endif
            assert(whole && v >= 1 && v <= NMSG);                   /* P1 */
            assert(reserved[v - 1] == 1);                           /* P4: not made up */
            taken[v - 1]++;
            assert(taken[v - 1] == 1);                              /* P2 */
            assert(lastm[(v - 1) / NM] <= (v - 1) % NM);            /* P3 */
            lastm[(v - 1) / NM] = (v - 1) % NM + 1
          :: else -> skip
          fi
        }
      :: s != p + 1 && claim == 0 ->
        /* voided by a reader: skip it */
        RDIE;
        atomic { if :: head == p -> head = p + klen[i] :: else -> skip fi }
      :: s != p + 1 && claim != 0 ->
        if
        :: dead[claim - 1] ->
          RDIE;
          atomic { if :: own[i] == claim -> own[i] = 0 :: else -> skip fi }
        :: else ->
          /* a live writer at it: wait for a change (ports.wake, or the liveness look) */
          atomic { own[i] != claim || seq[i] == p + 1 || head != p || dead[claim - 1] }
        fi
      fi
    fi;
next:
    skip
  od;
  rdone++;
  goto rend;
rdie:
  rdone++;
rend:
  skip
}

init {
  byte w, r, x;
  atomic {
    for (w : 0 .. NW - 1) { run writer(w) }
    for (r : 0 .. NR - 1) { run reader(r) }
  }
  (wdone == NW && rdone == NR);
  /* P4: every published message was taken, unless every reader died */
  if
  :: MAXDEADR < NR ->
    for (x : 0 .. NMSG - 1) {
      assert(published[x] == 0 || taken[x] == 1)
    }
  :: else -> skip
  fi
}

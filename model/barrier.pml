/*
 * barrier.pml: a Promela model of the barrier protocol in
 * lib/sync/barrier-state.ts (arrive, completeIfDue, repair, breakRound,
 * missing) with the state lock (lib/sync/state-lock.ts, recoverIfDead) and
 * the wait loop of lib/sync/barrier.ts, checked with spin by check.sh.
 *
 * Shared state, as in the code: gen (even: the round's number times 2; odd:
 * broken), member[p] and arrived[p] (the slot of party p: its id is set,
 * and the gen of its last arrival; 255 = never, odd like the code's -1),
 * lock (0 or p+1). Each of NP parties waits R rounds: in the lock it
 * records its arrival (member, then arrived: two stores) and counts the
 * slots arrived in this gen; the arrival that makes them NP stores gen + 2.
 * A waiter of gen g sleeps on gen; it passes when gen is neither g nor g|1,
 * and is broken when gen is g|1.
 *
 * Death: before any step that writes shared memory a party that is a member
 * (it recorded its first arrival's slot) may die (at most MAXDEAD), also
 * inside the lock. dead() is exact. A waiter's liveness
 * slice fires, in each wait(), once per death it has not yet seen there (so a waiter that would
 * need a second look to get on deadlocks here: a hang that the real
 * 100 ms slices would repeat forever), or, with -DTIMEOUT, at any time
 * once: a timeout, which breaks the round. The slice takes over a lock whose holder is
 * dead (repair: end the round if all arrived) and breaks the round if a
 * member that has not arrived in it is dead.
 *
 *  P1  no one passes early: a party passing round r sees every party's
 *      round counter (set with its arrival) at r or more   assertion
 *  P2  a barrier breaks only after a death or a timeout    assertion
 *  P3  no deadlock: every live party ends passed or broken invalid end states
 *
 * Broken variants (must be caught):
 *  -DBROKEN_WAKE_PASSES  a waiter passes on any wake, without looking at gen
 *  -DBROKEN_NO_REPAIR    a dead holder's lock taken over without ending a complete round
 */
#ifndef NP
#define NP 3
#endif
#ifndef R
#define R 2
#endif
#ifndef MAXDEAD
#define MAXDEAD 1
#endif

byte gen = 0;
bit member[NP];
byte arrived[NP] = 255;
byte lock = 0;
bit waiting[NP];
bit dead[NP];
byte rnd[NP];      /* ghost: rounds this party has arrived at */
byte ndead = 0;
byte timeouts = 0;

#define anyDead (ndead > 0)
/* Only a member may die: one that dies before its first arrival is recorded was never
   known to the barrier, and the others wait for it until their timeouts (documented). */
#define DIE if :: ndead < MAXDEAD && member[p] -> atomic { dead[p] = 1; ndead++ } goto gone :: true -> skip fi
#define ARRIVALS(g) ((arrived[0] == g) + (arrived[1] == g) + (arrived[2] == g))
#define MISSING_DEAD(g) ((member[0] && arrived[0] != g && dead[0]) || (member[1] && arrived[1] != g && dead[1]) || (member[2] && arrived[2] != g && dead[2]))

inline wakeAll() {
  atomic { waiting[0] = 0; waiting[1] = 0; waiting[2] = 0 }
}

/* completeIfDue, in the lock: the one store that ends a round. */
inline completeIfDue(g) {
  if
  :: ARRIVALS(g) == NP -> DIE; gen = g + 2; last = 1
  :: else -> skip
  fi
}

inline repair() {
#ifndef BROKEN_NO_REPAIR
  if :: (gen & 1) == 0 -> h = gen; completeIfDue(h) :: else -> skip fi;
#endif
  wakeAll()
}

inline enter() {
  if
  :: atomic { lock == 0 -> lock = p + 1 }
  :: atomic { lock != 0 && dead[lock - 1] -> lock = p + 1 }; last = 0; repair()
  fi
}

inline leave() {
  DIE; lock = 0
}

/* breakRound(g) in the lock, then wake everyone. */
inline breakIt(g) {
  enter();
  if :: gen == g -> DIE; gen = g | 1 :: else -> skip fi;
  leave();
  wakeAll()
}

proctype Party(byte p) {
  byte r = 0, g, v, h, seen = 0;
  bit last;
  do
  :: r < R ->
     enter();
     last = 0;
     g = gen;
     if
     :: (g & 1) == 1 -> leave(); goto broken
     :: else -> skip
     fi;
     if :: !member[p] -> DIE; member[p] = 1 :: else -> skip fi;
     DIE; atomic { arrived[p] = g; rnd[p] = r + 1 };
     completeIfDue(g);
     leave();
     if
     :: last -> wakeAll()
     :: else ->
        seen = 0;
        do
        :: v = gen;
           if
           :: v == (g | 1) -> goto broken
           :: v != g && v != (g | 1) -> break
           :: else -> skip
           fi;
           atomic { if :: gen == g -> waiting[p] = 1 :: else -> skip fi };
           if
           :: atomic { waiting[p] == 0 || seen < ndead -> waiting[p] = 0; seen = ndead }
#ifdef TIMEOUT
           :: atomic { timeouts == 0 -> timeouts++; waiting[p] = 0 }; breakIt(g)
#endif
           fi;
#ifdef BROKEN_WAKE_PASSES
           break;
#endif
           /* the liveness slice */
           if
           :: anyDead ->
              if
              :: atomic { lock != 0 && dead[lock - 1] -> lock = p + 1 }; repair(); leave()
              :: else -> skip
              fi;
              if :: MISSING_DEAD(g) -> breakIt(g) :: else -> skip fi
           :: else -> skip
           fi
        od
     fi;
     /* passed round r */
     assert(rnd[0] >= r + 1 && rnd[1] >= r + 1 && rnd[2] >= r + 1);
     r++
  :: else -> break
  od;
  goto gone;
broken:
  assert(ndead > 0 || timeouts > 0);
gone:
  skip
}

init {
  atomic { run Party(0); run Party(1); run Party(2) }
}

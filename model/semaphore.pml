/*
 * semaphore.pml: a Promela model of the semaphore protocol in
 * lib/sync/semaphore-state.ts (take, give, repair, reclaim), the state lock
 * around it (lib/sync/state-lock.ts) and the acquire/release loops of
 * lib/sync/semaphore.ts, checked with spin by check.sh.
 *
 * Shared state, as in the code: count, held[p] (the slot of process p: one
 * slot per process, the table search is local to the lock holder), seq and
 * sleepers (the futex word and its sleeper count), lock (0 or p+1).
 * Each process acquires ITER times: take in the lock; on failure sleep on
 * seq (registered in sleepers) and try again; inside; release: give in the
 * lock, then wake one sleeper if sleepers > 0.
 *
 * Death: before any step that writes shared memory a process may die
 * (at most MAXDEAD of them), also inside the lock between the slot and
 * count stores. dead() is exact. A lock whose holder is dead is taken over
 * (StateLock: after SUSPECT_MS) and the state repaired.
 *
 * Futex: a wait compares seq and queues atomically; it ends only when a
 * wake picks it, or - the liveness slice - once some process is dead (the
 * slice matters only for reclaiming). So a lost wakeup is a deadlock here,
 * which spin reports as an invalid end state.
 *
 *  P1  never more than PERMITS processes inside (a dead one inside counts
 *      until its permits are reclaimed)              assertion at entry
 *  P2  at the end, once the dead are reclaimed, count == PERMITS
 *                                                    assertion in the checker
 *  P3  no deadlock: every live process finishes      invalid end states
 *
 * Broken variants (must be caught):
 *  -DBROKEN_NO_REPAIR  taking over a dead holder's lock without recomputing count
 *  -DBROKEN_SEQ_LATE   a waiter reads seq after its failed take, not before
 */
/* Three processes: Proc(0..2), INSIDE and the sums below spell them out. */
#define NP 3
#ifndef PERMITS
#define PERMITS 2
#endif
#ifndef ITER
#define ITER 2
#endif
#ifndef MAXDEAD
#define MAXDEAD 1
#endif

byte count = PERMITS;
byte held[NP];
byte seq = 0;
byte sleepers = 0;
byte lock = 0;
bit waiting[NP];
bit dead[NP];
bit inside[NP];
byte ndead = 0;
byte finished = 0;

#define anyDead (ndead > 0)
/* A death choice, then the step. */
#define DIE if :: ndead < MAXDEAD -> atomic { dead[p] = 1; ndead++ } goto gone :: true -> skip fi
#define INSIDE (inside[0] + inside[1] + inside[2])

inline repair() {
#ifndef BROKEN_NO_REPAIR
  DIE; count = PERMITS - (held[0] + held[1] + held[2]);
#endif
  DIE; seq++;
  wakeAll()
}

inline wakeAll() {
  atomic { waiting[0] = 0; waiting[1] = 0; waiting[2] = 0 }
}

/* StateLock.enter: take a free lock, or take over a dead holder's and repair. */
inline enter() {
  if
  :: atomic { lock == 0 -> lock = p + 1 }
  :: atomic { lock != 0 && dead[lock - 1] -> lock = p + 1 }; repair()
  fi
}

inline leave() {
  DIE; lock = 0
}

/* Wakes one sleeper (futexWake(seq, 1)), if any. */
inline wakeOne() {
  if
  :: sleepers > 0 ->
     atomic {
       if
       :: waiting[0] -> waiting[0] = 0
       :: waiting[1] -> waiting[1] = 0
       :: waiting[2] -> waiting[2] = 0
       :: else -> skip
       fi
     }
  :: else -> skip
  fi
}

/* A waiter's liveness slice: return the permits of dead holders. */
inline reclaimDead() {
  q = 0;
  do
  :: q < NP ->
     if
     :: dead[q] && held[q] > 0 ->
        enter();
        if
        :: held[q] > 0 ->
           DIE; atomic { t = held[q]; held[q] = 0; inside[q] = 0 }  /* reclaim(): the slot first */
           DIE; count = count + t;
           DIE; seq++
        :: else -> skip
        fi;
        leave();
        wakeAll()
     :: else -> skip
     fi;
     q++
  :: else -> break
  od
}

proctype Proc(byte p) {
  byte it = 0, s, q, t;
  bit ok, sleeping;
  do
  :: it < ITER ->
     sleeping = 0;
again:
#ifndef BROKEN_SEQ_LATE
     s = seq;
#endif
     enter();
     if
     :: count > 0 ->
        DIE; held[p]++;           /* take(): the slot first */
        DIE; atomic { count--; inside[p] = 1; assert(INSIDE <= PERMITS) };
        ok = 1
     :: else -> ok = 0
     fi;
     leave();
#ifdef BROKEN_SEQ_LATE
     s = seq;
#endif
     if
     :: !ok ->
        if :: anyDead -> reclaimDead() :: else -> skip fi;
        if
        :: !sleeping -> DIE; sleepers++; sleeping = 1
        :: else -> skip
        fi;
        atomic { if :: seq == s -> waiting[p] = 1 :: else -> skip fi };
        atomic { waiting[p] == 0 || anyDead -> waiting[p] = 0 };
        goto again
     :: else -> skip
     fi;
     if :: sleeping -> DIE; sleepers-- :: else -> skip fi;
     /* inside */
     inside[p] = 0;
     enter();
     DIE; held[p]--;              /* give(): the slot first */
     DIE; count++;
     DIE; seq++;
     leave();
     wakeOne();
     it++
  :: else -> break
  od;
  finished++;
gone:
  skip
}

/* Once all have finished or died: reclaim as a live waiter would, then P2. */
active proctype Checker() {
  byte p = NP, q, t;
  (finished + ndead == NP);
  atomic { if :: lock != 0 -> assert(dead[lock - 1]) :: else -> skip fi };
  if
  :: lock != 0 -> lock = p + 1;
#ifndef BROKEN_NO_REPAIR
     count = PERMITS - (held[0] + held[1] + held[2]);
#endif
     lock = 0
  :: else -> skip
  fi;
  q = 0;
  do
  :: q < NP -> if :: dead[q] -> count = count + held[q]; held[q] = 0 :: else -> skip fi; q++
  :: else -> break
  od;
  assert(count == PERMITS);
gone:
  skip
}

init {
  atomic {
    run Proc(0); run Proc(1); run Proc(2)
  }
}

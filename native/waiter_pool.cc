// The process-wide pool of waiter threads behind futexWaitAsync (waitAsync).
//
// This file holds the pool and its threads: what a thread arms, how it
// sleeps (futex_waitv, or the fallback) and what it does on waking. The
// groups, buckets and spill it sleeps on are kept in waiter_groups.cc;
// delivery to each environment is in waiter_env.cc.
//
// Threads. At most 32 small threads (thread.h: 64 KiB of stack, every signal
// blocked), started on demand; one that has had nothing to wait for during 10
// seconds ends. One pool serves the main thread and every worker environment
// (the addon is loaded once per process); it is deliberately leaked, so that
// no static destructor runs under a live pool thread at exit. libuv's thread
// pool is never used, so pending waits never delay fs or dns calls.
//
// Grouping. Pending waits on the same word (same address) with the same
// expected value form one group: one futex_waitv entry (Linux >= 5.16), however
// many waits and environments it stands for. A thread sleeps in one
// futex_waitv over up to 128 entries: entry 0 is a private control word it is
// poked on when its set of groups changes, entries 1..127 are groups. A new
// group gets a thread of its own while fewer than 32 run (see the re-arm
// window below for why), else goes to the least-loaded thread. Each wait
// keeps its own deadline; a thread sleeps until the earliest deadline of its
// waits (absolute CLOCK_MONOTONIC), so 'timed-out' comes at the deadline.
//
// What a notify gives. The kernel sees one waiter per group, so
// notify(i32, i, n) from any process wakes up to n groups' entries and counts
// (returns) each as one waiter, however many waits it stands for. When a
// thread learns that an entry woke, it resolves, with 'ok':
//   - every wait of the group if the word no longer holds the expected value
//     (the documented protocol is "change the word, then notify": then every
//     waiter of this process looks again, and one notify(1) is enough);
//   - otherwise only the oldest wait (FIFO); the others stay armed.
// So a notify of count n settles at least one wait in each group of this
// process whose entry it wakes (at most n groups) and whose thread hears of it
// (see below): one wait per group if the value is unchanged, not n waits; all
// of the group's waits if the value changed.
// Re-arm window: a thread is out of the wait queues from its first wake (a
// notify, a deadline, a poke because one of its groups came, went, or got an
// earlier deadline) until it has re-armed, a few microseconds of bookkeeping
// later (never a blocking call). A notify that lands on one of its words in
// that window and leaves the value unchanged is not seen by those waits; they
// stay pending until the next notify, a change of value, or their deadline.
// That includes a notify that reaches a second entry of a thread already
// woken through the first and not yet out of the kernel: futex_waitv reports
// one woken entry, so the kernel counts that notify as delivered (notify()
// returns it) but the thread never hears of it. Hence one group per thread
// while there are no more than 32: then only a word's own re-arm can hide a
// notify from it. A changed value is never missed: every arm and re-arm passes
// each group's expected value, and the kernel compares it atomically with
// queueing (EAGAIN if it differs); after every return the thread compares
// every word of its set and resolves each group whose value changed. So a
// wait started by waitAsync is never lost to a concurrent "store, notify".
//
// Spill. 32 threads hold 32 x 127 = 4,064 groups. Beyond that, new groups wait
// in a spill list that thread 0 polls every 2 ms: changes of value and
// deadlines are seen within 2 ms, a notify without a change is not. A spilled
// group moves into a kernel slot, oldest first, as soon as one frees.
//
// Fallback without futex_waitv (ENOSYS before 5.16, EPERM under a seccomp
// filter; SHMKIT_NO_FUTEX_WAITV=1 in the environment forces it, for tests):
// each thread carries one group and sleeps in FUTEX_WAIT_BITSET on that word
// in slices of at most 20 ms, looking at its set between slices (a wait added
// to an armed group with an earlier deadline may time out up to one slice
// late); a thread without a group sleeps on its control word. Groups beyond 32
// spill as above. Same guarantees otherwise, and as each thread waits on one
// word, a wake the kernel counts is always heard.
//
// Mapping lifetime. Every wait pins its word's mapping (segment.cc,
// PinSharedRange), and each thread pins the words it has armed until it has
// left the kernel and re-armed, so a segment closed or collected with waits
// pending stays mapped until its last wait ends (resolved or cancelled) and
// is unmapped then. A pool thread reads a word only under the pool lock while
// its group holds a wait, hence a pin.
#include "waiter_pool.h"

#if defined(__linux__)

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "waiter_pool_internal.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
struct futex_waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t __reserved;
};
#endif

namespace shmkit {

namespace waitpool {

constexpr int64_t kSpillPollNs = 2000000;
constexpr int64_t kFallbackSliceNs = 20000000;
constexpr int64_t kIdleExitNs = 10000000000;

Pool& GetPool() {
  static Pool* pool = [] {
    Pool* p = new Pool();
    const char* force = getenv("SHMKIT_NO_FUTEX_WAITV");
    bool forced = force != nullptr && *force != '\0' && strcmp(force, "0") != 0;
    // With no entries the syscall says EINVAL where it exists.
    p->waitv = !forced && syscall(SYS_futex_waitv, nullptr, 0, 0, nullptr, 0) == -1 && errno == EINVAL;
    return p;
  }();
  return *pool;
}

static int64_t Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// One kernel sleep: the index of the entry that woke it, or -errno.
static long Sleep(bool waitv, std::vector<futex_waitv>& v, int64_t until) {
  timespec ts;
  timespec* timeout = nullptr;
  if (until != kNever) {
    ts.tv_sec = static_cast<time_t>(until / 1000000000);
    ts.tv_nsec = static_cast<long>(until % 1000000000);
    timeout = &ts;
  }
  long rc;
  if (waitv) {
    // SAFETY: v[0] is this thread's own control word; every other
    // entry is a word whose mapping the caller's armed pins keep mapped until
    // this call has returned. The kernel reads them with fault handling anyway.
    rc = syscall(SYS_futex_waitv, v.data(), static_cast<unsigned>(v.size()), 0, timeout, CLOCK_MONOTONIC);
    return rc >= 0 ? rc : -errno;
  }
  // One futex at a time: the thread's only word, else its control word.
  size_t i = v.size() > 1 ? 1 : 0;
  int op = FUTEX_WAIT_BITSET | (i == 0 ? FUTEX_PRIVATE_FLAG : 0);
  // SAFETY: as above.
  rc = syscall(SYS_futex, reinterpret_cast<void*>(static_cast<uintptr_t>(v[i].uaddr)), op,
               static_cast<uint32_t>(v[i].val), timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
  return rc == 0 ? static_cast<long>(i) : -errno;
}

void* ThreadMain(void* arg) {
  PoolThread* t = static_cast<PoolThread*>(arg);
  Pool& p = GetPool();
  std::vector<futex_waitv> v(1);
  std::vector<std::shared_ptr<void>> armed;  // pins of the words in v
  std::vector<Wait*> done;
  std::unique_lock<std::mutex> lock(p.mu);
  for (;;) {
    std::vector<std::shared_ptr<void>> unarmed;
    if (t->dirty) {
      t->dirty = false;
      unarmed.swap(armed);
      v.resize(1 + t->groups.size());
      for (size_t i = 0; i < t->groups.size(); i++) {
        Group* g = t->groups[i];
        v[i + 1] = futex_waitv{static_cast<uint32_t>(g->expected), reinterpret_cast<uintptr_t>(g->word), FUTEX_32, 0};
        armed.push_back(g->waits.front()->pin);  // groups in a bucket are never empty
      }
    }
    // A poke after this load changes ctl, so the kernel refuses to sleep (EAGAIN).
    v[0] = futex_waitv{t->ctl.load(), reinterpret_cast<uintptr_t>(&t->ctl), FUTEX_32 | FUTEX_PRIVATE_FLAG, 0};
    int64_t until = t->timers.empty() ? kNever : t->timers.begin()->first;
    bool idle = t->groups.empty();
    if (idle) until = Now() + kIdleExitNs;  // nothing to wait for: end unless given work meanwhile
    if (t == p.threads[0] && !p.spill.groups.empty()) until = std::min(until, Now() + kSpillPollNs);
    if (!p.waitv && v.size() > 1) until = std::min(until, Now() + kFallbackSliceNs);
    t->armed_until = until;
    lock.unlock();
    unarmed.clear();  // may munmap a closed segment: not under the lock
    Deliver(&done);
    long woke = Sleep(p.waitv, v, until);
    lock.lock();
    t->armed_until = kAwake;
    t->poked = false;
    if (idle && woke == -ETIMEDOUT && t->groups.empty() && !t->dirty) {
      // Pokes and placements happen under the lock, so once out of the list
      // nobody can reach t any more. An empty thread has no spill to poll:
      // the spill only fills while every thread is full.
      p.threads.erase(std::find(p.threads.begin(), p.threads.end(), t));
      lock.unlock();
      delete t;
      return nullptr;
    }
    if (woke > 0) {
      // Trust only the key: the armed group may be gone (resolved, cancelled),
      // or be a new group of that key, possibly on another thread or spilled;
      // the wake was meant for that word and value either way.
      auto it = p.groups.find({reinterpret_cast<int32_t*>(static_cast<uintptr_t>(v[woke].uaddr)),
                               static_cast<int32_t>(v[woke].val)});
      if (it != p.groups.end() && !it->second->waits.empty()) {
        Group* g = it->second;
        // SAFETY: g holds a wait, hence a pin (see Sweep, in waiter_groups.cc).
        // A changed value is left to Sweep, which resolves the whole group.
        if (Load(g->word) == g->expected) {
          Take(p, g->waits.front(), kOk, &done);
          if (g->bucket != t) DropEmpty(p, g->bucket, t);
        }
      }
    } else if (woke < 0 && woke != -EAGAIN && woke != -ETIMEDOUT && woke != -EINTR) {
      // Not expected (EFAULT, EINVAL, ENOMEM): fail this thread's waits rather than spin.
      for (Group* g : t->groups)
        while (!g->waits.empty()) Take(p, g->waits.front(), static_cast<int>(woke), &done);
    }
    int64_t now = Now();
    Sweep(p, t, now, t, &done);
    if (t == p.threads[0]) Sweep(p, &p.spill, now, t, &done);
    Promote(p, t);
  }
}

}  // namespace waitpool

}  // namespace shmkit

#endif  // __linux__

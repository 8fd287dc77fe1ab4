// The process-wide pool of waiter threads behind futexWaitAsync (waitAsync).
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
// Results settle on the JS thread of the environment that started the wait:
// one threadsafe function per environment, called once per batch, ref'd while
// the environment has waits pending (a pending wait keeps its event loop
// alive). When an environment is torn down (worker terminated, process exit),
// its cleanup hook first stops all delivery to it, then takes its waits out of
// the pool and frees them: nothing of it settles afterwards, and no pool
// thread touches its threadsafe function again.
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
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "errors.h"
#include "thread.h"

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
struct Wait;
}

// What an environment's JS thread needs from the pool: finished waits and
// one threadsafe function to hear about them.
struct EnvWaits {
  std::mutex mu;  // guards alive, scheduled, done
  bool alive = true;       // false from the environment's cleanup hook on
  bool scheduled = false;  // a call of tsfn is on its way
  std::vector<waitpool::Wait*> done;
  napi_threadsafe_function tsfn = nullptr;
  size_t pending = 0;  // JS thread only: started and not yet settled
};

namespace waitpool {

constexpr size_t kMaxThreads = 32;
constexpr size_t kWordsPerThread = 127;  // futex_waitv takes 128 entries; entry 0 is the control word
constexpr int64_t kNever = INT64_MAX;
constexpr int64_t kAwake = INT64_MIN;
constexpr int64_t kSpillPollNs = 2000000;
constexpr int64_t kFallbackSliceNs = 20000000;
constexpr int64_t kIdleExitNs = 10000000000;

enum : int { kOk = 0, kTimedOut = 1 };  // Wait::result; negative: -errno

struct Group;
struct Bucket;
struct PoolThread;

struct Wait {
  Group* group = nullptr;  // null once resolved or cancelled
  int64_t deadline = kNever;  // CLOCK_MONOTONIC ns
  std::list<Wait*>::iterator in_group;
  std::multimap<int64_t, Wait*>::iterator in_timers;  // valid when deadline != kNever
  std::shared_ptr<void> pin;  // keeps the word's mapping mapped
  std::shared_ptr<EnvWaits> env;
  napi_deferred deferred = nullptr;
  int result = kOk;
};

// The waits on one word with one expected value: one kernel entry.
struct Group {
  int32_t* word;
  int32_t expected;
  Bucket* bucket = nullptr;
  std::list<Wait*> waits;  // oldest first
};

// Groups and the deadlines of their waits: a thread's, or the spill.
struct Bucket {
  PoolThread* thread = nullptr;  // null: the spill
  std::vector<Group*> groups;
  std::multimap<int64_t, Wait*> timers;
};

struct PoolThread : Bucket {
  std::atomic<uint32_t> ctl{0};  // private futex: bumped and woken to poke
  bool dirty = true;  // groups changed since the thread last armed them
  bool poked = false;  // poked since it last took the lock after a sleep
  int64_t armed_until = kAwake;  // when the sleeping thread wakes by itself
};

struct Pool {
  std::mutex mu;  // guards everything below and every Group, Bucket and pending Wait
  bool waitv = true;
  std::vector<PoolThread*> threads;  // threads[0] polls the spill
  Bucket spill;
  std::map<std::pair<int32_t*, int32_t>, Group*> groups;
  size_t waits = 0;
};

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

int64_t Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t ToNs(const timespec& ts) {
  if (ts.tv_sec >= 9000000000LL) return kNever - 1;  // centuries away; do not overflow
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int32_t Load(const int32_t* word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }

// Pool lock held. One poke per wake is enough: the thread reads its whole
// set under the lock once it has woken.
void Poke(PoolThread* t) {
  if (t->poked) return;
  t->poked = true;
  t->ctl.fetch_add(1);
  // SAFETY: t is in p.threads (the caller holds the pool lock, and a thread
  // leaves the list and is freed only under it), so ctl is a live private word.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&t->ctl), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

size_t Capacity(const Pool& p) { return p.waitv ? kWordsPerThread : 1; }

// Takes w out of its group and timers into *out, with `result`. Pool lock held.
void Take(Pool& p, Wait* w, int result, std::vector<Wait*>* out) {
  Group* g = w->group;
  g->waits.erase(w->in_group);
  if (w->deadline != kNever) g->bucket->timers.erase(w->in_timers);
  w->group = nullptr;
  w->result = result;
  p.waits--;
  out->push_back(w);
}

// Moves g (and its waits' deadlines) into `to`. Pool lock held.
void MoveGroup(Group* g, Bucket* to) {
  for (Wait* w : g->waits) {
    if (w->deadline == kNever) continue;
    if (g->bucket) g->bucket->timers.erase(w->in_timers);
    w->in_timers = to->timers.emplace(w->deadline, w);
  }
  g->bucket = to;
  to->groups.push_back(g);
  if (to->thread) to->thread->dirty = true;
}

// Deletes b's groups that have no waits left; a thread must then re-arm, and
// is poked unless it is `self`. Pool lock held.
void DropEmpty(Pool& p, Bucket* b, PoolThread* self) {
  size_t kept = 0;
  for (Group* g : b->groups) {
    if (!g->waits.empty()) {
      b->groups[kept++] = g;
      continue;
    }
    p.groups.erase({g->word, g->expected});
    delete g;
  }
  if (kept == b->groups.size()) return;
  b->groups.resize(kept);
  if (b->thread) {
    b->thread->dirty = true;
    if (b->thread != self) Poke(b->thread);
  }
}

// Resolves what b's words and the clock say: every wait of a group whose word
// changed ('ok'), every wait past its deadline ('timed-out'). Pool lock held.
void Sweep(Pool& p, Bucket* b, int64_t now, PoolThread* self, std::vector<Wait*>* out) {
  for (Group* g : b->groups) {
    if (g->waits.empty()) continue;
    // SAFETY: g holds a wait, whose pin keeps the word mapped; waits leave
    // groups only under this lock.
    if (Load(g->word) == g->expected) continue;
    while (!g->waits.empty()) Take(p, g->waits.front(), kOk, out);
  }
  while (!b->timers.empty() && b->timers.begin()->first <= now) Take(p, b->timers.begin()->second, kTimedOut, out);
  DropEmpty(p, b, self);
}

PoolThread* LeastLoaded(Pool& p) {
  PoolThread* best = nullptr;
  for (PoolThread* t : p.threads)
    if (best == nullptr || t->groups.size() < best->groups.size()) best = t;
  return best;
}

// Moves spilled groups into free kernel slots, oldest first. Pool lock held.
void Promote(Pool& p, PoolThread* self) {
  size_t moved = 0;
  while (moved < p.spill.groups.size()) {
    PoolThread* t = LeastLoaded(p);
    if (t == nullptr || t->groups.size() >= Capacity(p)) break;
    Group* g = p.spill.groups[moved++];
    MoveGroup(g, t);
    if (t != self) Poke(t);
  }
  p.spill.groups.erase(p.spill.groups.begin(), p.spill.groups.begin() + moved);
}

void* ThreadMain(void* arg);

// Where a new group goes: a new thread while fewer than 32 run and none is
// free, else the least-loaded thread, else the spill. Null (with *err) only if
// no thread runs and none can start.
Bucket* PickBucket(Pool& p, int* err) {
  PoolThread* t = LeastLoaded(p);
  if ((t == nullptr || !t->groups.empty()) && p.threads.size() < kMaxThreads) {
    PoolThread* fresh = new PoolThread();
    fresh->thread = fresh;
    pthread_t id;
    int rc = StartQuietThread(&id, ThreadMain, fresh, true);
    if (rc == 0) {
      p.threads.push_back(fresh);
      return fresh;
    }
    delete fresh;
    if (t == nullptr) {
      *err = rc;
      return nullptr;
    }
  }
  return t->groups.size() < Capacity(p) ? static_cast<Bucket*>(t) : &p.spill;
}

// Hands finished waits to their environments, outside the pool lock.
void Deliver(std::vector<Wait*>* done) {
  for (Wait* w : *done) {
    EnvWaits* e = w->env.get();
    bool alive;
    {
      std::lock_guard<std::mutex> lock(e->mu);
      alive = e->alive;
      if (alive) {
        e->done.push_back(w);
        if (!e->scheduled) {
          e->scheduled = true;
          // Under e->mu: the cleanup hook clears `alive` under it before it
          // releases the function, so the function is live here.
          napi_call_threadsafe_function(e->tsfn, nullptr, napi_tsfn_nonblocking);
        }
      }
    }
    if (!alive) delete w;  // its environment is gone: nothing to settle
  }
  done->clear();
}

// One kernel sleep: the index of the entry that woke it, or -errno.
long Sleep(bool waitv, std::vector<futex_waitv>& v, int64_t until) {
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
        // SAFETY: g holds a wait, hence a pin (see Sweep). A changed value is
        // left to Sweep, which resolves the whole group.
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

// Settles a batch on the environment's JS thread. env is null when Node
// empties the queue at teardown: the cleanup hook has freed everything then.
void Settle(napi_env env, napi_value, void* context, void*) {
  if (env == nullptr) return;
  // SAFETY: context is the EnvWaits that AddonData holds; AddonData goes with
  // the napi env, only after this function has been finalized.
  EnvWaits* e = static_cast<EnvWaits*>(context);
  std::vector<Wait*> batch;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    batch.swap(e->done);
    e->scheduled = false;
  }
  napi_value names[2];
  napi_create_string_utf8(env, "ok", NAPI_AUTO_LENGTH, &names[kOk]);
  napi_create_string_utf8(env, "timed-out", NAPI_AUTO_LENGTH, &names[kTimedOut]);
  for (Wait* w : batch) {
    napi_deferred deferred = w->deferred;
    int result = w->result;
    delete w;  // drops its pin first: a closed segment is unmapped before its last waiter runs on
    if (result >= 0) {
      napi_resolve_deferred(env, deferred, names[result]);
    } else {
      napi_value msg, error, errno_value;
      napi_create_string_utf8(env, "futex_waitv failed", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, nullptr, msg, &error);
      napi_create_int32(env, result, &errno_value);
      napi_set_named_property(env, error, "errno", errno_value);
      napi_reject_deferred(env, deferred, error);
    }
    if (--e->pending == 0) napi_unref_threadsafe_function(env, e->tsfn);
  }
}

// The environment is going away: stop delivery, cancel its waits, free them.
// Their promises are never settled; they go with the environment.
void CleanupEnv(void* arg) {
  EnvWaits* e = static_cast<EnvWaits*>(arg);
  std::vector<Wait*> dead;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    e->alive = false;
    dead.swap(e->done);
  }
  Pool& p = GetPool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto cancel = [&](Bucket* b) {
      for (Group* g : b->groups) {
        for (auto it = g->waits.begin(); it != g->waits.end();) {
          Wait* w = *it++;
          if (w->env.get() == e) Take(p, w, kOk, &dead);
        }
      }
      DropEmpty(p, b, nullptr);
    };
    for (PoolThread* t : p.threads) cancel(t);
    cancel(&p.spill);
    Promote(p, nullptr);
  }
  for (Wait* w : dead) delete w;
  napi_release_threadsafe_function(e->tsfn, napi_tsfn_abort);
}

// This environment's EnvWaits, made (with its function and cleanup hook) on first use.
EnvWaits* EnvOf(napi_env env) {
  AddonData* data = GetAddonData(env);
  if (data->waits) return data->waits.get();
  auto e = std::make_shared<EnvWaits>();
  napi_value name;
  napi_create_string_utf8(env, "shmkit.waitAsync", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, e.get(), Settle,
                                      &e->tsfn) != napi_ok)
    return nullptr;
  napi_unref_threadsafe_function(env, e->tsfn);  // ref'd only while waits are pending
  // Hooks run in reverse order: this one runs before the function's own.
  napi_add_env_cleanup_hook(env, CleanupEnv, e.get());
  data->waits = std::move(e);
  return data->waits.get();
}

}  // namespace waitpool

Napi::Value StartPoolWait(Napi::Env env, int32_t* word, int32_t expected, const timespec* deadline,
                          std::shared_ptr<void> pin) {
  using namespace waitpool;
  EnvWaits* e = EnvOf(env);
  if (e == nullptr) {
    if (!env.IsExceptionPending()) Napi::Error::New(env, "cannot create a threadsafe function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Wait* w = new Wait();
  w->deadline = deadline ? ToNs(*deadline) : kNever;
  w->pin = std::move(pin);
  w->env = GetAddonData(env)->waits;
  napi_value promise;
  napi_create_promise(env, &w->deferred, &promise);

  Pool& p = GetPool();
  int err = 0;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto key = std::make_pair(word, expected);
    auto it = p.groups.find(key);
    bool poke = false;
    if (it == p.groups.end()) {
      Bucket* b = PickBucket(p, &err);
      if (b != nullptr) {
        it = p.groups.emplace(key, new Group{word, expected, nullptr, {}}).first;
        MoveGroup(it->second, b);
        poke = b->thread != nullptr;
        // A thread that failed to start earlier may have started now: fill it.
        if (poke) Promote(p, nullptr);
      }
    }
    if (err == 0) {
      Group* g = it->second;
      w->group = g;
      w->in_group = g->waits.insert(g->waits.end(), w);
      p.waits++;
      if (w->deadline != kNever) {
        w->in_timers = g->bucket->timers.emplace(w->deadline, w);
        if (g->bucket->thread && w->deadline < g->bucket->thread->armed_until) poke = true;  // it would oversleep
      }
      if (poke) Poke(g->bucket->thread);
    }
  }
  if (err != 0) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, w->deferred, undefined);  // frees it; the promise is never handed out
    delete w;
    ThrowErrno(env, err, "pthread_create", "");
    return env.Undefined();
  }
  if (e->pending++ == 0) napi_ref_threadsafe_function(env, e->tsfn);
  return Napi::Value(env, promise);
}

Napi::Value PoolStats(const Napi::CallbackInfo& info) {
  using namespace waitpool;
  Napi::Env env = info.Env();
  Pool& p = GetPool();
  Napi::Object o = Napi::Object::New(env);
  std::lock_guard<std::mutex> lock(p.mu);
  o.Set("threads", Napi::Number::New(env, static_cast<double>(p.threads.size())));
  o.Set("groups", Napi::Number::New(env, static_cast<double>(p.groups.size())));
  o.Set("spilled", Napi::Number::New(env, static_cast<double>(p.spill.groups.size())));
  o.Set("waits", Napi::Number::New(env, static_cast<double>(p.waits)));
  o.Set("waitv", Napi::Boolean::New(env, p.waitv));
  return o;
}

}  // namespace shmkit

#endif  // __linux__

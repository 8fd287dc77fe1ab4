// The waiter pool's books (see the design comment in waiter_pool.cc): the
// groups of waits on one word and expected value, the buckets that hold them
// (a pool thread's set, or the spill) with their waits' deadlines, where a
// new group goes (a thread of its own while fewer than 32 run, else the
// least-loaded thread, else the spill) and how spilled groups move into free
// kernel slots; and futexPoolStats, which reads them. The pool threads
// (waiter_pool.cc) and the environments (waiter_env.cc) change the books
// only through these functions.
#include "waiter_pool.h"

#if defined(__linux__)

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <utility>
#include <vector>

#include "thread.h"
#include "waiter_pool_internal.h"

namespace shmkit {

namespace waitpool {

constexpr size_t kMaxThreads = 32;
constexpr size_t kWordsPerThread = 127;  // futex_waitv takes 128 entries; entry 0 is the control word

int32_t Load(const int32_t* word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }

// Pool lock held. One poke per wake is enough: the thread reads its whole
// set under the lock once it has woken.
static void Poke(PoolThread* t) {
  if (t->poked) return;
  t->poked = true;
  t->ctl.fetch_add(1);
  // SAFETY: t is in p.threads (the caller holds the pool lock, and a thread
  // leaves the list and is freed only under it), so ctl is a live private word.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&t->ctl), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

static size_t Capacity(const Pool& p) { return p.waitv ? kWordsPerThread : 1; }

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
static void MoveGroup(Group* g, Bucket* to) {
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

static PoolThread* LeastLoaded(Pool& p) {
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

// Where a new group goes: a new thread while fewer than 32 run and none is
// free, else the least-loaded thread, else the spill. Null (with *err) only if
// no thread runs and none can start.
static Bucket* PickBucket(Pool& p, int* err) {
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

// Puts w (deadline and pin set) into the group of (word, expected), making
// the group, and a thread for it, if need be. 0, or the error of
// pthread_create when no thread runs and none can start: w is then in no
// group. Takes the pool lock.
int AddWait(Wait* w, int32_t* word, int32_t expected) {
  Pool& p = GetPool();
  int err = 0;
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
      // The first spilled group: threads[0] polls the spill, but only once it
      // re-arms (it may sleep with no deadline at all): wake it now. While the
      // spill is not empty it sleeps at most kSpillPollNs anyway.
      if (b == &p.spill && p.spill.groups.size() == 1 && !p.threads.empty() && p.threads[0]->armed_until != kAwake) {
        Poke(p.threads[0]);
      }
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
  return err;
}

// Takes every pending wait of environment e out of the pool into *out,
// unsettled. Takes the pool lock.
void CancelWaits(const EnvWaits* e, std::vector<Wait*>* out) {
  Pool& p = GetPool();
  std::lock_guard<std::mutex> lock(p.mu);
  auto cancel = [&](Bucket* b) {
    for (Group* g : b->groups) {
      for (auto it = g->waits.begin(); it != g->waits.end();) {
        Wait* w = *it++;
        if (w->env.get() == e) Take(p, w, kOk, out);
      }
    }
    DropEmpty(p, b, nullptr);
  };
  for (PoolThread* t : p.threads) cancel(t);
  cancel(&p.spill);
  Promote(p, nullptr);
}

}  // namespace waitpool

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

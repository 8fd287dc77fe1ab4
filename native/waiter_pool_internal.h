// The waiter pool's internals shared by its three files: waiter_pool.cc (the
// pool and its threads), waiter_groups.cc (the groups, buckets and spill the
// threads sleep on) and waiter_env.cc (delivery to each environment). Only
// waiter_pool.h is the pool's interface to the rest of the addon. Linux only.
#pragma once

#if defined(__linux__)

#include <napi.h>
#include <stdint.h>

#include <atomic>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace shmkit {

struct EnvWaits;  // waiter_env.cc

namespace waitpool {

constexpr int64_t kNever = INT64_MAX;
constexpr int64_t kAwake = INT64_MIN;

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

// waiter_pool.cc: the pool, made (and futex_waitv probed) on first use.
Pool& GetPool();
// waiter_pool.cc: the main of a pool thread; arg is its PoolThread.
void* ThreadMain(void* arg);

// waiter_groups.cc: a word's current value.
int32_t Load(const int32_t* word);
// waiter_groups.cc, each with the pool lock held: see there.
void Take(Pool& p, Wait* w, int result, std::vector<Wait*>* out);
void DropEmpty(Pool& p, Bucket* b, PoolThread* self);
void Sweep(Pool& p, Bucket* b, int64_t now, PoolThread* self, std::vector<Wait*>* out);
void Promote(Pool& p, PoolThread* self);
// waiter_groups.cc, each taking the pool lock itself.
int AddWait(Wait* w, int32_t* word, int32_t expected);
void CancelWaits(const EnvWaits* e, std::vector<Wait*>* out);

// waiter_env.cc: hands finished waits to their environments, outside the pool lock.
void Deliver(std::vector<Wait*>* done);

}  // namespace waitpool
}  // namespace shmkit

#endif  // __linux__

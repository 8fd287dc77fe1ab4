// Futex wait/wake on a 32-bit word of a shared mapping, across processes.
//
// No FUTEX_PRIVATE_FLAG anywhere on the segment's word: the kernel then keys
// a wait by (inode, offset) instead of (mm, address), so every process that
// maps the segment meets the same wait queue. That is the whole difference
// from Atomics.wait, which V8 emulates inside one process.
//
// futexWait(i32, index, expected, ms) blocks the calling thread.
// futexWaitAsync(i32, index, expected, ms) returns a promise. Each pending
// wait gets its own small native thread (64 KiB stack, all signals blocked)
// sleeping in futex_waitv on two words: the segment's word and a private
// cancel word of its own. One thread per wait rather than one thread
// multiplexing every wait: a multiplexer must leave the kernel to re-arm its
// set each time any one wait ends or a new one arrives, and a notify landing
// in that window is lost unless the value also changed; with one thread per
// wait a notify(count) wakes exactly `count` sleepers, as the futex contract
// says. libuv's thread pool is never used, so fs and dns calls are not starved.
//
// Lifetime: close() on a segment munmaps it while an async wait may still be
// pending. The waiting thread therefore never uses the segment's own mapping:
// it waits on a private alias of the word's page made with
// mremap(page, 0, len, MREMAP_MAYMOVE), which for a MAP_SHARED mapping maps
// the same shared page a second time. The alias keeps the page (and the
// kernel object) alive until the wait ends, whatever JavaScript does to the
// segment meanwhile; the futex key is the same (inode, offset), so notify
// from any process still reaches it.
#include "futex.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "args.h"
#include "errors.h"
#include "thread.h"

namespace shmkit {

namespace {

enum Result { kOk = 0, kNotEqual = 1, kTimedOut = 2 };

const char* ResultName(int r) {
  switch (r) {
    case kOk: return "ok";
    case kNotEqual: return "not-equal";
    default: return "timed-out";
  }
}

// The word at info[0][info[1]]: an Int32Array with live data and an index
// inside it. lib/sync.ts checks all of this first with friendlier messages;
// these checks only make sure nothing reachable from JS can fault.
bool GetWord(const Napi::CallbackInfo& info, int32_t** out) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "expected (Int32Array, index)").ThrowAsJavaScriptException();
    return false;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value ab;
  size_t byte_offset = 0;
  if (napi_get_typedarray_info(env, info[0], &type, &length, &data, &ab, &byte_offset) != napi_ok) return false;
  if (type != napi_int32_array) {
    Napi::TypeError::New(env, "expected an Int32Array").ThrowAsJavaScriptException();
    return false;
  }
  double index = info[1].As<Napi::Number>().DoubleValue();
  // A detached buffer (closed segment) has length 0, so every index fails here.
  if (data == nullptr || !(index >= 0) || index >= static_cast<double>(length) || index != std::floor(index)) {
    Napi::RangeError::New(env, "index out of range of the Int32Array (is its segment closed?)")
        .ThrowAsJavaScriptException();
    return false;
  }
  // SAFETY: data points at element 0 of a live view of `length` int32s and
  // 0 <= index < length, so the word lies inside the buffer. Int32Array
  // offsets are multiples of 4 and buffers start 4-aligned (segments are
  // page-aligned), which the futex calls require; checked anyway.
  int32_t* word = static_cast<int32_t*>(data) + static_cast<size_t>(index);
  if (reinterpret_cast<uintptr_t>(word) % 4 != 0) {
    Napi::RangeError::New(env, "the word is not 4-byte aligned").ThrowAsJavaScriptException();
    return false;
  }
  *out = word;
  return true;
}

// Milliseconds from now as an absolute CLOCK_MONOTONIC time; false means wait
// forever (negative, NaN, infinite or more than ~300 years).
bool DeadlineAfter(const Napi::CallbackInfo& info, size_t i, timespec* ts) {
  double ms = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
  if (!(ms >= 0) || ms > 1e13) return false;
  clock_gettime(CLOCK_MONOTONIC, ts);
  double whole = std::floor(ms);
  ts->tv_sec += static_cast<time_t>(whole / 1000);
  long nsec = ts->tv_nsec + static_cast<long>(std::fmod(whole, 1000.0)) * 1000000L +
              static_cast<long>((ms - whole) * 1e6);
  ts->tv_sec += nsec / 1000000000L;
  ts->tv_nsec = nsec % 1000000000L;
  return true;
}

// The arguments of both waits: (i32, index, expected, ms).
struct WaitArgs {
  int32_t* word;
  int32_t expected;
  bool timed;  // false: wait forever
  timespec deadline;
};

bool GetWaitArgs(const Napi::CallbackInfo& info, WaitArgs* a) {
  if (!GetWord(info, &a->word) || !ArgInt32(info, 2, &a->expected)) return false;
  a->timed = DeadlineAfter(info, 3, &a->deadline);
  return true;
}

#if defined(__linux__)

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

long FutexWaitUntil(int32_t* word, int32_t expected, const timespec* deadline) {
  // SAFETY: word is a live, aligned int32 (GetWord, or a waiter's own alias);
  // the kernel reads it with fault handling, so even a bad address is EFAULT.
  return syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
}

// futexWait(i32, index, expected, ms) -> 'ok' | 'not-equal' | 'timed-out'.
// FUTEX_WAIT_BITSET takes an absolute deadline, so a retry after EINTR keeps
// the caller's timeout instead of restarting it.
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WaitArgs a;
  if (!GetWaitArgs(info, &a)) return env.Undefined();
  bool first = true;
  for (;;) {
    if (FutexWaitUntil(a.word, a.expected, a.timed ? &a.deadline : nullptr) == 0) return Napi::String::New(env, "ok");
    int e = errno;
    if (e == EINTR) {
      first = false;
      continue;
    }
    // After an interruption a changed value means we slept through the wake.
    if (e == EAGAIN) return Napi::String::New(env, ResultName(first ? kNotEqual : kOk));
    if (e == ETIMEDOUT) return Napi::String::New(env, "timed-out");
    ThrowErrno(env, e, "futex", "");
    return env.Undefined();
  }
}

// futexWake(i32, index, count) -> number of waiters woken.
Napi::Value Wake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t* word;
  int32_t count;
  if (!GetWord(info, &word) || !ArgInt32(info, 2, &count)) return env.Undefined();
  if (count < 0) count = INT_MAX;
  // SAFETY: as in FutexWaitUntil; FUTEX_WAKE only uses the address as a key.
  long n = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  if (n < 0) {
    ThrowErrno(env, errno, "futex", "");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// One pending futexWaitAsync. Created on the JS thread; read by its thread;
// deleted by the threadsafe function's finalizer on the JS thread after the
// thread has been joined.
struct Waiter {
  WaitArgs args;  // args.word lies inside `alias`, never inside the segment's own mapping
  void* alias;
  size_t alias_len;
  std::atomic<uint32_t> cancel{0};  // a private futex: set + woken to end the wait early
  int result = kOk;
  int error = 0;
  napi_deferred deferred = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  pthread_t thread;
  bool started = false;
};

std::atomic<bool> no_waitv{false};  // kernel older than 5.16

int WaitCancellable(Waiter* w) {
  for (;;) {
    if (w->cancel.load()) return kTimedOut;
    long rc;
    if (!no_waitv.load(std::memory_order_relaxed)) {
      futex_waitv v[2] = {};
      v[0].val = static_cast<uint32_t>(w->args.expected);
      v[0].uaddr = reinterpret_cast<uintptr_t>(w->args.word);
      v[0].flags = FUTEX_32;  // shared: keyed by (inode, offset)
      v[1].val = 0;
      v[1].uaddr = reinterpret_cast<uintptr_t>(&w->cancel);
      v[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
      // SAFETY: both words stay mapped until this thread is joined: the alias
      // is unmapped and `w` deleted only by the finalizer, after the join.
      rc = syscall(SYS_futex_waitv, v, 2, 0, w->args.timed ? &w->args.deadline : nullptr, CLOCK_MONOTONIC);
      if (rc == 0) return kOk;
      if (rc == 1) continue;  // the cancel word: the loop head returns
      if (errno == ENOSYS) {
        no_waitv.store(true);
        continue;
      }
    } else {
      // Old kernels: plain FUTEX_WAIT in slices of at most 100 ms, looking at
      // the cancel flag between slices.
      timespec slice;
      clock_gettime(CLOCK_MONOTONIC, &slice);
      slice.tv_nsec += 100000000L;
      if (slice.tv_nsec >= 1000000000L) {
        slice.tv_sec += 1;
        slice.tv_nsec -= 1000000000L;
      }
      bool last = w->args.timed && (w->args.deadline.tv_sec < slice.tv_sec ||
                               (w->args.deadline.tv_sec == slice.tv_sec && w->args.deadline.tv_nsec <= slice.tv_nsec));
      rc = FutexWaitUntil(w->args.word, w->args.expected, last ? &w->args.deadline : &slice);
      if (rc == 0) return kOk;
      if (errno == ETIMEDOUT && !last) continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    // The JS thread saw the expected value before starting this thread, so a
    // different value now means it changed (and was most likely notified)
    // after the call: the wait is over.
    if (e == EAGAIN) return kOk;
    if (e == ETIMEDOUT) return kTimedOut;
    w->error = e;
    return -1;
  }
}

void* WaiterMain(void* arg) {
  Waiter* w = static_cast<Waiter*>(arg);
  w->result = WaitCancellable(w);
  // A cancelled wait means the environment is going away: nothing to resolve.
  if (!w->cancel.load()) napi_call_threadsafe_function(w->tsfn, w, napi_tsfn_nonblocking);
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  return nullptr;
}

// Runs on the JS thread. env is null when Node empties the queue during
// teardown, after the finalizer already freed the waiter: touch nothing then.
void SettleWaiter(napi_env env, napi_value, void*, void* data) {
  if (env == nullptr) return;
  Waiter* w = static_cast<Waiter*>(data);
  napi_value value;
  if (w->result >= 0) {
    napi_create_string_utf8(env, ResultName(w->result), NAPI_AUTO_LENGTH, &value);
    napi_resolve_deferred(env, w->deferred, value);
    return;
  }
  napi_value msg;
  napi_create_string_utf8(env, "futex_waitv failed", NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, nullptr, msg, &value);
  napi_value errno_value;
  napi_create_int32(env, -w->error, &errno_value);
  napi_set_named_property(env, value, "errno", errno_value);
  napi_reject_deferred(env, w->deferred, value);
}

void WakeCancel(Waiter* w) {
  w->cancel.store(1);
  // SAFETY: &w->cancel is a live private word of this process.
  syscall(SYS_futex, &w->cancel, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// The threadsafe function's finalizer: after the thread released it, or when
// the environment is torn down with the wait still pending. Either way the
// thread is told to stop, joined, and only then is the alias unmapped.
void FinalizeWaiter(napi_env, void* data, void*) {
  Waiter* w = static_cast<Waiter*>(data);
  if (w->started) {
    WakeCancel(w);
    pthread_join(w->thread, nullptr);
  }
  // SAFETY: alias/alias_len are what mremap returned; no thread uses them now.
  munmap(w->alias, w->alias_len);
  delete w;
}

// futexWaitAsync(i32, index, expected, ms) -> Promise<'ok' | 'not-equal' | 'timed-out'>.
Napi::Value WaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WaitArgs a;
  if (!GetWaitArgs(info, &a)) return env.Undefined();
  int32_t* word = a.word;
  auto settled = [&](int r) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(Napi::String::New(env, ResultName(r)));
    return d.Promise();
  };
  if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != a.expected) return settled(kNotEqual);
  if (a.timed && info[3].As<Napi::Number>().DoubleValue() == 0) return settled(kTimedOut);

  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  uintptr_t at = reinterpret_cast<uintptr_t>(word);
  uintptr_t base = at & ~(static_cast<uintptr_t>(page) - 1);
  // SAFETY: [base, base+page) holds the word, so it is mapped; old_size 0 asks
  // for a second mapping of the same pages and fails (EINVAL) unless the
  // mapping is shared, so a private or heap buffer is refused, never aliased.
  void* alias = mremap(reinterpret_cast<void*>(base), 0, page, MREMAP_MAYMOVE);
  if (alias == MAP_FAILED) {
    int e = errno;
    if (e == EINVAL) {
      Napi::TypeError::New(env, "waitAsync needs a view of a shared, writable segment mapping "
                                "(not a readonly attach, not an ordinary ArrayBuffer)")
          .ThrowAsJavaScriptException();
    } else {
      ThrowErrno(env, e, "mremap", "");
    }
    return env.Undefined();
  }

  Waiter* w = new Waiter();
  w->alias = alias;
  w->alias_len = page;
  // SAFETY: at - base < page, so the word's twin lies inside the alias.
  w->args = a;
  w->args.word = reinterpret_cast<int32_t*>(static_cast<char*>(alias) + (at - base));

  napi_value name;
  napi_create_string_utf8(env, "shmkit.waitAsync", NAPI_AUTO_LENGTH, &name);
  // Ref'd like any pending I/O: a pending wait keeps the process alive.
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, w, FinalizeWaiter, w, SettleWaiter,
                                      &w->tsfn) != napi_ok) {
    munmap(alias, page);
    delete w;
    if (!env.IsExceptionPending()) Napi::Error::New(env, "cannot create a threadsafe function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_value promise;
  napi_create_promise(env, &w->deferred, &promise);

  int rc = StartQuietThread(&w->thread, WaiterMain, w, false);
  if (rc != 0) {
    // started is false: the finalizer only unmaps and frees. The deferred's
    // promise is dropped unsettled; the caller gets the throw instead.
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
    ThrowErrno(env, rc, "pthread_create", "");
    return env.Undefined();
  }
  w->started = true;
  return Napi::Value(env, promise);
}

#else  // !__linux__

Napi::Value Unsupported(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "futex calls need Linux").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
#define Wait Unsupported
#define Wake Unsupported
#define WaitAsync Unsupported

#endif

}  // namespace

void InitFutex(Napi::Env env, Napi::Object exports) {
  exports.Set("futexWait", Napi::Function::New(env, Wait, "futexWait"));
  exports.Set("futexWake", Napi::Function::New(env, Wake, "futexWake"));
  exports.Set("futexWaitAsync", Napi::Function::New(env, WaitAsync, "futexWaitAsync"));
}

}  // namespace shmkit

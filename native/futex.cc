// Futex wait/wake on a 32-bit word of a shared mapping, across processes.
//
// No FUTEX_PRIVATE_FLAG anywhere on the segment's word: the kernel then keys
// a wait by (inode, offset) instead of (mm, address), so every process that
// maps the segment meets the same wait queue. That is the whole difference
// from Atomics.wait, which V8 emulates inside one process.
//
// futexWait(i32, index, expected, ms) blocks the calling thread.
// futexWaitAsync(i32, index, expected, ms) returns a promise: the wait is
// handed to the process-wide pool of waiter threads in waiter_pool.cc, which
// multiplexes every pending wait of every environment over at most 32
// threads with futex_waitv, and says there exactly what a notify guarantees.
// The word must lie inside a live MAP_SHARED mapping (made by any thread); the
// wait pins that mapping, so close() meanwhile detaches the buffer at once
// but defers munmap until the wait ends.
#include "futex.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <memory>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "args.h"
#include "errors.h"
#include "segment.h"
#include "waiter_pool.h"

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

long FutexWaitUntil(int32_t* word, int32_t expected, const timespec* deadline) {
  // SAFETY: word is a live, aligned int32 (GetWord); the kernel reads it with
  // fault handling, so even a bad address is EFAULT.
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

// futexWaitAsync(i32, index, expected, ms) -> Promise<'ok' | 'not-equal' | 'timed-out'>.
Napi::Value WaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WaitArgs a;
  if (!GetWaitArgs(info, &a)) return env.Undefined();
  // SAFETY: a.word is a live aligned int32 of this view (GetWord); the pin,
  // if any, keeps the range mapped for as long as the pool holds the wait.
  std::shared_ptr<void> pin = PinSharedRange(a.word, sizeof(int32_t));
  if (!pin) {
    Napi::TypeError::New(env, "waitAsync needs a view of a shared segment mapping "
                              "(not an ordinary ArrayBuffer, nor a private readonly copy off x86-64 Linux)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto settled = [&](int r) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(Napi::String::New(env, ResultName(r)));
    return d.Promise();
  };
  if (__atomic_load_n(a.word, __ATOMIC_SEQ_CST) != a.expected) return settled(kNotEqual);
  if (a.timed && info[3].As<Napi::Number>().DoubleValue() == 0) return settled(kTimedOut);
  return StartPoolWait(env, a.word, a.expected, a.timed ? &a.deadline : nullptr, std::move(pin));
}

#else  // !__linux__

Napi::Value Unsupported(const Napi::CallbackInfo& info) {
  Napi::Error::New(info.Env(), "futex calls need Linux").ThrowAsJavaScriptException();
  return info.Env().Undefined();
}
#define Wait Unsupported
#define Wake Unsupported
#define WaitAsync Unsupported
#define PoolStats Unsupported

#endif

}  // namespace

void InitFutex(Napi::Env env, Napi::Object exports) {
  exports.Set("futexWait", Napi::Function::New(env, Wait, "futexWait"));
  exports.Set("futexWake", Napi::Function::New(env, Wake, "futexWake"));
  exports.Set("futexWaitAsync", Napi::Function::New(env, WaitAsync, "futexWaitAsync"));
  exports.Set("futexPoolStats", Napi::Function::New(env, PoolStats, "futexPoolStats"));
}

}  // namespace shmkit

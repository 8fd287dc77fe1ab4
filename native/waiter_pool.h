#pragma once
#include <napi.h>
#include <stdint.h>
#include <time.h>

#include <memory>

namespace shmkit {
// The process-wide pool of waiter threads behind futexWaitAsync: see
// waiter_pool.cc. Linux only.

// Queues a wait on `word` (pinned by `pin`, from PinSharedRange) while it
// holds `expected`, until `deadline` (absolute CLOCK_MONOTONIC; null: none).
// Returns the promise, or undefined with a JS exception pending.
Napi::Value StartPoolWait(Napi::Env env, int32_t* word, int32_t expected, const timespec* deadline,
                          std::shared_ptr<void> pin);

// futexPoolStats() -> { threads, groups, spilled, waits, waitv }: for tests.
Napi::Value PoolStats(const Napi::CallbackInfo& info);
}  // namespace shmkit

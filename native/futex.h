#pragma once
#include <napi.h>

namespace shmkit {
// futexWait, futexWake, futexWaitAsync: see futex.cc.
void InitFutex(Napi::Env env, Napi::Object exports);
}  // namespace shmkit

#pragma once
#include <napi.h>

namespace shmkit {
// trackerWrite, startTracker, trackerInfo: see lifecycle.cc.
void InitLifecycle(Napi::Env env, Napi::Object exports);
}  // namespace shmkit

#pragma once
#include <napi.h>

namespace shmkit {
// startTracker, setOwnerTag, getOwnerTag, removeOwnerTag: see lifecycle.cc.
void InitLifecycle(Napi::Env env, Napi::Object exports);
}  // namespace shmkit

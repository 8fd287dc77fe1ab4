#pragma once
#include <napi.h>

namespace shmkit {
// open, unlink, reserve, map, unmap: see segment.cc.
void InitSegment(Napi::Env env, Napi::Object exports);
}  // namespace shmkit

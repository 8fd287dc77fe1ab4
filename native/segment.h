#pragma once
#include <napi.h>

#include <memory>

namespace shmkit {
// open, unlink, reserve, map, unmap: see segment.cc.
void InitSegment(Napi::Env env, Napi::Object exports);

// A pin on the live MAP_SHARED mapping of this environment that holds
// [p, p + len): the range stays mapped while the pin (or a copy) lives, even
// after close() or the buffer's finalizer. Null if no such mapping (an
// ordinary ArrayBuffer, a closed segment, a private mapping). JS thread only.
std::shared_ptr<void> PinSharedRange(Napi::Env env, const void* p, size_t len);
}  // namespace shmkit

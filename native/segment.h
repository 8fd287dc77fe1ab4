#pragma once
#include <napi.h>

#include <memory>

namespace shmkit {
// map, unmap, populate, isClosed, bufferKind: see segment.cc.
void InitSegment(Napi::Env env, Napi::Object exports);
// open, unlink, close, reserve, allocate, fill, flush: see segment_files.cc (called by InitSegment).
void InitSegmentFiles(Napi::Env env, Napi::Object exports);
// watchTruncations, truncatedFrom, truncationStats: see truncation_js.cc (truncation.cc: the SIGBUS handler).
void InitTruncation(Napi::Env env, Napi::Object exports);

// The bytes of a buffer argument: an ArrayBuffer, or a typed array over an
// ArrayBuffer or a SharedArrayBuffer. False, with a TypeError pending, else.
bool BytesOf(Napi::Env env, Napi::Value v, uint8_t** base, size_t* size);

// A pin on the live MAP_SHARED mapping that holds [p, p + len), whichever
// thread mapped it (a SharedArrayBuffer posted to a worker is the same
// mapping there): the range stays mapped while the pin (or a copy) lives,
// even after close() or the buffer's finalizer. Null if no such mapping (an
// ordinary ArrayBuffer, a closed segment, a private mapping). Any thread.
std::shared_ptr<void> PinSharedRange(const void* p, size_t len);
}  // namespace shmkit

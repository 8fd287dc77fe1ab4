// Runtimes built with V8's memory sandbox (Electron's renderers today)
// refuse memory V8 did not allocate: napi_create_external_arraybuffer and
// node_api_create_external_sharedarraybuffer return
// napi_no_external_buffers_allowed (22 in js_native_api_types.h) instead of a
// buffer. A segment is such memory by nature (mmap), so there shmkit cannot
// hand one out at all; it says so instead of failing without a reason.
#pragma once
#include <js_native_api_types.h>

namespace shmkit {

// The ShmError code for a failed creation of an external buffer:
// "ERR_SHM_EXTERNAL_BUFFERS" for the sandbox's refusal, nullptr for napi_ok
// and for every other status (the caller then throws a plain Error naming the
// status, or keeps a pending exception). lib/errors.ts writes the message.
// Tested alone by test/native/external-buffers.cc.
const char* ExternalBufferErrorCode(napi_status status);

}  // namespace shmkit

// Entry point: registers the native exports. Each concern has its own file;
// everything that is policy (names, sizes, defaults, ownership) is in lib/.
#include <napi.h>

#include "addon_data.h"
#include "errors.h"
#include "lifecycle.h"
#include "futex.h"
#include "segment.h"

namespace shmkit {

AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace shmkit

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new shmkit::AddonData());  // freed by node-addon-api at env teardown
  exports.Set("setErrorFactory", Napi::Function::New(env, shmkit::SetErrorFactory, "setErrorFactory"));
  shmkit::InitSegment(env, exports);
  shmkit::InitLifecycle(env, exports);
  shmkit::InitFutex(env, exports);
  return exports;
}

NODE_API_MODULE(shmkit, Init)

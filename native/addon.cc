// Entry point: registers the native exports. Each concern has its own file;
// everything that is policy (names, sizes, defaults, ownership) is in lib/.
#include <napi.h>

#include "addon_data.h"
#include "errors.h"
#include "lifecycle.h"
#include "futex.h"
#include "guard.h"
#include "owner_tag.h"
#include "segment.h"

namespace shmkit {

AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

// guardStats(): what the readonly-view guard (guard.cc) has done, for tests.
static Napi::Value GuardStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GuardCounters c = GuardReadCounters();
  Napi::Object o = Napi::Object::New(env);
  o.Set("supported", c.supported);
  o.Set("installed", c.installed);
  auto num = [&](const char* key, uint64_t v) { o.Set(key, static_cast<double>(v)); };
  num("ranges", c.ranges);
  num("swappedNow", c.swapped_now);
  num("storesSkipped", c.stores_skipped);
  num("stringsSkipped", c.strings_skipped);
  num("pagesSwapped", c.pages_swapped);
  num("retries", c.retries);
  num("failures", c.failures);
  num("chainedSegv", c.chained_segv);
  num("chainedTrap", c.chained_trap);
  return o;
}

}  // namespace shmkit

#ifdef SHMKIT_ASAN_SELFTEST  // scratch sanitizer builds only (CMakeLists.txt, scripts/asan-selftest.sh)
namespace shmkit { void InitAsanSelftest(Napi::Env env, Napi::Object exports); }
#endif

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new shmkit::AddonData());  // freed by node-addon-api at env teardown
  exports.Set("setErrorFactory", Napi::Function::New(env, shmkit::SetErrorFactory, "setErrorFactory"));
  shmkit::InitSegment(env, exports);
  shmkit::InitTruncation(env, exports);
  shmkit::InitLifecycle(env, exports);
  shmkit::InitOwnerTag(env, exports);
  shmkit::InitFutex(env, exports);
  exports.Set("guardStats", Napi::Function::New(env, shmkit::GuardStats, "guardStats"));
#ifdef SHMKIT_ASAN_SELFTEST
  shmkit::InitAsanSelftest(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(shmkit, Init)

// State the addon keeps per Node environment (main thread or worker thread).
#pragma once
#include <napi.h>

#include <map>
#include <memory>

namespace shmkit {

struct Mapping;
struct EnvWaits;

// Live mappings by start address, so that unmap(arrayBuffer) can find the
// owner struct of a buffer JavaScript hands back, and (ordered, upper_bound)
// so that a futex wait finds the mapping that contains its word. An entry is
// removed the moment JavaScript loses the range (close() or the finalizer),
// so a later mmap that reuses the address never meets a stale entry. Mappings
// hold it weakly: a finalizer that runs during environment teardown, after
// this struct is gone, just skips the erase. Every access holds segment.cc's
// live_mutex: a SharedArrayBuffer's finalizer runs on any thread.
using LiveMap = std::map<void*, Mapping*>;

struct AddonData {
  Napi::FunctionReference error_factory;
  std::shared_ptr<LiveMap> live = std::make_shared<LiveMap>();
  std::shared_ptr<EnvWaits> waits;  // this environment's async futex waits (waiter_pool.cc), made on first use
};

AddonData* GetAddonData(Napi::Env env);

}  // namespace shmkit

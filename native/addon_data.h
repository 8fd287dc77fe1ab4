// State the addon keeps per Node environment (main thread or worker thread).
#pragma once
#include <napi.h>

#include <memory>
#include <unordered_map>

namespace shmkit {

struct Mapping;

// Live mappings by start address, so that unmap(arrayBuffer) can find the
// owner struct of a buffer JavaScript hands back. An entry is removed the
// moment its range is unmapped, so a later mmap that reuses the address never
// meets a stale entry. Mappings hold it weakly: a finalizer that runs during
// environment teardown, after this struct is gone, just skips the erase.
using LiveMap = std::unordered_map<void*, Mapping*>;

struct AddonData {
  Napi::FunctionReference error_factory;
  std::shared_ptr<LiveMap> live = std::make_shared<LiveMap>();
};

AddonData* GetAddonData(Napi::Env env);

}  // namespace shmkit

// State the addon keeps per Node environment (main thread or worker thread).
#pragma once
#include <napi.h>

#include <map>
#include <memory>

namespace shmkit {

struct EnvWaits;

struct AddonData {
  Napi::FunctionReference error_factory;
  std::shared_ptr<EnvWaits> waits;  // this environment's async futex waits (waiter_pool.cc), made on first use
};

AddonData* GetAddonData(Napi::Env env);

}  // namespace shmkit

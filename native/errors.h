// Error reporting for the addon.
//
// Policy lives in JavaScript (lib/errors.ts): at load it registers a factory
// `(errno, syscall, path, code?) => Error`. C++ only passes the raw facts and formats
// nothing, so every system error looks the same whichever layer raised it.
#pragma once
#include <napi.h>

namespace shmkit {

// Per-environment state; one per Node environment (main thread or worker).
struct AddonData;
AddonData* GetAddonData(Napi::Env env);

// Throws a JS error for `err` (a positive errno value) built by the registered
// factory. Callers must return straight after: there are no C++ exceptions.
void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path);

// Throws the ShmError `code` (an ERR_SHM_* string) about `path`: the factory
// is called as (0, '', path, code) and lib/errors.ts writes the message.
// Callers must return straight after.
void ThrowCode(Napi::Env env, const char* code, const std::string& path);

// setErrorFactory(fn): called once by lib/errors.ts.
Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);

}  // namespace shmkit

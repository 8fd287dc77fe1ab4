#include "errors.h"

#include "addon_data.h"

namespace shmkit {

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "setErrorFactory needs a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  GetAddonData(env)->error_factory = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path) {
  AddonData* data = GetAddonData(env);
  if (data->error_factory.IsEmpty()) {
    // Only reachable if the binding is loaded without lib/errors.ts.
    Napi::Error::New(env, std::string(syscall) + " failed").ThrowAsJavaScriptException();
    return;
  }
  Napi::Value e = data->error_factory.Call(
      {Napi::Number::New(env, err), Napi::String::New(env, syscall), Napi::String::New(env, path)});
  if (env.IsExceptionPending()) return;  // the factory itself threw: keep that
  Napi::Error(env, e).ThrowAsJavaScriptException();
}

void ThrowCode(Napi::Env env, const char* code, const std::string& path) {
  AddonData* data = GetAddonData(env);
  if (data->error_factory.IsEmpty()) {
    Napi::Error::New(env, code).ThrowAsJavaScriptException();  // only without lib/errors.ts
    return;
  }
  Napi::Value e = data->error_factory.Call(
      {Napi::Number::New(env, 0), Napi::String::New(env, ""), Napi::String::New(env, path), Napi::String::New(env, code)});
  if (env.IsExceptionPending()) return;
  Napi::Error(env, e).ThrowAsJavaScriptException();
}

}  // namespace shmkit

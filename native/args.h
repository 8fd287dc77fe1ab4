// Argument readers for the addon's functions. lib/ validates every argument
// first with friendly messages; these only make sure that a wrong call from
// JavaScript throws a TypeError instead of reading garbage. Each returns false
// with the exception pending; the caller returns at once.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace shmkit {

inline bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) {
    Napi::TypeError::New(info.Env(), "expected a string argument").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

inline bool ArgInt64(const Napi::CallbackInfo& info, size_t i, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "expected a number argument").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Int64Value();
  return true;
}

inline bool ArgInt32(const Napi::CallbackInfo& info, size_t i, int32_t* out) {
  int64_t v;
  if (!ArgInt64(info, i, &v)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

inline bool ArgBool(const Napi::CallbackInfo& info, size_t i, bool* out) {
  if (info.Length() <= i || !info[i].IsBoolean()) {
    Napi::TypeError::New(info.Env(), "expected a boolean argument").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Boolean>().Value();
  return true;
}

}  // namespace shmkit

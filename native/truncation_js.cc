// The JavaScript side of truncation.cc: watchTruncations(word),
// truncatedFrom(view), truncationStats().
#include <napi.h>

#include "segment.h"
#include "truncation.h"

namespace shmkit {

namespace {

// One watched word and the reference that keeps its SharedArrayBuffer alive,
// until the environment ends.
struct Watch {
  int32_t* word;
  napi_env env;
  napi_ref ref;
};

void Unwatch(void* arg) {
  auto* w = static_cast<Watch*>(arg);
  TruncationUnwatch(w->word);  // first: the handler never writes to it again
  napi_delete_reference(w->env, w->ref);
  delete w;
}

// watchTruncations(i32) -> boolean: the handler adds one to i32[0] each time
// it repairs a mapping, for the life of this environment. i32 must be an
// Int32Array over a SharedArrayBuffer, which cannot be detached or freed while
// referenced. False when every slot is taken (lib/ then asks every time).
Napi::Value WatchTruncations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[0].As<Napi::TypedArray>().ElementLength() < 1) {
    Napi::TypeError::New(env, "watchTruncations needs an Int32Array over a SharedArrayBuffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool is_sab = false;
  napi_value buffer;
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, info[0], &type, &length, &data, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &is_sab) != napi_ok || is_sab || data == nullptr) {
    // An ArrayBuffer could be transferred (and freed) under us: only a SharedArrayBuffer will do.
    Napi::TypeError::New(env, "watchTruncations needs an Int32Array over a SharedArrayBuffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new Watch{static_cast<int32_t*>(data), env, nullptr};
  // SAFETY: data is the typed array's first element (length >= 1, 4-byte
  // aligned by construction); the reference keeps its SharedArrayBuffer (never
  // detachable) alive until Unwatch, which stops the handler writing first.
  if (napi_create_reference(env, info[0], 1, &w->ref) != napi_ok) {
    delete w;
    return env.Undefined();  // an exception is pending
  }
  if (!TruncationWatch(w->word)) {
    napi_delete_reference(env, w->ref);
    delete w;
    return Napi::Boolean::New(env, false);
  }
  napi_add_env_cleanup_hook(env, Unwatch, w);
  return Napi::Boolean::New(env, true);
}

// truncatedFrom(view) -> the offset from which a SIGBUS made the mapping
// holding view read zeros, or -1.
Napi::Value TruncatedFromJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* base = nullptr;
  size_t size = 0;
  if (info.Length() < 1 || !BytesOf(env, info[0], &base, &size)) return env.Undefined();
  return Napi::Number::New(env, base == nullptr ? -1.0 : static_cast<double>(TruncatedFrom(base)));
}

Napi::Value TruncationStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TruncationCounters c = TruncationReadCounters();
  Napi::Object o = Napi::Object::New(env);
  o.Set("installed", c.installed);
  o.Set("repaired", static_cast<double>(c.repaired));
  o.Set("chained", static_cast<double>(c.chained));
  return o;
}

}  // namespace

void InitTruncation(Napi::Env env, Napi::Object exports) {
  exports.Set("watchTruncations", Napi::Function::New(env, WatchTruncations, "watchTruncations"));
  exports.Set("truncatedFrom", Napi::Function::New(env, TruncatedFromJs, "truncatedFrom"));
  exports.Set("truncationStats", Napi::Function::New(env, TruncationStats, "truncationStats"));
}

}  // namespace shmkit

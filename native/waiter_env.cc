// The waiter pool's side of each Node environment (main thread or worker):
// a wait's promise, the threadsafe function that settles finished waits on
// the environment's JS thread, and the cleanup hook. The pool itself and its
// threads are in waiter_pool.cc, its groups in waiter_groups.cc.
//
// Results settle on the JS thread of the environment that started the wait:
// one threadsafe function per environment, called once per batch, ref'd while
// the environment has waits pending (a pending wait keeps its event loop
// alive). When an environment is torn down (worker terminated, process exit),
// its cleanup hook first stops all delivery to it, then takes its waits out of
// the pool and frees them: nothing of it settles afterwards, and no pool
// thread touches its threadsafe function again.
#include "waiter_pool.h"

#if defined(__linux__)

#include <time.h>

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "errors.h"
#include "waiter_pool_internal.h"

namespace shmkit {

// What an environment's JS thread needs from the pool: finished waits and
// one threadsafe function to hear about them.
struct EnvWaits {
  std::mutex mu;  // guards alive, scheduled, done
  bool alive = true;       // false from the environment's cleanup hook on
  bool scheduled = false;  // a call of tsfn is on its way
  std::vector<waitpool::Wait*> done;
  napi_threadsafe_function tsfn = nullptr;
  size_t pending = 0;  // JS thread only: started and not yet settled
};

namespace waitpool {

static int64_t ToNs(const timespec& ts) {
  if (ts.tv_sec >= 9000000000LL) return kNever - 1;  // centuries away; do not overflow
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Hands finished waits to their environments, outside the pool lock.
void Deliver(std::vector<Wait*>* done) {
  for (Wait* w : *done) {
    EnvWaits* e = w->env.get();
    bool alive;
    {
      std::lock_guard<std::mutex> lock(e->mu);
      alive = e->alive;
      if (alive) {
        e->done.push_back(w);
        if (!e->scheduled) {
          e->scheduled = true;
          // Under e->mu: the cleanup hook clears `alive` under it before it
          // releases the function, so the function is live here.
          // A failed call would leave `scheduled` set and this environment
          // deaf for good: let the next delivery try again.
          if (napi_call_threadsafe_function(e->tsfn, nullptr, napi_tsfn_nonblocking) != napi_ok) e->scheduled = false;
        }
      }
    }
    if (!alive) delete w;  // its environment is gone: nothing to settle
  }
  done->clear();
}

// Settles a batch on the environment's JS thread. env is null when Node
// empties the queue at teardown: the cleanup hook has freed everything then.
static void Settle(napi_env env, napi_value, void* context, void*) {
  if (env == nullptr) return;
  // SAFETY: context is the EnvWaits that AddonData holds. With a non-null env
  // this runs on the JS thread before CleanupEnv (also on the JS thread)
  // releases the function, and AddonData — which keeps e alive — is freed
  // only with the instance data, after that.
  EnvWaits* e = static_cast<EnvWaits*>(context);
  std::vector<Wait*> batch;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    batch.swap(e->done);
    e->scheduled = false;
  }
  napi_value names[2];
  napi_create_string_utf8(env, "ok", NAPI_AUTO_LENGTH, &names[kOk]);
  napi_create_string_utf8(env, "timed-out", NAPI_AUTO_LENGTH, &names[kTimedOut]);
  for (Wait* w : batch) {
    napi_deferred deferred = w->deferred;
    int result = w->result;
    delete w;  // drops its pin first: a closed segment is unmapped before its last waiter runs on
    if (result >= 0) {
      napi_resolve_deferred(env, deferred, names[result]);
    } else {
      napi_value msg, error, errno_value;
      napi_create_string_utf8(env, "futex_waitv failed", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, nullptr, msg, &error);
      napi_create_int32(env, result, &errno_value);
      napi_set_named_property(env, error, "errno", errno_value);
      napi_reject_deferred(env, deferred, error);
    }
    if (--e->pending == 0) napi_unref_threadsafe_function(env, e->tsfn);
  }
}

// The environment is going away: stop delivery, cancel its waits, free them.
// Their promises are never settled; they go with the environment.
static void CleanupEnv(void* arg) {
  EnvWaits* e = static_cast<EnvWaits*>(arg);
  std::vector<Wait*> dead;
  {
    std::lock_guard<std::mutex> lock(e->mu);
    e->alive = false;
    dead.swap(e->done);
  }
  CancelWaits(e, &dead);
  for (Wait* w : dead) delete w;
  napi_release_threadsafe_function(e->tsfn, napi_tsfn_abort);
}

// This environment's EnvWaits, made (with its function and cleanup hook) on first use.
static EnvWaits* EnvOf(napi_env env) {
  AddonData* data = GetAddonData(env);
  if (data->waits) return data->waits.get();
  auto e = std::make_shared<EnvWaits>();
  napi_value name;
  napi_create_string_utf8(env, "shmkit.waitAsync", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, e.get(), Settle,
                                      &e->tsfn) != napi_ok)
    return nullptr;
  napi_unref_threadsafe_function(env, e->tsfn);  // ref'd only while waits are pending
  // Hooks run in reverse order: this one runs before the function's own.
  napi_add_env_cleanup_hook(env, CleanupEnv, e.get());
  data->waits = std::move(e);
  return data->waits.get();
}

}  // namespace waitpool

Napi::Value StartPoolWait(Napi::Env env, int32_t* word, int32_t expected, const timespec* deadline,
                          std::shared_ptr<void> pin) {
  using namespace waitpool;
  EnvWaits* e = EnvOf(env);
  if (e == nullptr) {
    if (!env.IsExceptionPending()) Napi::Error::New(env, "cannot create a threadsafe function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Wait* w = new Wait();
  w->deadline = deadline ? ToNs(*deadline) : kNever;
  w->pin = std::move(pin);
  w->env = GetAddonData(env)->waits;
  napi_value promise;
  napi_create_promise(env, &w->deferred, &promise);

  int err = AddWait(w, word, expected);
  if (err != 0) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, w->deferred, undefined);  // frees it; the promise is never handed out
    delete w;
    ThrowErrno(env, err, "pthread_create", "");
    return env.Undefined();
  }
  if (e->pending++ == 0) napi_ref_threadsafe_function(env, e->tsfn);
  return Napi::Value(env, promise);
}

}  // namespace shmkit

#endif  // __linux__

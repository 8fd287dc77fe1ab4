// Named segments: mmap/munmap and the lifetime of each mapping, as an
// external ArrayBuffer or a SharedArrayBuffer. The calls on descriptors
// (shm_open, shm_unlink, close, fallocate) are in segment_files.cc;
// everything else (validation, modes, names, fstat, fchmod) is done in
// lib/segment.ts with Node's own fs calls.
#include "segment.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "external_buffers.h"
#include "guard.h"
#include "truncation.h"

namespace shmkit {

// node_api_create_external_sharedarraybuffer (experimental Node-API: Node
// 22.23.3+, 24.16+, 26.1+; not 20, not 25), looked up at load so that one
// build runs everywhere. Signature from js_native_api.h of Node 24.21; the
// finalizer (node_api_noenv_finalize) may run on any thread, at any time.
using NoEnvFinalize = void (*)(void* data, void* hint);
using CreateExternalSab = napi_status (*)(napi_env, void* data, size_t byte_length, NoEnvFinalize finalize_cb,
                                          void* finalize_hint, napi_value* result);
static CreateExternalSab create_external_sab = nullptr;

// Guards live_map and closed_ranges: a SharedArrayBuffer's finalizer runs
// on whichever thread drops the last reference (a worker, a GC thread), not
// only on the JS thread that mapped it.
// Never destroyed: a buffer's finalizer may run during process exit, after
// static destructors.
static std::mutex& live_mutex = *new std::mutex;

// Live mappings by start address, process-wide: every thread's environment
// maps into the same address space, and a SharedArrayBuffer posted to a
// worker is the same memory there, so a futex wait in any thread finds the
// mapping that holds its word (upper_bound) and unmap(buffer) finds the owner
// struct of a buffer JavaScript hands back. An entry is removed the moment
// JavaScript loses the range (close() or the finalizer), so a later mmap that
// reuses the address never meets a stale entry. Guarded by live_mutex.
struct Mapping;
static std::map<void*, Mapping*>& live_map = *new std::map<void*, Mapping*>;

// Ranges of SharedArrayBuffers that close() zeroed, process-wide (a buffer
// posted to a worker is the same memory there): start -> length. Entries
// leave when the buffer is collected. Guarded by live_mutex.
static std::map<uintptr_t, size_t>& closed_ranges = *new std::map<uintptr_t, size_t>;

// One owner struct per mapping. The buffer's finalizer owns the struct and
// deletes it; both close() (via Unmap below) and the finalizer go through
// Release() or Zero(), which let go of the range at most once.
//
// The range itself is `range`, whose deleter munmaps. Release() drops the
// struct's copy; every pending waitAsync on a word inside holds another
// (PinSharedRange), so a close() or a collection while waits are pending
// detaches the buffer at once but defers munmap until the last wait ends.
// The shared_ptr's (atomic) use count is that count of pending waits, plus one
// while JavaScript can still reach the range.
//
// A SharedArrayBuffer (`sab`) cannot be detached: close() calls Zero(), which
// replaces the pages in place by private zero pages (one mmap with
// MAP_FIXED, so no gap opens that another mapping could take) and leaves the
// struct's copy of `range` to the finalizer. Old views then read zeros and
// their writes reach no one; the address range is released when the buffer
// is collected and no pending wait pins it.
struct Mapping {
  void* addr;
  size_t length;
  bool shared;  // MAP_SHARED: a futex on it is keyed by (inode, offset), so it reaches other processes
  bool sab;     // handed to JavaScript as a SharedArrayBuffer
  bool guarded; // a readonly view registered with the guard
  std::shared_ptr<void> range;  // empty once released
  bool zeroed = false;          // Zero() ran

  // Caller holds live_mutex.
  void Forget() {
    auto it = live_map.find(addr);
    if (it != live_map.end() && it->second == this) live_map.erase(it);
  }

  void Release() {
    std::shared_ptr<void> last;
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      if (!range) return;
      Forget();
      if (zeroed) closed_ranges.erase(reinterpret_cast<uintptr_t>(addr));
      last = std::move(range);
    }
    last.reset();  // munmaps now, or when the last pending wait lets go
  }

  // close() of a SharedArrayBuffer. JS thread; 0, -1 if already done, or
  // the errno of mmap.
  int Zero() {
    std::lock_guard<std::mutex> lock(live_mutex);
    if (!range || zeroed) return -1;
    Forget();
    zeroed = true;
    // The guard must not swap pages of a range that is about to change under
    // it; this also waits out a stray write in flight. The range deleter's
    // second call is a no-op.
    if (guarded) GuardUnregister(addr, length);
    // [addr, addr + length) is exactly our mapping, still mapped (range is
    // held): replaced atomically with zero pages of the same size, so a
    // pending wait that pins the range reads zeros from then on. It leaves
    // the truncation table when the range deleter unmaps it.
    if (int e = TruncationZero(addr, length)) return e;
    closed_ranges[reinterpret_cast<uintptr_t>(addr)] = length;
    return 0;
  }
};

// isClosed(typedArray) -> boolean: whether the view lies in a
// SharedArrayBuffer segment that close() zeroed (in any thread). Such a view
// keeps its length, so lib/ cannot tell from byteLength as it does for a
// detached ArrayBuffer.
static Napi::Value IsClosed(const Napi::CallbackInfo& info);

static void FinalizeSab(void*, void* hint) {
  auto* mapping = static_cast<Mapping*>(hint);
  mapping->Release();
  delete mapping;  // the finalizer is the struct's only owner
}

static void FinalizeAb(napi_env, void*, void* hint) { FinalizeSab(nullptr, hint); }

// The bytes of a buffer argument: an ArrayBuffer, or a typed array over an
// ArrayBuffer or a SharedArrayBuffer (N-API version 8 has no other way to
// read a SharedArrayBuffer's pointer). False, with a TypeError pending, else.
bool BytesOf(Napi::Env env, Napi::Value v, uint8_t** base, size_t* size) {
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
    *base = static_cast<uint8_t*>(ab.Data());
    *size = ab.ByteLength();
    return true;
  }
  if (v.IsTypedArray()) {
    void* data = nullptr;
    size_t length = 0;
    napi_typedarray_type type;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
    *base = static_cast<uint8_t*>(data);
    *size = v.As<Napi::TypedArray>().ByteLength();
    return true;
  }
  Napi::TypeError::New(env, "expected an ArrayBuffer or a typed array").ThrowAsJavaScriptException();
  return false;
}

std::shared_ptr<void> PinSharedRange(const void* p, size_t len) {
  std::lock_guard<std::mutex> lock(live_mutex);
  auto it = live_map.upper_bound(const_cast<void*>(p));  // the first mapping that starts after p
  if (it == live_map.begin()) return nullptr;
  Mapping* m = std::prev(it)->second;
  uintptr_t start = reinterpret_cast<uintptr_t>(m->addr);
  uintptr_t at = reinterpret_cast<uintptr_t>(p);
  // SAFETY: m is live: entries leave the map in Release(), before the struct
  // can be deleted. at >= start by upper_bound; the length check keeps the
  // whole [p, p + len) inside the range.
  if (!m->shared || at + len > start + m->length) return nullptr;
  return m->range;
}

// populate(buffer, offset, length) -> 0 or an errno: gives [offset, offset +
// length) of a mapped segment its pages and maps them, in one call
// (MADV_POPULATE_WRITE, Linux 5.14+), instead of one fault per page as the
// bytes are first written. A failure never raises a signal (the kernel
// returns EFAULT where an access would SIGBUS, e.g. on a full /dev/shm): the
// caller then falls back to posix_fallocate, which names the error.
// The range is checked against the buffer's current length, which is 0 once
// close() detached an ArrayBuffer (lib/ never populates a closed segment, so
// the zero pages that replace a closed SharedArrayBuffer are not advised).
static Napi::Value Populate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t offset, length;
  uint8_t* base = nullptr;
  size_t bytes = 0;
  if (info.Length() < 3 || !BytesOf(env, info[0], &base, &bytes) || !ArgInt64(info, 1, &offset) || !ArgInt64(info, 2, &length)) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "populate(buffer, offset, length)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const auto size = static_cast<int64_t>(bytes);
  if (base == nullptr || offset < 0 || length <= 0 || offset > size || length > size - offset) {
    return Napi::Number::New(env, EINVAL);
  }
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t from = reinterpret_cast<uintptr_t>(base + offset) & ~(page - 1);  // mappings are page aligned: still inside
  const uintptr_t to = reinterpret_cast<uintptr_t>(base + offset + length);
  int rc;
  do {
    rc = madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE);
  } while (rc != 0 && errno == EINTR);
  return Napi::Number::New(env, rc == 0 ? 0 : errno);
#else
  return Napi::Number::New(env, ENOSYS);
#endif
}

// map(fd, size, readonly, name) -> ArrayBuffer over the mapping.
// A read-only attach maps a descriptor opened O_RDONLY. Where the guard
// exists (x86-64 Linux, see guard.cc) it is MAP_SHARED and PROT_READ: the
// view is the shared pages themselves, and a stray write from JavaScript is
// discarded by the guard. Elsewhere it is a private copy-on-write mapping: a
// write lands in a private copy of its page, which stops following the
// writers. Neither ever reaches the shared bytes or faults the process.
static Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, size;
  std::string name;
  bool readonly;
  if (!ArgInt64(info, 0, &fd) || !ArgInt64(info, 1, &size) || !ArgBool(info, 2, &readonly) || !ArgString(info, 3, &name))
    return env.Undefined();
  if (size <= 0) {
    Napi::RangeError::New(env, "size must be positive").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t length = static_cast<size_t>(size);
  bool guarded = readonly && GuardSupported();
  int prot = guarded ? PROT_READ : PROT_READ | PROT_WRITE;
  int flags = readonly && !guarded ? (MAP_PRIVATE | MAP_NORESERVE) : MAP_SHARED;
  void* addr = mmap(nullptr, length, prot, flags, static_cast<int>(fd), 0);
  if (addr == MAP_FAILED) {
    ThrowErrno(env, errno, "mmap", name);
    return env.Undefined();
  }
  {
    // Before any JavaScript can see the range. A SIGBUS in it puts zero
    // pages there with the protection the view has (truncation.cc).
    const char* call = "";
    int e = guarded ? GuardRegister(addr, length, &call) : 0;
    if (e == 0) e = TruncationRegister(addr, length, prot, &call);
    if (e != 0) {
      if (guarded) GuardUnregister(addr, length);  // a no-op if it was never registered
      // SAFETY: exactly what mmap returned just above; nothing else has it.
      munmap(addr, length);
      ThrowErrno(env, e, call, name);
      return env.Undefined();
    }
  }
  // SAFETY: the deleter runs once, when the last holder of the range lets go:
  // addr/length are exactly what mmap returned, the buffer is detached or
  // collected by then (Release) and no pending wait pins it any more.
  // A readonly view leaves the guard first (this waits out a stray write in
  // flight on it; a no-op for other mappings), on whichever thread lets go last.
  std::shared_ptr<void> range(addr, [length, guarded](void* p) {
    if (guarded) GuardUnregister(p, length);
    TruncationUnregister(p);
    munmap(p, length);
  });
  auto* m = new Mapping{addr, length, (flags & MAP_SHARED) != 0, create_external_sab != nullptr, guarded,
                       std::move(range)};
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    live_map[addr] = m;
  }
  // SAFETY: the buffer covers exactly [addr, addr+size), which stays mapped at
  // least until Release(); Release() runs only after the buffer is detached
  // (unmap) or garbage (finalizer), so no JS view can outlive the range. A
  // SharedArrayBuffer is never detached: Zero() swaps its pages for zero
  // pages in place and only its finalizer (any thread) calls Release().
  // lib/ checks size <= buffer.constants.MAX_LENGTH first, so creation does
  // not fail on length. Where it fails (the memory sandbox refuses external
  // buffers: external_buffers.h) no finalizer will run: the mapping is
  // released here and the error says why.
  napi_value result;
  napi_status status = m->sab ? create_external_sab(env, addr, length, FinalizeSab, m, &result)
                              : napi_create_external_arraybuffer(env, addr, length, FinalizeAb, m, &result);
  if (status != napi_ok) {
    const bool sab = m->sab;
    m->Release();  // SAFETY: no buffer was made, so no finalizer owns m: we do
    delete m;
    if (env.IsExceptionPending()) return env.Undefined();
    if (const char* code = ExternalBufferErrorCode(status)) {
      ThrowCode(env, code, name);
    } else {
      Napi::Error::New(env, std::string(sab ? "node_api_create_external_sharedarraybuffer" : "napi_create_external_arraybuffer") +
                                " failed with status " + std::to_string(status))
          .ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
  return Napi::Value(env, result);
}

// unmap(buffer or a typed array over it) -> boolean. An ArrayBuffer is
// detached (every view over it now reads as length 0), then unmapped. A
// SharedArrayBuffer cannot be detached: its pages are replaced by private
// zero pages (Mapping::Zero), and the address range is released when it is
// collected. Returns false if it was not a live mapping (already closed, or
// not one of ours), which makes close() idempotent.
static Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* addr = nullptr;  // nullptr once detached
  size_t bytes = 0;
  if (info.Length() < 1 || !BytesOf(env, info[0], &addr, &bytes)) return env.Undefined();
  Mapping* m = nullptr;
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    auto it = addr ? live_map.find(addr) : live_map.end();
    if (it == live_map.end() || bytes != it->second->length) return Napi::Boolean::New(env, false);
    m = it->second;
  }
  // SAFETY: m stays alive until its finalizer runs, which needs the buffer
  // info[0] holds (or views it) to be garbage: not before we return.
  if (m->sab) {
    int e = m->Zero();
    if (e > 0) {
      ThrowErrno(env, e, "mmap", "");
      return env.Undefined();
    }
    return Napi::Boolean::New(env, e == 0);
  }
  Napi::ArrayBuffer ab =
      info[0].IsArrayBuffer() ? info[0].As<Napi::ArrayBuffer>() : info[0].As<Napi::TypedArray>().ArrayBuffer();
  ab.Detach();
  if (env.IsExceptionPending()) return env.Undefined();  // not detachable: keep the mapping
  m->Release();  // the struct itself is deleted by the finalizer, which Detach schedules; munmap may wait for pending waits
  return Napi::Boolean::New(env, true);
}

static Napi::Value IsClosed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* p = nullptr;
  size_t n = 0;
  if (info.Length() < 1 || !BytesOf(env, info[0], &p, &n)) return env.Undefined();
  const auto at = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(live_mutex);
  auto it = closed_ranges.upper_bound(at);
  if (p == nullptr || it == closed_ranges.begin()) return Napi::Boolean::New(env, false);
  --it;
  return Napi::Boolean::New(env, at < it->first + it->second);
}

void InitSegment(Napi::Env env, Napi::Object exports) {
  // Once per process: worker threads load the addon too.
  // SAFETY: dlsym of a symbol the node binary exports, cast to the signature
  // it has in js_native_api.h; absent (nullptr) on runtimes without it.
  static std::once_flag looked_up;
  std::call_once(looked_up, [] {
    create_external_sab =
        reinterpret_cast<CreateExternalSab>(dlsym(RTLD_DEFAULT, "node_api_create_external_sharedarraybuffer"));
  });
  exports.Set("bufferKind", Napi::String::New(env, create_external_sab ? "shared" : "external"));
  exports.Set("populate", Napi::Function::New(env, Populate, "populate"));
  InitSegmentFiles(env, exports);
  exports.Set("map", Napi::Function::New(env, Map, "map"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("isClosed", Napi::Function::New(env, IsClosed, "isClosed"));
}

}  // namespace shmkit

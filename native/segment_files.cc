// The segment calls on names and descriptors: shm_open, shm_unlink, close,
// giving an object its pages (posix_fallocate, fallocate), and msync for
// file-backed segments (lib/segment-file.ts opens those files with Node's
// fs). Mappings are in segment.cc.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "segment.h"

namespace shmkit {

// open(name, oflag, mode) -> fd. `name` has no leading '/'.
static Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  int64_t oflag, mode;
  if (!ArgString(info, 0, &name) || !ArgInt64(info, 1, &oflag) || !ArgInt64(info, 2, &mode)) return env.Undefined();
  std::string path = "/" + name;
  int fd;
  do {
    fd = shm_open(path.c_str(), static_cast<int>(oflag) | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    ThrowErrno(env, errno, "shm_open", name);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// unlink(name)
static Napi::Value Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgString(info, 0, &name)) return env.Undefined();
  std::string path = "/" + name;
  if (shm_unlink(path.c_str()) != 0) ThrowErrno(env, errno, "shm_unlink", name);
  return env.Undefined();
}

// close(fd): closes a descriptor that open() returned. Closing it with
// fs.closeSync would work, but in a worker thread Node warns about closing a
// descriptor its fs layer never opened. Not retried on EINTR: on Linux the
// descriptor is released even then, and a retry could close a reused number.
static Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt64(info, 0, &fd)) return env.Undefined();
  if (close(static_cast<int>(fd)) != 0 && errno != EINTR) ThrowErrno(env, errno, "close", "");
  return env.Undefined();
}

// size(fd, name) -> number: the object's size (fstat's st_size). An attach
// needs only that; fs.fstatSync builds a whole Stats object for it.
static Napi::Value Size(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  std::string name;
  if (!ArgInt64(info, 0, &fd) || !ArgString(info, 1, &name)) return env.Undefined();
  struct stat st;
  if (fstat(static_cast<int>(fd), &st) != 0) {
    ThrowErrno(env, errno, "fstat", name);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(st.st_size));
}

// reserve(fd, size, name): sets the size and allocates every page now, so
// that a full /dev/shm fails here with ENOSPC instead of a later SIGBUS.
static Napi::Value Reserve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, size;
  std::string name;
  if (!ArgInt64(info, 0, &fd) || !ArgInt64(info, 1, &size) || !ArgString(info, 2, &name)) return env.Undefined();
#if defined(__linux__)
  int rc;
  do {
    rc = posix_fallocate(static_cast<int>(fd), 0, static_cast<off_t>(size));  // returns the error, not -1
  } while (rc == EINTR);
  if (rc != 0) ThrowErrno(env, rc, "posix_fallocate", name);
#else
  // macOS has no fallocate for shm objects; ftruncate is all it offers.
  int rc;
  do {
    rc = ftruncate(static_cast<int>(fd), static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) ThrowErrno(env, errno, "ftruncate", name);
#endif
  return env.Undefined();
}

// allocate(fd, offset, length, name): posix_fallocate of [offset, offset +
// length) of a growable table's sparse segment, so that its pages exist
// before anything writes them (a write to a missing tmpfs page on a full
// /dev/shm is a SIGBUS; this is an ENOSPC instead). The file never shrinks:
// fallocate without FALLOC_FL_KEEP_SIZE only grows the size, and callers stay
// below it. offset and length come from the table header, validated by
// header.ts against the segment's size.
static Napi::Value Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, offset, length;
  std::string name;
  if (!ArgInt64(info, 0, &fd) || !ArgInt64(info, 1, &offset) || !ArgInt64(info, 2, &length) || !ArgString(info, 3, &name))
    return env.Undefined();
  if (offset < 0 || length <= 0) {
    Napi::RangeError::New(env, "offset must be >= 0 and length > 0").ThrowAsJavaScriptException();
    return env.Undefined();
  }
#if defined(__linux__)
  int rc;
  do {
    rc = posix_fallocate(static_cast<int>(fd), static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc == EINTR);
  if (rc != 0) ThrowErrno(env, rc, "posix_fallocate", name);
#else
  (void)fd;
#endif
  return env.Undefined();
}

// fill(fd, size, path) -> boolean: fallocate(fd, 0, 0, size) of an existing
// file opened for writing, so that its holes get blocks now and a write
// through the mapping can never SIGBUS on a full disk (ENOSPC here instead).
// Blocks already there are untouched, and mode 0 never shrinks the file.
// Unlike posix_fallocate it never falls back to writing a zero byte per block
// (glibc's fallback reads then writes each block: it could undo a concurrent
// write by another process), so on a filesystem without fallocate it does
// nothing and returns false.
static Napi::Value Fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd, size;
  std::string path;
  if (!ArgInt64(info, 0, &fd) || !ArgInt64(info, 1, &size) || !ArgString(info, 2, &path)) return env.Undefined();
#if defined(__linux__)
  int rc;
  do {
    rc = fallocate(static_cast<int>(fd), 0, 0, static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EOPNOTSUPP) return Napi::Boolean::New(env, false);
    ThrowErrno(env, errno, "fallocate", path);
    return env.Undefined();
  }
  return Napi::Boolean::New(env, true);
#else
  (void)fd, (void)size;
  return Napi::Boolean::New(env, false);
#endif
}

// flush(view, path): msync(MS_SYNC) of the pages under `view` (an
// ArrayBuffer, or a typed array over a mapping): once it returns, what was
// written through any mapping of those file pages is on the device. The
// start is rounded down to a page (msync wants it aligned). An empty view
// (a closed ArrayBuffer) flushes nothing.
static Napi::Value Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* base = nullptr;
  size_t size = 0;
  std::string path;
  if (!BytesOf(env, info[0], &base, &size) || !ArgString(info, 1, &path)) return env.Undefined();
  if (size == 0) return env.Undefined();
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(base) & ~(page - 1);
  const size_t length = static_cast<size_t>(reinterpret_cast<uintptr_t>(base) + size - start);
  // SAFETY: msync only reads the page tables of [start, start + length); it
  // never touches the bytes from this thread, so it cannot fault. A range
  // that is no longer mapped (a SharedArrayBuffer closed by another thread is
  // still mapped, to zero pages) fails with ENOMEM, thrown below.
  int rc;
  do {
    rc = msync(reinterpret_cast<void*>(start), length, MS_SYNC);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) ThrowErrno(env, errno, "msync", path);
  return env.Undefined();
}

void InitSegmentFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("size", Napi::Function::New(env, Size, "size"));
  exports.Set("reserve", Napi::Function::New(env, Reserve, "reserve"));
  exports.Set("allocate", Napi::Function::New(env, Allocate, "allocate"));
  exports.Set("fill", Napi::Function::New(env, Fill, "fill"));
  exports.Set("flush", Napi::Function::New(env, Flush, "flush"));
}

}  // namespace shmkit

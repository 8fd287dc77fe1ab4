// The segment calls on names and descriptors: shm_open, shm_unlink, close,
// and giving an object its pages (posix_fallocate). Mappings are in
// segment.cc.
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

void InitSegmentFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("reserve", Napi::Function::New(env, Reserve, "reserve"));
  exports.Set("allocate", Napi::Function::New(env, Allocate, "allocate"));
}

}  // namespace shmkit

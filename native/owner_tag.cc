// The owner tag and the owner lock of a segment, for lib/ownership.ts: the
// extended attribute that records a segment's owner (ownFd, getOwnerTag,
// removeOwnerTag) and the flock that sweep() and adopt take around "check
// the owner, then act" (lockFd, unlockFd). Policy (what the tag means, when
// to take the lock) is in lib/ownership.ts and lib/sweep.ts.
#include "owner_tag.h"

#include <errno.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "args.h"
#include "errors.h"

namespace shmkit {

static const char kOwnerAttr[] = "user.shmkit.owner";

#ifdef __APPLE__
static int SetAttr(int fd, const std::string& v) {
  return fsetxattr(fd, kOwnerAttr, v.data(), v.size(), 0, 0);
}
static ssize_t GetAttr(const char* path, char* buf, size_t n) { return getxattr(path, kOwnerAttr, buf, n, 0, 0); }
static int RemoveAttr(int fd) { return fremovexattr(fd, kOwnerAttr, 0); }
#else
static int SetAttr(int fd, const std::string& v) { return fsetxattr(fd, kOwnerAttr, v.data(), v.size(), 0); }
static ssize_t GetAttr(const char* path, char* buf, size_t n) { return getxattr(path, kOwnerAttr, buf, n); }
static int RemoveAttr(int fd) { return fremovexattr(fd, kOwnerAttr); }
#endif

// ownFd(fd, tag) -> "<dev> <ino>": sets the owner tag (best effort: a
// filesystem without user xattrs, or a mode that denies us writing, only
// means "owner unknown") and returns the object's identity. One call instead
// of fs.fstatSync plus a tag call: it is on the path of every owned create,
// whose cost over an unowned one is budgeted at 1.5x.
static Napi::Value OwnFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  std::string value;
  if (!ArgInt32(info, 0, &fd) || !ArgString(info, 1, &value)) return env.Undefined();
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ThrowErrno(env, errno, "fstat", "");
    return env.Undefined();
  }
  int r;
  // SAFETY: value.data() is valid for value.size() bytes for the whole call.
  do r = SetAttr(fd, value);
  while (r != 0 && errno == EINTR);
  std::string id = std::to_string(static_cast<unsigned long long>(st.st_dev)) + " " +
                   std::to_string(static_cast<unsigned long long>(st.st_ino));
  return Napi::String::New(env, id);
}

// removeOwnerTag(fd) → 0 or the errno (ENODATA when there was none).
static Napi::Value RemoveOwnerTag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd)) return env.Undefined();
  int r;
  do r = RemoveAttr(fd);
  while (r != 0 && errno == EINTR);
  return Napi::Number::New(env, r == 0 ? 0 : errno);
}

// getOwnerTag(path) → the tag, or undefined when there is none (or the file
// is gone, or the filesystem has no user xattrs).
static Napi::Value GetOwnerTag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgString(info, 0, &path)) return env.Undefined();
  char buf[256];
  ssize_t n;
  // SAFETY: getxattr writes at most sizeof buf bytes into buf; a longer
  // value fails with ERANGE (not ours, then: we write under 64 bytes).
  do n = GetAttr(path.c_str(), buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n < 0) return env.Undefined();
  return Napi::String::New(env, buf, static_cast<size_t>(n));
}

// lockFd(fd, wait) -> true once this open file holds the exclusive flock,
// false if !wait and another holds it. unlockFd(fd) releases it. sweep()
// and adopt (attach with own) take it around "check the owner, then act", so
// that neither acts on what the other has just changed. The lock must be
// released explicitly: a mapping keeps the open file (and so its flock)
// alive after the descriptor is closed.
static Napi::Value LockFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  bool wait;
  if (!ArgInt32(info, 0, &fd) || !ArgBool(info, 1, &wait)) return env.Undefined();
  int op = LOCK_EX | (wait ? 0 : LOCK_NB);
  int r;
  do r = flock(fd, op);
  while (r != 0 && errno == EINTR);
  if (r == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  ThrowErrno(env, errno, "flock", "");
  return env.Undefined();
}

static Napi::Value UnlockFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt32(info, 0, &fd)) return env.Undefined();
  flock(fd, LOCK_UN);  // only fails for a bad fd
  return env.Undefined();
}

void InitOwnerTag(Napi::Env env, Napi::Object exports) {
  exports.Set("lockFd", Napi::Function::New(env, LockFd, "lockFd"));
  exports.Set("unlockFd", Napi::Function::New(env, UnlockFd, "unlockFd"));
  exports.Set("ownFd", Napi::Function::New(env, OwnFd, "ownFd"));
  exports.Set("removeOwnerTag", Napi::Function::New(env, RemoveOwnerTag, "removeOwnerTag"));
  exports.Set("getOwnerTag", Napi::Function::New(env, GetOwnerTag, "getOwnerTag"));
}

}  // namespace shmkit

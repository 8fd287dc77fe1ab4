// Lifecycle support that JavaScript cannot do itself: starting the tracker
// process (native/tracker.c) with a close-on-exec pipe, and the extended
// attribute that records a segment's owner. Policy (when to start it, what
// to write, what the tag means) is in lib/ownership.ts.
#include "lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "args.h"
#include "errors.h"
#include "thread.h"

extern char** environ;

namespace shmkit {

static const char kOwnerAttr[] = "user.shmkit.owner";

// One tracker per process, shared by the main thread and every worker thread
// (the addon is loaded once per process), so it is process state, not
// per-environment state. All of it is guarded by g_mu. The objects with
// destructors are allocated once and never freed: the watcher thread may
// still use them while the process runs its static destructors at exit.
static std::mutex& g_mu = *new std::mutex;
static int g_fd = -1;
static pid_t g_pid = -1;
static int g_pidfd = -1;  // the tracker's pidfd (readable once it exits); -1 if none or unsupported
static uint64_t g_generation = 0;  // grows with every start: the watcher checks it is still watching the current tracker
static std::string& g_path = *new std::string;  // the tracker binary, for restarts by the watcher
// What this process has registered with its tracker: escaped name -> its '+' line.
static std::unordered_map<std::string, std::string>& g_registered = *new std::unordered_map<std::string, std::string>;
static std::condition_variable& g_started = *new std::condition_variable;  // a tracker with a pidfd exists
static bool g_watching = false;

// Moves a descriptor to 3 or above, keeping O_CLOEXEC, so that the dup2 onto
// fd 0 in the child never meets a source that is already 0.
static int AboveStdio(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int saved = errno;
  close(fd);
  errno = saved;
  return moved;
}

// Spawns `path` with stdin = read end of a fresh pipe; returns the write end
// (blocking, O_CLOEXEC) or -errno.
static int Spawn(const std::string& path, pid_t* pid) {
  int p[2];
  // O_CLOEXEC from birth: no fork()+exec() elsewhere in this process (child_process,
  // another addon) can ever inherit the write end and delay the tracker's EOF.
#ifdef __linux__
  if (pipe2(p, O_CLOEXEC) != 0) return -errno;
#else
  // No pipe2 (macOS): a fork elsewhere in these few instructions could
  // inherit the write end; there is no atomic alternative.
  if (pipe(p) != 0) return -errno;
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
#endif
#ifdef F_SETPIPE_SZ
  // Room for ~15,000 registrations: the tracker naps between reads during a
  // burst (see tracker.c), and a full pipe would stall create() until it wakes.
  // The default limit for unprivileged users (fs.pipe-max-size) is 1 MiB; if
  // refused, the default 64 KiB still works, just with rarer stalls.
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
#endif
  p[0] = AboveStdio(p[0]);
  p[1] = p[1] < 0 ? p[1] : AboveStdio(p[1]);
  if (p[0] < 0 || p[1] < 0) {
    int err = errno;
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    return -err;
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, p[0], 0);  // dup2 clears O_CLOEXEC on fd 0
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#ifdef POSIX_SPAWN_SETSID
  // Its own session and process group: Ctrl-C and kill(-pgid) aimed at the
  // owner's group never reach it.
  flags |= POSIX_SPAWN_SETSID;
#endif
  posix_spawnattr_setflags(&attr, flags);
  // Born with the signals it ignores blocked: one that lands between exec
  // and the tracker's signal(SIG_IGN) calls stays pending, then is discarded.
  sigset_t mask, dfl;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGQUIT);
  posix_spawnattr_setsigmask(&attr, &mask);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGCHLD);
  posix_spawnattr_setsigdefault(&attr, &dfl);

  char arg0[] = "shmkit-tracker";
  char* argv[] = {arg0, nullptr};
  // glibc's posix_spawn uses CLONE_VFORK: cheap even from a large process,
  // and it returns only once exec has succeeded or failed.
  int err = posix_spawn(pid, path.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(p[0]);
  if (err != 0) {
    close(p[1]);
    return -err;
  }
  return p[1];
}

// Caller holds g_mu. Closes the current tracker's pipe (it then exits) and
// reaps it if it is already gone: libuv only reaps children it spawned.
static void DropTracker() {
  if (g_fd < 0) return;
  close(g_fd);
  g_fd = -1;
  if (g_pidfd >= 0) close(g_pidfd);
  g_pidfd = -1;
  int status;
  if (g_pid > 0) waitpid(g_pid, &status, WNOHANG);
  g_pid = -1;
}

static void StartWatcher();

static int WriteAll(const std::string& line);

// Caller holds g_mu. Starts a tracker if none runs and tells it everything
// this process has registered (nothing, the first time; everything every
// thread owns, when it replaces one that died); 0 or -errno.
static int EnsureTracker(const std::string& path) {
  if (g_fd >= 0) return 0;
  pid_t pid = -1;
  int fd = Spawn(path, &pid);
  if (fd < 0) return fd;
  g_fd = fd;
  g_pid = pid;
  g_path = path;
  g_generation++;
#if defined(__linux__) && defined(SYS_pidfd_open)
  // Without a pidfd (a kernel before 5.3) nothing watches the tracker: a
  // dead one is only noticed, as EPIPE, at the next register. A pidfd is
  // always close-on-exec.
  g_pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (g_pidfd >= 0) {
    StartWatcher();
    g_started.notify_one();
  }
#endif
  for (const auto& entry : g_registered) {
    int err = WriteAll(entry.second);
    if (err != 0) return err;  // this one died too (EPIPE): the caller starts another
  }
  return 0;
}

// Caller holds g_mu. Writes all of `line`; 0 or -errno. The fd is blocking.
static int WriteAll(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    // SAFETY: line.data() + done .. line.size() is inside the string.
    ssize_t n = write(g_fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// Caller holds g_mu. Keeps g_registered in step with a message just written
// ("+<dev> <ino> <name>\n" or "-<name>\n", names escaped as the tracker reads them).
static void Remember(const std::string& line) {
  if (line.size() < 2 || line.back() != '\n') return;
  if (line[0] == '+') {
    size_t a = line.find(' ');
    size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
    if (b != std::string::npos) g_registered[line.substr(b + 1, line.size() - b - 2)] = line;
  } else if (line[0] == '-') {
    g_registered.erase(line.substr(1, line.size() - 2));
  }
}

// The watcher: one thread per process, started with the first tracker that
// has a pidfd. It sleeps in poll() on that pidfd; when the tracker dies
// (someone SIGKILLed it), it starts a new one at once and registers again
// everything this process owns, so that the owner's own death a moment later
// is still cleaned up. Without it a dead tracker is only noticed at the next
// register, and an owner killed before that would leave its segments to sweep().
// It never touches JavaScript; the library's threads learn of the new
// tracker from the generation number and re-send (harmlessly) what they own.
static void* WatcherMain(void*) {
#ifdef __linux__
  pthread_setname_np(pthread_self(), "shmkit-watch");  // as seen in /proc/<pid>/task/*/comm
#endif
  std::unique_lock<std::mutex> lock(g_mu);
  for (;;) {
    while (g_pidfd < 0) g_started.wait(lock);
    // A private copy: another thread may close g_pidfd (DropTracker) while we poll.
    int pidfd = fcntl(g_pidfd, F_DUPFD_CLOEXEC, 3);
    uint64_t generation = g_generation;
    if (pidfd < 0) return nullptr;  // out of descriptors: stop watching, EPIPE still works
    lock.unlock();
    pollfd p = {pidfd, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    close(pidfd);
    lock.lock();
    if (g_generation != generation) continue;  // already replaced by a writer that met EPIPE
    DropTracker();
    // Nothing registered: no need for a tracker until the next register.
    // A failed start also leaves it to the next register.
    if (!g_registered.empty()) EnsureTracker(g_path);
  }
}

// Caller holds g_mu.
static void StartWatcher() {
  if (g_watching) return;
  pthread_t thread;
  g_watching = StartQuietThread(&thread, WatcherMain, nullptr, true) == 0;
}

// { pid } of the current tracker; -1 when none runs.
static Napi::Value Info(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, g_pid));
  return out;
}

// trackerWrite(path, line): writes one message to this process's tracker,
// starting one first if none runs, and a new one if the old one died (EPIPE)
// before the watcher replaced it. Every start replays what is registered
// (EnsureTracker), so no caller ever re-sends. The fd never leaves this file:
// every thread writes under the same lock, so none can write to a descriptor
// another thread has just closed (and the kernel reused).
static Napi::Value TrackerWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, line;
  if (!ArgString(info, 0, &path) || !ArgString(info, 1, &line)) return env.Undefined();
  std::lock_guard<std::mutex> lock(g_mu);
  int err = EnsureTracker(path);
  if (err == 0) err = WriteAll(line);
  if (err == -EPIPE) {
    DropTracker();
    err = EnsureTracker(path);
    if (err == 0) err = WriteAll(line);
  }
  if (err != 0) {
    ThrowErrno(env, -err, err == -EPIPE ? "write" : "posix_spawn", path);
    return env.Undefined();
  }
  Remember(line);
  return env.Undefined();
}

// startTracker(path, restart) → { pid }: starts the tracker if none runs, or
// (restart) replaces it. For tests and benchmarks; the library itself only
// uses trackerWrite.
static Napi::Value StartTracker(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  bool restart;
  if (!ArgString(info, 0, &path) || !ArgBool(info, 1, &restart)) return env.Undefined();
  std::lock_guard<std::mutex> lock(g_mu);
  if (restart) DropTracker();
  int err = EnsureTracker(path);
  if (err != 0) {
    ThrowErrno(env, -err, "posix_spawn", path);
    return env.Undefined();
  }
  return Info(env);
}

// trackerInfo() → { pid }; pid -1 when none runs.
static Napi::Value TrackerInfo(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_mu);
  return Info(info.Env());
}

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

void InitLifecycle(Napi::Env env, Napi::Object exports) {
  exports.Set("lockFd", Napi::Function::New(env, LockFd, "lockFd"));
  exports.Set("unlockFd", Napi::Function::New(env, UnlockFd, "unlockFd"));
  exports.Set("startTracker", Napi::Function::New(env, StartTracker, "startTracker"));
  exports.Set("trackerWrite", Napi::Function::New(env, TrackerWrite, "trackerWrite"));
  exports.Set("trackerInfo", Napi::Function::New(env, TrackerInfo, "trackerInfo"));
  exports.Set("ownFd", Napi::Function::New(env, OwnFd, "ownFd"));
  exports.Set("removeOwnerTag", Napi::Function::New(env, RemoveOwnerTag, "removeOwnerTag"));
  exports.Set("getOwnerTag", Napi::Function::New(env, GetOwnerTag, "getOwnerTag"));
}

}  // namespace shmkit

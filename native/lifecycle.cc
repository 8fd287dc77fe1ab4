// The tracker client: the one tracker process (native/tracker.c) of this
// process, which registrations go to through its close-on-exec pipe; which
// tracker is installed, what it has been told, the watcher thread that
// replaces a killed one and replays every registration to it, and the
// exports trackerWrite, startTracker and trackerInfo. Starting, writing to
// and ending a tracker process is in tracker_process.cc; the owner tag and
// lock in owner_tag.cc. Policy (when to start it, what to write) is in
// lib/ownership.ts.
#include "lifecycle.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "args.h"
#include "errors.h"
#include "thread.h"
#include "tracker_process.h"

namespace shmkit {

// One tracker per process, shared by the main thread and every worker thread
// (the addon is loaded once per process), so it is process state, not
// per-environment state. All of it is guarded by g_mu. The objects with
// destructors are allocated once and never freed: the watcher thread may
// still use them while the process runs its static destructors at exit.
static std::mutex& g_mu = *new std::mutex;
static int g_fd = -1;     // write end of the installed tracker's pipe; -1 if none is installed
static pid_t g_pid = -1;  // the installed tracker; -1 if none
// Grows with every tracker installed. A replacement that started under one
// generation installs its tracker only if no other path (a writer meeting
// EPIPE, startTracker) has installed one meanwhile.
static uint64_t g_generation = 0;
static std::string& g_path = *new std::string;  // the tracker binary, for restarts by the watcher
// What this process has registered: escaped name -> its '+' line.
static std::unordered_map<std::string, std::string>& g_registered = *new std::unordered_map<std::string, std::string>;
static std::condition_variable& g_installed = *new std::condition_variable;  // the watcher sleeps on it
static bool g_watching = false;   // the watcher thread runs
static bool g_no_pidfd = false;   // this kernel has no pidfd_open: no watcher, EPIPE alone notices a dead tracker
static uint64_t g_watched = 0;    // the generation the watcher is polling; 0 when it is not polling
static bool g_replacing = false;  // the watcher is replacing a dead tracker: writers only record (Record)
static bool g_logging = false;    // ... and has taken its snapshot: writers also append to g_log
static std::vector<std::string>& g_log = *new std::vector<std::string>;  // messages recorded since the snapshot

// Caller holds g_mu. Takes the installed tracker (if any) out of service; the caller retires it.
static Tracker Uninstall() {
  Tracker t{g_fd, g_pid};
  g_fd = -1;
  g_pid = -1;
  return t;
}

static void StartWatcher();

// Caller holds g_mu. Puts into service a tracker that has been told every
// registration, ending any replacement in flight: that one finds the
// generation moved on and retires its own tracker.
static void Install(Tracker t, const std::string& path) {
  g_fd = t.fd;
  g_pid = t.pid;
  g_path = path;
  g_generation++;
  g_replacing = false;
  g_logging = false;
  g_log.clear();
#if defined(__linux__) && defined(SYS_pidfd_open)
  StartWatcher();
#endif
  g_installed.notify_all();
}

// Caller holds g_mu. Every registration, as the one buffer a new tracker is
// told first. A copy in memory (about 70 bytes a name), no system call.
static std::string Snapshot() {
  std::string all;
  for (const auto& entry : g_registered) all += entry.second;
  return all;
}

// Caller holds g_mu. Starts a tracker if none is installed, tells it every
// registration (nothing, the first time) and installs it; 0 or -errno.
// Used by writers when no watcher covers them; they wait meanwhile.
static int EnsureTracker(const std::string& path) {
  if (g_fd >= 0) return 0;
  Tracker t;
  t.fd = Spawn(path, &t.pid);
  if (t.fd < 0) return t.fd;
  int err = WriteAll(t.fd, Snapshot());
  if (err != 0) {
    Retire(t);  // died at once (EPIPE)
    return err;
  }
  Install(t, path);
  return 0;
}

// Caller holds g_mu. Records a message ("+<dev> <ino> <name>\n" or
// "-<name>\n", names escaped as the tracker reads them) that has been
// written to the installed tracker, or, during a replacement, is to be sent
// by it: g_registered keeps the net state, g_log the order since a snapshot.
static void Record(const std::string& line) {
  if (line.size() < 2 || line.back() != '\n') return;
  if (line[0] == '+') {
    size_t a = line.find(' ');
    size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
    if (b != std::string::npos) g_registered[line.substr(b + 1, line.size() - b - 2)] = line;
  } else if (line[0] == '-') {
    g_registered.erase(line.substr(1, line.size() - 2));
  }
  if (g_logging) g_log.push_back(line);
}

// 10 ms doubling to 1 s between attempts after a failure. Sleeps on
// g_installed, so another path installing a tracker ends the wait early.
class Backoff {
 public:
  void Wait(std::unique_lock<std::mutex>& lock) {
    g_installed.wait_for(lock, std::chrono::milliseconds(ms_));
    ms_ = ms_ * 2 > 1000 ? 1000 : ms_ * 2;
  }
  void Reset() { ms_ = 10; }

 private:
  int ms_ = 10;
};

// Caller holds g_mu through `lock`; the tracker of `generation` has died.
// Starts a new one and tells it everything, without the lock for the slow
// parts, and installs it. Retries after any failure (out of descriptors or
// processes, no memory, the new one dying at once) until it installs a
// tracker, another path does, or nothing is registered any more.
//
// Why no message is lost or reordered, although writers go on meanwhile:
// from the moment g_replacing is set (under the lock) every writer only
// records its message (Record), in lock order, and writes nowhere. Each
// attempt takes, under the lock, a snapshot S of g_registered (the net effect
// of every message so far) and from then on has writers append to g_log
// too. Without the lock it spawns a tracker and writes S; nobody else knows
// that pipe, so nothing interleaves. It then writes g_log in batches,
// taking each batch out under the lock, until under the lock it finds g_log
// empty; still holding the lock it installs the tracker. That tracker has
// been sent S followed by every message recorded after S, in order; applying
// "+ sets a name's identity, - removes it" to S in that order gives exactly
// g_registered at the moment of install, which is the invariant every
// installed tracker keeps (writers write, then Record, under the lock).
// Writers install nothing while g_replacing is set (one that meets EPIPE
// sets it and leaves the replacement to the watcher); startTracker may, and
// Install bumps the generation: at each of its steps under the lock, a
// replacement whose generation is no longer current retires its tracker
// unused (SIGKILL, so it cleans nothing up) and stops.
//
// While a replacement runs, a create() returns with its message queued
// rather than in a pipe. An owner killed in that window loses the queued
// messages; it was unprotected then before too, its tracker being dead.
static void Replace(std::unique_lock<std::mutex>& lock, uint64_t generation) {
  g_replacing = true;
  Tracker dead = Uninstall();  // nothing, if a writer that met EPIPE has retired it
  lock.unlock();
  Retire(dead);
  lock.lock();
  Backoff backoff;
  for (;;) {
    if (g_generation != generation) return;
    if (g_registered.empty()) {  // all released meanwhile: the next register starts one
      g_replacing = false;
      return;
    }
    std::string replay = Snapshot();
    g_log.clear();
    g_logging = true;
    std::string path = g_path;
    lock.unlock();
    Tracker t;
    t.fd = Spawn(path, &t.pid);
    int err = t.fd < 0 ? t.fd : WriteAll(t.fd, replay);
    lock.lock();
    while (err == 0 && g_generation == generation && !g_log.empty()) {
      std::string batch;
      for (const auto& line : g_log) batch += line;
      g_log.clear();
      lock.unlock();
      err = WriteAll(t.fd, batch);
      lock.lock();
    }
    if (err == 0 && g_generation == generation) {
      Install(t, path);
      return;
    }
    if (g_generation == generation) g_logging = false;  // the next attempt takes a new snapshot
    lock.unlock();
    Retire(t);
    lock.lock();
    if (err != 0) backoff.Wait(lock);
  }
}

// The watcher: one thread per process, started with the first tracker. It
// sleeps in poll() on a pidfd of the installed tracker; when that one dies
// (someone SIGKILLed it), it replaces it at once (Replace), so that the
// owner's own death a moment later is still cleaned up. Without it a dead
// tracker is only noticed at the next register, and an owner killed before
// that would leave its segments to sweep(). It never touches JavaScript.
// Failures (out of descriptors for the pidfd, a failed poll) are retried
// with back-off; it ends only if the kernel has no pidfd_open.
static void* WatcherMain(void*) {
#ifdef __linux__
  pthread_setname_np(pthread_self(), "shmkit-watch");  // as seen in /proc/<pid>/task/*/comm
#endif
  std::unique_lock<std::mutex> lock(g_mu);
  Backoff backoff;
  for (;;) {
    while (g_fd < 0) g_installed.wait(lock);
    uint64_t generation = g_generation;
#ifdef SYS_pidfd_open
    // Its own pidfd, which no other thread closes. g_pid is our child and
    // installed, so not yet reaped: the pid cannot name another process.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, g_pid, 0));
#else
    int pidfd = -1;
    errno = ENOSYS;
#endif
    if (pidfd < 0 && errno == ENOSYS) break;
    if (pidfd < 0) {
      backoff.Wait(lock);  // out of descriptors or memory: try again
      continue;
    }
    g_watched = generation;
    lock.unlock();
    pollfd p = {pidfd, POLLIN, 0};
    int r;
    do r = poll(&p, 1, -1);
    while (r < 0 && errno == EINTR);
    close(pidfd);
    lock.lock();
    g_watched = 0;
    if (g_generation != generation) continue;  // replaced meanwhile by startTracker or a writer
    // A failed poll says nothing of the tracker: watch it again, unless a
    // writer has met EPIPE meanwhile and left the replacement to us.
    if (r < 0 && !g_replacing) {
      backoff.Wait(lock);
      continue;
    }
    backoff.Reset();
    Replace(lock, generation);
  }
  g_no_pidfd = true;
  g_watching = false;
  return nullptr;
}

// Caller holds g_mu.
static void StartWatcher() {
  if (g_watching || g_no_pidfd) return;
  pthread_t thread;
  g_watching = StartQuietThread(&thread, WatcherMain, nullptr, true) == 0;
}

// { pid } of the installed tracker; -1 when none is (also while one is being replaced).
static Napi::Value Info(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, g_pid));
  return out;
}

// trackerWrite(path, line): sends one message to this process's tracker,
// starting one first if none runs. Every start replays what is registered,
// so no caller ever re-sends. While the watcher replaces a dead tracker, the
// message is only recorded, and sent by the replacement (see Replace); a
// writer that meets EPIPE hands the replacement to the watcher if it is
// watching that tracker, and otherwise (no pidfd) starts one itself. The fd
// never leaves this file: every thread writes under the same lock, so none
// can write to a descriptor another thread has just closed (and the kernel
// reused).
static Napi::Value TrackerWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, line;
  if (!ArgString(info, 0, &path) || !ArgString(info, 1, &line)) return env.Undefined();
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_replacing) {
    Record(line);
    return env.Undefined();
  }
  int err = EnsureTracker(path);
  if (err == 0) err = WriteAll(g_fd, line);
  if (err == -EPIPE) {
    bool watched = g_fd >= 0 && g_watched == g_generation;
    Retire(Uninstall());  // it has closed its pipe: it is exiting, reaped at once
    if (watched) {
      g_replacing = true;  // the watcher's poll returns now, and it replaces it
      Record(line);
      return env.Undefined();
    }
    err = EnsureTracker(path);
    if (err == 0) err = WriteAll(g_fd, line);
  }
  if (err != 0) {
    ThrowErrno(env, -err, err == -EPIPE ? "write" : "posix_spawn", path);
    return env.Undefined();
  }
  Record(line);
  return env.Undefined();
}

// startTracker(path, restart) → { pid }: starts the tracker if none is
// installed, or (restart) replaces it; the new one is told every
// registration, the old one is killed before it can clean anything up. For
// tests and benchmarks; the library itself only uses trackerWrite.
static Napi::Value StartTracker(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  bool restart;
  if (!ArgString(info, 0, &path) || !ArgBool(info, 1, &restart)) return env.Undefined();
  std::lock_guard<std::mutex> lock(g_mu);
  if (restart) Retire(Uninstall());
  int err = EnsureTracker(path);
  if (err != 0) {
    ThrowErrno(env, -err, err == -EPIPE ? "write" : "posix_spawn", path);
    return env.Undefined();
  }
  return Info(env);
}

// trackerInfo() → { pid }; pid -1 when none is installed.
static Napi::Value TrackerInfo(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_mu);
  return Info(info.Env());
}

void InitLifecycle(Napi::Env env, Napi::Object exports) {
  exports.Set("startTracker", Napi::Function::New(env, StartTracker, "startTracker"));
  exports.Set("trackerWrite", Napi::Function::New(env, TrackerWrite, "trackerWrite"));
  exports.Set("trackerInfo", Napi::Function::New(env, TrackerInfo, "trackerInfo"));
}

}  // namespace shmkit

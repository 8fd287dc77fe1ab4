// The tracker process (native/tracker.c) as such: spawning one with stdin the
// read end of a close-on-exec pipe, writing to that pipe, and killing and
// reaping one that is no longer installed. None of this touches the
// process-wide tracker state; lifecycle.cc decides when each is called.
#include "tracker_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

extern char** environ;

namespace shmkit {

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
int Spawn(const std::string& path, pid_t* pid) {
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

// Ends a tracker that is not installed (any more): one that died, one that
// startTracker replaces, or one a replacement started but may not install.
// SIGKILL first, so that a live one cannot take its closing pipe for the
// owner's death and unlink what it was told; then close, and reap it (libuv
// only reaps children it spawned). The pid is still ours to signal: a child
// is not reused before it is reaped. Blocks only while the kernel tears it
// down. Call it without g_mu (lifecycle.cc) where the caller can.
void Retire(Tracker t) {
  if (t.pid > 0) kill(t.pid, SIGKILL);
  if (t.fd >= 0) close(t.fd);
  if (t.pid > 0) {
    int status;
    while (waitpid(t.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

// Writes all of `data` to `fd` (blocking); 0 or -errno.
int WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    // SAFETY: data.data() + done .. data.size() is inside the string.
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace shmkit

// shmkit-tracker: removes a process's owned segments after that process dies,
// however it dies (exit, exception, any signal, SIGKILL, the OOM killer).
//
// One tracker per owner process, started by lib/ownership.ts (through
// native/lifecycle.cc) on the first owned create or adopt. Its stdin is the
// read end of a pipe whose only write end lives, close-on-exec, in the owner;
// so EOF on stdin means exactly "the owner is gone". The owner writes lines:
//
//   +<dev> <ino> <name>\n   now owning <name>, the object with this identity
//   -<name>\n               no longer owning <name> (unlinked or handed off)
//
// In <name>, '\' is written "\\" and a newline "\n" (names may hold either).
// Each line is one write(2) of at most PIPE_BUF bytes, so it arrives whole.
//
// At EOF the tracker unlinks every name still registered whose current object
// has the registered device and inode (never a newer segment that reuses the
// name), then exits. It ignores SIGINT/SIGTERM/SIGHUP/SIGQUIT and runs in its
// own session, so a Ctrl-C or a group-wide kill aimed at the owner leaves it
// standing to clean up after it. Plain C, no allocation beyond the table:
// about 1 MB RSS.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

// The table and the line parser live apart so the fuzzer can drive them
// (fuzz/tracker_fuzz.c); included here so the tracker stays one translation
// unit and binding.gyp lists tracker.c alone.
#include "tracker_parse.c"

static struct table registered;

// Unlinks `name` if it is still the object that was registered.
static void release(const struct entry* e) {
  struct stat st;
  char slash[NAME_MAX_BYTES + 2];
  slash[0] = '/';
  memcpy(slash + 1, e->name, strlen(e->name) + 1);
#ifdef __linux__
  char path[NAME_MAX_BYTES + 10] = "/dev/shm/";
  memcpy(path + 9, e->name, strlen(e->name) + 1);
  if (stat(path, &st) != 0) return;  // gone already (the exit hook, or someone else)
#else
  int fd;
  do fd = shm_open(slash, O_RDONLY, 0);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return;
  int r = fstat(fd, &st);
  close(fd);
  if (r != 0) return;
#endif
  if ((uint64_t)st.st_dev != e->dev || (uint64_t)st.st_ino != e->ino) return;  // a newer segment
  shm_unlink(slash);
}

static void close_inherited_fds(void) {
  // The owner's descriptors that lack O_CLOEXEC (an IPC channel, a pipe its
  // parent waits on) must not be held open by us after the owner dies.
#if defined(__linux__) && defined(SYS_close_range)
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = 3; fd < max; fd++) close(fd);
}

int main(void) {
  // These arrive blocked (lifecycle.cc), so none can kill us before this.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  setsid();  // usually done by posix_spawn already; harmless if so
  close_inherited_fds();
  if (chdir("/") != 0) { /* only to not pin a mount; not fatal */ }
  if (table_init(&registered) != 0) return 1;

  // Waking a reader blocked on the pipe costs the writer several µs per
  // write (about half an owned create). So after data arrives we stop
  // waiting on the pipe and nap instead: the owner's writes during a burst
  // find no one to wake and cost about 1 µs. After a few quiet naps we block
  // in poll() again, so an idle tracker costs nothing. EOF is seen within one
  // nap (10 ms) in the worst case; the pipe (1 MiB, see lifecycle.cc) holds
  // far more than a nap's worth of registrations.
  int flags = fcntl(0, F_GETFL);
  if (flags >= 0) fcntl(0, F_SETFL, flags | O_NONBLOCK);
  const struct timespec nap = {0, 10 * 1000 * 1000};
  int quiet = 0;
  static char buf[LINE_MAX_BYTES * 16];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(0, buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (++quiet <= 3) {
        nanosleep(&nap, NULL);
      } else {
        struct pollfd pfd = {0, POLLIN, 0};
        while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
        }
        quiet = 0;
      }
      continue;
    }
    if (n <= 0) break;  // EOF: the owner is gone (or stdin broke, which means the same)
    quiet = 0;
    have = consume_lines(&registered, buf, have + (size_t)n, sizeof buf);
  }
  // A partial last line was never a complete register: ignore it.
  for (size_t i = 0; i < registered.nbuckets; i++)
    for (struct entry* e = registered.buckets[i]; e; e = e->next) release(e);
  return 0;
}

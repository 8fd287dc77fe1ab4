// The tracker process itself (tracker_process.cc): starting one with its
// pipe, writing to that pipe, ending and reaping one. Internal to
// lifecycle.cc, which decides which tracker is installed and what it is told.
#pragma once
#include <sys/types.h>

#include <string>

namespace shmkit {

// A started tracker: the write end of its pipe and its pid.
struct Tracker {
  int fd = -1;
  pid_t pid = -1;
};

// Spawns `path` with stdin = read end of a fresh pipe; returns the write end
// (blocking, O_CLOEXEC) or -errno.
int Spawn(const std::string& path, pid_t* pid);

// Ends a tracker that is not installed (any more): SIGKILL, close, reap.
// See tracker_process.cc.
void Retire(Tracker t);

// Writes all of `data` to `fd` (blocking); 0 or -errno.
int WriteAll(int fd, const std::string& data);

}  // namespace shmkit

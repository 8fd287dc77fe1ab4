// A small helper thread for the addon's own blocking waits (futex waits, the
// tracker watcher): 64 KiB of stack, and every signal blocked so that signals
// stay with Node's own threads.
#ifndef SHMKIT_THREAD_H_
#define SHMKIT_THREAD_H_

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstddef>

namespace shmkit {

// pthread_create with the attributes above; 0 or the error number.
inline int StartQuietThread(pthread_t* thread, void* (*main)(void*), void* arg, bool detached) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  size_t stack = 64 * 1024;
  long min_stack = sysconf(_SC_THREAD_STACK_MIN);
  if (min_stack > 0 && stack < static_cast<size_t>(min_stack)) stack = static_cast<size_t>(min_stack);
  pthread_attr_setstacksize(&attr, stack);
  if (detached) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The thread inherits this mask.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(thread, &attr, main, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  return rc;
}

}  // namespace shmkit

#endif  // SHMKIT_THREAD_H_

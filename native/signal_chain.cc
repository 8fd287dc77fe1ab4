// See signal_chain.h.
#include "signal_chain.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmkit {

void ChainSignal(const struct sigaction& prev, int sig, siginfo_t* info, void* ctx) {
  bool from_kernel = info->si_code > 0;  // a fault or trap, not kill()/raise()
  if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
    // The kernel ignores neither a faulting SIGSEGV/SIGBUS nor a trap's SIGTRAP.
    if (prev.sa_handler == SIG_IGN && !from_kernel) return;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    // A faulting access runs again on return and now meets the default
    // action. A trap (its instruction is done) or a sent signal does not
    // recur: send it again; it stays pending until this handler returns.
    if (from_kernel && sig != SIGTRAP) return;
    syscall(SYS_tgkill, getpid(), static_cast<pid_t>(syscall(SYS_gettid)), sig);
    return;
  }
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &prev.sa_mask, &old);
  // SAFETY: prev is what sigaction reported for this very signal before ours
  // was installed: a live handler of this process (the addon is linked
  // -z nodelete, so its handlers and callers stay), called with the
  // arguments the kernel gave us, under at least the mask it asked for.
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, ctx);
  } else {
    prev.sa_handler(sig);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

int InstallHandler(int sig, void (*fn)(int, siginfo_t*, void*)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sa.sa_sigaction = fn;
  return sigaction(sig, &sa, nullptr) == 0 ? 0 : errno;
}

}  // namespace shmkit

// Handing a signal on to the disposition that was installed before ours
// (guard.cc's SIGSEGV/SIGTRAP handlers, truncation.cc's SIGBUS handler).
#pragma once
#include <signal.h>

namespace shmkit {

// Does with `sig` what the kernel would have done under `prev`: calls a
// previous handler (under its own mask), or applies the default action (a
// faulting access runs again on return and meets it; a trap or a sent signal
// is sent again). Async-signal-safe.
void ChainSignal(const struct sigaction& prev, int sig, siginfo_t* info, void* ctx);

// Makes `fn` the handler of `sig` (SA_SIGINFO | SA_ONSTACK, nothing more
// blocked). 0, or the errno of sigaction.
int InstallHandler(int sig, void (*fn)(int, siginfo_t*, void*));

}  // namespace shmkit

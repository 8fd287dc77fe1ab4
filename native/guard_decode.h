// The readonly-view guard's instruction decoder (guard_decode.cc): ways 1
// and 2 of the design comment in guard.cc, skipping a faulting store without
// swapping its page. Internal to guard.cc; empty except on x86-64 Linux.
#pragma once

#if defined(__linux__) && defined(__x86_64__)
#include <stdint.h>
#include <ucontext.h>

namespace shmkit {

// Way 1: skips the faulting instruction (r: its saved registers, fault: the
// address it faulted on) if it is a plain store whose bytes all lie inside
// the view [start, end). True when RIP was moved past it.
bool SkipPureStore(greg_t* r, uintptr_t fault, uintptr_t start, uintptr_t end);

// Way 2: skips the iterations of a string store (REP STOS/MOVS) that write
// inside the view [start, end). True when RDI/RSI/RCX (and RIP, if no
// iteration is left) were advanced.
bool SkipStringStore(greg_t* r, uintptr_t start, uintptr_t end);

}  // namespace shmkit
#endif

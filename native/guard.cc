// The readonly-view guard (x86-64 Linux).
//
// Why: a readonly attach must follow the writers for ever, wait and notify
// on futexes like any view, and yet survive any write JavaScript makes
// through it without that write reaching anyone. A private copy-on-write
// mapping survives writes but a written page (or one a futex wait faulted in
// for writing) becomes a private copy that never follows the writers again.
//
// What: a readonly view is MAP_SHARED with PROT_READ over an O_RDONLY
// descriptor. Reads are the shared pages themselves, and the kernel's futex
// key lookup, unable to fault the page in for writing, falls back to a read
// and keys waits on (inode, offset) as for every other view. mprotect cannot
// make the pages writable (EACCES: the descriptor is read-only), so the only
// way a write lands is through this guard. A write faults (SIGSEGV,
// SEGV_ACCERR); the handler below discards it in one of three ways:
//
//  1. A plain store (MOV, SSE/AVX/AVX-512 vector stores): its only effect is
//     the bytes it writes, so it is skipped: RIP moves past it. Which
//     stores qualify is decided by the decoder in guard_decode.cc (a short
//     list of opcodes, checked against the fault address); anything else
//     goes to way 3.
//  2. A string store (REP STOS/MOVS): the iterations that fall inside the
//     view are skipped by advancing RDI/RSI/RCX; the rest, if any, run
//     (guard_decode.cc).
//  3. Anything else (Atomics' LOCK XADD/CMPXCHG/XCHG, read-modify-write
//     instructions, scatters, ...): the page is replaced, for one instruction,
//     by a private writable copy of its current bytes, and the trap flag is
//     set. The instruction completes on the copy (so Atomics.add returns the
//     value it found) and the single-step SIGTRAP that follows puts the shared
//     page back. The swap never leaves a hole another mmap could take: the
//     shared page is first mapped a second time (mremap, old size 0) to an
//     alias, the copy is moved over it with MREMAP_FIXED, and on the trap the
//     alias is moved back over the copy, again with MREMAP_FIXED.
//
// How the swaps of way 3 and the registered views are kept and locked
// (several pages in one instruction, two threads on one page, what other
// threads see meanwhile, GuardUnregister waiting for a restore): see
// guard_table.cc, which keeps both tables.
//
// Faults outside registered views (V8's WebAssembly bounds traps, real
// crashes) go to the handler that was installed before ours, exactly as the
// kernel would have delivered them: SA_SIGINFO or plain, with its mask; a
// default (or ignored) disposition is restored and the fault re-occurs or the
// signal is re-sent, so the process dies as it would have. SIGTRAPs that are
// not our single steps are chained the same way. Once installed the
// handlers point into this library, which is linked -z nodelete (binding.gyp):
// Node may unload an addon when the last worker thread that loaded it ends.
//
// Cost: way 1 and 2 are one signal; way 3 is two signals and four mm
// syscalls. Stray writes are bugs, so this only has to be correct and not
// hang; the numbers are in the README.
#include "guard.h"
#include "guard_decode.h"
#include "guard_table.h"
#include "signal_chain.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#if SHMKIT_GUARD
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <ucontext.h>
#endif

namespace shmkit {

namespace guard {

Stats g_stats;  // lock-free atomics: safe to bump in a handler

#if SHMKIT_GUARD

// Written once, before the handlers are installed; read by guard_table.cc too.
size_t g_page = 0;

namespace {

// Swaps in a row that fail in the mm calls before the write is treated as
// a fault we cannot handle (see HandleWrite).
constexpr int kMaxFailures = 1000;

std::atomic<int> g_failures_in_row{0};

// Written once, before the handlers are installed.
struct sigaction g_prev_segv;
struct sigaction g_prev_trap;
std::mutex g_install_mu;
bool g_installed = false;

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// True when the write is dealt with (discarded, or to be retried); false
// when it is not a write to a view of ours and belongs to the previous handler.
bool HandleWrite(uintptr_t fault, ucontext_t* uc) {
  greg_t* r = uc->uc_mcontext.gregs;
  Lock();
  Range range;
  if (!FindRange(fault, &range)) {
    Unlock();
    return false;  // not ours (e.g. a WebAssembly bounds trap): no syscall spent on it
  }
  pid_t tid = Tid();
  bool mid_instruction = false;  // an earlier page of this instruction is swapped
  for (const Swap& s : g_swaps) mid_instruction |= s.page != 0 && s.tid == tid;
  // Ways 1 and 2 (guard_decode.cc): skip the store by editing the registers.
  bool skipped = false;
  if (!mid_instruction && SkipStringStore(r, range.start, range.end)) {
    g_stats.strings.fetch_add(1, std::memory_order_relaxed);
    skipped = true;
  } else if (!mid_instruction && SkipPureStore(r, fault, range.start, range.end)) {
    g_stats.stores.fetch_add(1, std::memory_order_relaxed);
    skipped = true;
  }
  if (skipped) {
    Unlock();
    g_failures_in_row.store(0, std::memory_order_relaxed);
    return true;
  }
  SwapResult result = SwapInCopy(fault & ~(static_cast<uintptr_t>(g_page) - 1), tid, uc);
  Unlock();
  if (result == kSwapped) {
    g_failures_in_row.store(0, std::memory_order_relaxed);
    return true;
  }
  if (result == kBusy) {
    // Another thread's copy of this page is in place for one instruction:
    // run ours again; it lands in that copy and goes with it, or faults again.
    g_stats.retries.fetch_add(1, std::memory_order_relaxed);
    sched_yield();
    return true;
  }
  g_stats.failures.fetch_add(1, std::memory_order_relaxed);
  if (g_failures_in_row.fetch_add(1, std::memory_order_relaxed) < kMaxFailures) {
    sched_yield();
    return true;  // out of memory or map count for a moment: try again
  }
  // Persistently unable to map: retrying would hang the thread and a private
  // copy would go stale, so let the write fault as it would without us.
  static const char msg[] = "shmkit: cannot discard a write to a readonly view (mremap/mmap keep failing)\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  return false;
}


// SAFETY (both handlers): info and ctx are the siginfo_t and ucontext_t the
// kernel passed for this signal on this thread's stack; what is changed in
// ctx (RIP, RCX/RSI/RDI, EFLAGS, the signal mask) takes effect when the
// handler returns, and only in the ways way 1-3 above describe.
void OnSegv(int sig, siginfo_t* info, void* ctx) {
  int saved_errno = errno;
  bool handled = info->si_code == SEGV_ACCERR &&
                 HandleWrite(reinterpret_cast<uintptr_t>(info->si_addr), static_cast<ucontext_t*>(ctx));
  errno = saved_errno;
  if (handled) return;
  g_stats.chained_segv.fetch_add(1, std::memory_order_relaxed);
  ChainSignal(g_prev_segv, sig, info, ctx);
}

void OnTrap(int sig, siginfo_t* info, void* ctx) {
  int saved_errno = errno;
  bool ours = false, failed = false, tf_was_set = false, trap_was_blocked = false;
  if (info->si_code == TRAP_TRACE && g_swapped.load(std::memory_order_acquire) > 0) {
    pid_t tid = Tid();
    Lock();
    for (Swap& s : g_swaps) {
      if (s.page == 0 || s.tid != tid) continue;
      ours = true;
      tf_was_set = s.tf_was_set;
      trap_was_blocked = s.trap_was_blocked;
      // SAFETY: s.alias is the second mapping of the shared page made by
      // SwapInCopy, and [s.page, s.page + g_page) holds this thread's private
      // copy; both stay ours until the entry is cleared (GuardUnregister
      // waits for that). Moving the alias over the copy replaces it in one step.
      if (mremap(reinterpret_cast<void*>(s.alias), g_page, g_page, MREMAP_MAYMOVE | MREMAP_FIXED,
                 reinterpret_cast<void*>(s.page)) == MAP_FAILED) {
        failed = true;  // keep the entry and the trap flag: try again after the next instruction
        g_stats.failures.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      s.page = 0;
      g_swapped.fetch_sub(1, std::memory_order_release);
    }
    Unlock();
  }
  errno = saved_errno;
  if (ours && !failed) {
    ucontext_t* uc = static_cast<ucontext_t*>(ctx);
    if (!tf_was_set) uc->uc_mcontext.gregs[REG_EFL] &= ~kTrapFlag;
    if (trap_was_blocked) sigaddset(&uc->uc_sigmask, SIGTRAP);
  }
  // Not our single step, or one someone else wanted as well.
  if (!ours || (tf_was_set && !failed)) {
    g_stats.chained_trap.fetch_add(1, std::memory_order_relaxed);
    ChainSignal(g_prev_trap, sig, info, ctx);
  }
}

}  // namespace

int Install(const char** failed_call) {
  std::lock_guard<std::mutex> hold(g_install_mu);
  if (g_installed) return 0;
  long page = sysconf(_SC_PAGESIZE);
  g_page = page > 0 ? static_cast<size_t>(page) : 4096;
  *failed_call = "sigaction";
  if (sigaction(SIGSEGV, nullptr, &g_prev_segv) != 0 || sigaction(SIGTRAP, nullptr, &g_prev_trap) != 0) return errno;
  // SIGTRAP first: once SIGSEGV is ours, a swap's single step must find us.
  if (int e = InstallHandler(SIGTRAP, OnTrap)) return e;
  if (int e = InstallHandler(SIGSEGV, OnSegv)) {
    sigaction(SIGTRAP, &g_prev_trap, nullptr);
    return e;
  }
  // The handlers now point into this library, which stays loaded for good:
  // it is linked with -z nodelete (binding.gyp), as its waiter-pool and
  // watcher threads also need.
  g_installed = true;
  return 0;
}

#endif  // SHMKIT_GUARD

}  // namespace guard

#if SHMKIT_GUARD

bool GuardSupported() { return true; }

#else

bool GuardSupported() { return false; }

#endif

GuardCounters GuardReadCounters() {
  using namespace guard;
  GuardCounters c{};
  c.supported = GuardSupported();
#if SHMKIT_GUARD
  {
    std::lock_guard<std::mutex> hold(g_install_mu);
    c.installed = g_installed;
  }
  c.ranges = g_registered.load();
  c.swapped_now = static_cast<uint64_t>(g_swapped.load());
#endif
  c.stores_skipped = g_stats.stores.load();
  c.strings_skipped = g_stats.strings.load();
  c.pages_swapped = g_stats.swaps.load();
  c.retries = g_stats.retries.load();
  c.failures = g_stats.failures.load();
  c.chained_segv = g_stats.chained_segv.load();
  c.chained_trap = g_stats.chained_trap.load();
  return c;
}

}  // namespace shmkit

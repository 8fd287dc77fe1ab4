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
// An instruction may fault on several pages (a store across a page boundary,
// a scatter): each is swapped in turn while the trap flag stays set, and the
// trap restores all of them. Two threads faulting on the same page: the
// second sees the page in the first's swap table, yields and retries the
// instruction (which then lands in the copy and is discarded with it, or
// faults again once the page is back). One spinlock guards the tables; it is
// only taken in the handlers and in register/unregister, never across user
// code, and no handler allocates: the tables are a fixed array and a range
// array grown with mmap outside the handlers. For that one instruction the
// other threads of this process see the copy, and their writes to that page
// land in it and go with it; no other process ever sees it. The single step
// must reach us even where the interrupted code blocks SIGTRAP (a blocked
// trap kills), so the saved signal mask unblocks it for that instruction.
// GuardUnregister waits until no page of its range is swapped, so munmap
// never races a restore.
//
// Faults outside registered views (V8's WebAssembly bounds traps, real
// crashes) go to the handler that was installed before ours, exactly as the
// kernel would have delivered them: SA_SIGINFO or plain, with its mask; a
// default (or ignored) disposition is restored and the fault re-occurs or the
// signal is re-sent, so the process dies as it would have. SIGTRAPs that are
// not our single steps are chained the same way. Once installed the
// handlers point into this library, so it pins itself (RTLD_NODELETE): Node
// may unload an addon when the last worker thread that loaded it ends.
//
// Cost: way 1 and 2 are one signal; way 3 is two signals and four mm
// syscalls. Stray writes are bugs, so this only has to be correct and not
// hang; the numbers are in the README.
#include "guard.h"
#include "guard_decode.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#if defined(__linux__) && defined(__x86_64__)
#define SHMKIT_GUARD 1
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <ucontext.h>
#else
#define SHMKIT_GUARD 0
#endif

namespace shmkit {

namespace {

struct Stats {
  std::atomic<uint64_t> stores{0};     // way 1
  std::atomic<uint64_t> strings{0};    // way 2
  std::atomic<uint64_t> swaps{0};      // way 3, pages
  std::atomic<uint64_t> retries{0};    // page busy in another thread's swap
  std::atomic<uint64_t> failures{0};   // an mm call failed in a swap
  std::atomic<uint64_t> chained_segv{0};
  std::atomic<uint64_t> chained_trap{0};
};
Stats g_stats;  // lock-free atomics: safe to bump in a handler

}  // namespace

#if SHMKIT_GUARD

namespace {

constexpr greg_t kTrapFlag = 0x100;  // EFLAGS.TF

struct Range {
  uintptr_t start, end;
};

// A page swapped for a private copy until its thread's next single-step trap.
struct Swap {
  uintptr_t page;   // 0: the entry is free
  uintptr_t alias;  // a second mapping of the shared page, to move back
  pid_t tid;
  bool tf_was_set;        // the trap flag was already set by someone else
  bool trap_was_blocked;  // SIGTRAP was blocked in the interrupted code
};

// Four threads with an instruction that touches 16 pages each, or 64 with one.
constexpr int kMaxSwaps = 64;
// Swaps in a row that fail in the mm calls before the write is treated as
// a fault we cannot handle (see HandleWrite).
constexpr int kMaxFailures = 1000;

// Guarded by g_lock.
std::atomic<int> g_lock{0};
Range* g_ranges = nullptr;  // mmapped, never malloced: see GuardRegister
size_t g_count = 0;
size_t g_cap = 0;
Swap g_swaps[kMaxSwaps];

std::atomic<int> g_swapped{0};        // entries in use: most SIGTRAPs skip the lock
std::atomic<size_t> g_registered{0};  // ranges: unregistering skips the lock when 0
std::atomic<int> g_failures_in_row{0};

// Written once, before the handlers are installed.
size_t g_page = 0;
struct sigaction g_prev_segv;
struct sigaction g_prev_trap;
std::mutex g_install_mu;
bool g_installed = false;

void Lock() {
  for (int spins = 0; g_lock.exchange(1, std::memory_order_acquire) != 0; spins++) {
    if (spins < 64) {
      __builtin_ia32_pause();
    } else {
      sched_yield();  // the holder may be preempted; a syscall is signal-safe
    }
  }
}

void Unlock() { g_lock.store(0, std::memory_order_release); }

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// With g_lock held: the registered range holding `addr`, if any.
bool FindRange(uintptr_t addr, Range* out) {
  // SAFETY: g_ranges holds g_cap >= g_count entries and cannot change while
  // the lock is held.
  for (size_t i = 0; i < g_count; i++) {
    if (addr >= g_ranges[i].start && addr < g_ranges[i].end) {
      *out = g_ranges[i];
      return true;
    }
  }
  return false;
}


enum SwapResult { kSwapped, kBusy, kFailed };

// Way 3, with g_lock held: replaces `page` by a private copy of its bytes
// until this thread's next single-step trap.
SwapResult SwapInCopy(uintptr_t page, pid_t tid, ucontext_t* uc) {
  Swap* slot = nullptr;
  const Swap* mine = nullptr;
  for (Swap& s : g_swaps) {
    if (s.page == page) return s.tid == tid ? kFailed : kBusy;  // ours cannot fault: it is writable
    if (s.page == 0 && slot == nullptr) slot = &s;
    if (s.page != 0 && s.tid == tid) mine = &s;
  }
  if (slot == nullptr) return kBusy;
  void* at = reinterpret_cast<void*>(page);
  // SAFETY: [page, page + g_page) lies inside a registered view, which stays
  // mapped until GuardUnregister, and GuardUnregister waits while a swap of
  // one of its pages is recorded (we hold the lock until it is). old_size 0
  // maps the same shared page a second time at a new address; it touches
  // nothing else.
  void* alias = mremap(at, 0, g_page, MREMAP_MAYMOVE);
  if (alias == MAP_FAILED) return kFailed;
  // SAFETY: a fresh anonymous page of our own.
  void* copy = mmap(nullptr, g_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) {
    munmap(alias, g_page);  // SAFETY: the alias made just above, used by no one
    return kFailed;
  }
  // SAFETY: both are whole mapped pages: `copy` writable, `at` readable.
  memcpy(copy, at, g_page);
  // SAFETY: moves the copy over exactly the one page at `at`, replacing its
  // mapping in one step (no moment without a mapping there). The range stays
  // ours: it is registered and GuardUnregister cannot finish meanwhile.
  if (mremap(copy, g_page, g_page, MREMAP_MAYMOVE | MREMAP_FIXED, at) == MAP_FAILED) {
    // Should a kernel unmap the target before failing the move, put the
    // shared page back; either way nothing of ours is left mapped elsewhere.
    // SAFETY: alias is the second mapping of the page at `at`; copy is ours.
    if (mremap(alias, g_page, g_page, MREMAP_MAYMOVE | MREMAP_FIXED, at) == MAP_FAILED) munmap(alias, g_page);
    munmap(copy, g_page);
    return kFailed;
  }
  slot->page = page;
  slot->alias = reinterpret_cast<uintptr_t>(alias);
  slot->tid = tid;
  greg_t* r = uc->uc_mcontext.gregs;
  if (mine != nullptr) {
    // Another page of the same instruction: the trap flag is already ours.
    slot->tf_was_set = mine->tf_was_set;
    slot->trap_was_blocked = mine->trap_was_blocked;
  } else {
    slot->tf_was_set = (r[REG_EFL] & kTrapFlag) != 0;
    // The single step must reach us even if the interrupted code blocks
    // SIGTRAP (a blocked trap would kill the process): unblock it for one
    // instruction; the trap handler blocks it again.
    slot->trap_was_blocked = sigismember(&uc->uc_sigmask, SIGTRAP) == 1;
    sigdelset(&uc->uc_sigmask, SIGTRAP);
  }
  r[REG_EFL] |= kTrapFlag;
  g_swapped.fetch_add(1, std::memory_order_release);
  g_stats.swaps.fetch_add(1, std::memory_order_relaxed);
  return kSwapped;
}

// True when the write is dealt with (discarded, or to be retried); false
// when it is not a write to a view of ours and belongs to the previous handler.
bool HandleWrite(uintptr_t fault, ucontext_t* uc) {
  greg_t* r = uc->uc_mcontext.gregs;
  pid_t tid = Tid();
  Lock();
  Range range;
  if (!FindRange(fault, &range)) {
    Unlock();
    return false;
  }
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

// Hands a signal to the disposition that was installed before ours, as the
// kernel would have.
void Chain(const struct sigaction& prev, int sig, siginfo_t* info, void* ctx) {
  bool from_kernel = info->si_code > 0;  // a fault or trap, not kill()/raise()
  if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
    // The kernel ignores neither a faulting SIGSEGV nor a trap's SIGTRAP.
    if (prev.sa_handler == SIG_IGN && !from_kernel) return;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    // A faulting instruction runs again on return and now meets the default
    // action. A trap (its instruction is done) or a sent signal does not
    // recur: send it again; it stays pending until this handler returns.
    if (sig == SIGSEGV && from_kernel) return;
    syscall(SYS_tgkill, getpid(), Tid(), sig);
    return;
  }
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &prev.sa_mask, &old);
  // SAFETY: prev is what sigaction reported for this very signal before ours
  // was installed: a live handler of this process (the addon is never
  // unloaded while its handlers are installed), called with the arguments the
  // kernel gave us, under at least the mask it asked for.
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, ctx);
  } else {
    prev.sa_handler(sig);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
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
  Chain(g_prev_segv, sig, info, ctx);
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
    Chain(g_prev_trap, sig, info, ctx);
  }
}

int Install(const char** failed_call) {
  std::lock_guard<std::mutex> hold(g_install_mu);
  if (g_installed) return 0;
  long page = sysconf(_SC_PAGESIZE);
  g_page = page > 0 ? static_cast<size_t>(page) : 4096;
  *failed_call = "sigaction";
  if (sigaction(SIGSEGV, nullptr, &g_prev_segv) != 0 || sigaction(SIGTRAP, nullptr, &g_prev_trap) != 0) return errno;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  // SIGTRAP first: once SIGSEGV is ours, a swap's single step must find us.
  sa.sa_sigaction = OnTrap;
  if (sigaction(SIGTRAP, &sa, nullptr) != 0) return errno;
  sa.sa_sigaction = OnSegv;
  if (sigaction(SIGSEGV, &sa, nullptr) != 0) {
    int e = errno;
    sigaction(SIGTRAP, &g_prev_trap, nullptr);
    return e;
  }
  // The handlers now point into this library: keep it loaded for good.
  // Node may dlclose an addon when the last environment that loaded it (a
  // worker thread) ends, and a SIGSEGV would then jump into unmapped code.
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&OnSegv), &self) != 0 && self.dli_fname != nullptr) {
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // the handle is never closed
  }
  g_installed = true;
  return 0;
}

// With g_lock held: whether a page of [start, end) is swapped right now.
bool SwapsWithin(uintptr_t start, uintptr_t end) {
  for (const Swap& s : g_swaps) {
    if (s.page != 0 && s.page >= start && s.page < end) return true;
  }
  return false;
}

}  // namespace

bool GuardSupported() { return true; }

int GuardRegister(void* addr, size_t len, const char** failed_call) {
  int e = Install(failed_call);
  if (e != 0) return e;
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  for (;;) {
    Lock();
    if (g_count < g_cap) {
      // SAFETY: g_count < g_cap, the array's size; the lock is held.
      g_ranges[g_count++] = Range{start, start + len};
      Unlock();
      g_registered.fetch_add(1);
      return 0;
    }
    size_t cap = g_cap;
    Unlock();
    // Grow outside the lock, with mmap rather than malloc: the handlers only
    // ever read the array, under the lock.
    size_t new_cap = cap == 0 ? 256 : cap * 2;
    // SAFETY: a fresh anonymous mapping of new_cap ranges.
    void* mem = mmap(nullptr, new_cap * sizeof(Range), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      *failed_call = "mmap";
      return errno;
    }
    Range* unused;
    size_t unused_cap;
    Lock();
    if (g_cap == cap) {
      // SAFETY: mem holds new_cap > g_count ranges; g_ranges holds g_count.
      if (g_count > 0) memcpy(mem, g_ranges, g_count * sizeof(Range));
      unused = g_ranges;
      unused_cap = cap;
      g_ranges = static_cast<Range*>(mem);
      g_cap = new_cap;
    } else {
      unused = static_cast<Range*>(mem);  // another thread grew it meanwhile
      unused_cap = new_cap;
    }
    Unlock();
    // SAFETY: no handler can be reading `unused`: they read only under the
    // lock, and g_ranges no longer points to it.
    if (unused != nullptr) munmap(unused, unused_cap * sizeof(Range));
  }
}

void GuardUnregister(void* addr, size_t len) {
  if (g_registered.load() == 0) return;
  uintptr_t start = reinterpret_cast<uintptr_t>(addr), end = start + len;
  Lock();
  // SAFETY: as in FindRange; the last entry moves into the freed one.
  for (size_t i = 0; i < g_count; i++) {
    if (g_ranges[i].start != start || g_ranges[i].end != end) continue;
    g_ranges[i] = g_ranges[--g_count];
    g_registered.fetch_sub(1);
    // A thread may be one instruction into a swap of one of these pages: let
    // its trap put the shared page back before the caller unmaps the range.
    while (SwapsWithin(start, end)) {
      Unlock();
      sched_yield();
      Lock();
    }
    break;
  }
  Unlock();
}

#else  // !SHMKIT_GUARD

bool GuardSupported() { return false; }

int GuardRegister(void*, size_t, const char** failed_call) {
  *failed_call = "sigaction";
  return ENOTSUP;
}

void GuardUnregister(void*, size_t) {}

#endif

GuardCounters GuardReadCounters() {
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

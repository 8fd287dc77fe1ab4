// The readonly-view guard's tables (x86-64 Linux): the registered readonly
// views (GuardRegister, GuardUnregister) and the swap table of way 3 in the
// design comment of guard.cc (SwapInCopy puts a private copy in place; the
// trap handler in guard.cc puts the shared page back), with the spinlock
// that guards both. The handlers in guard.cc use them with the lock held.
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
#include "guard.h"
#include "guard_table.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>

#if SHMKIT_GUARD
#include <sched.h>
#include <ucontext.h>
#endif

namespace shmkit {

#if SHMKIT_GUARD

namespace guard {

// Guarded by g_lock.
static std::atomic<int> g_lock{0};
static Range* g_ranges = nullptr;  // mmapped, never malloced: see GuardRegister
static size_t g_count = 0;
static size_t g_cap = 0;
Swap g_swaps[kMaxSwaps];

std::atomic<int> g_swapped{0};        // entries in use: most SIGTRAPs skip the lock
std::atomic<size_t> g_registered{0};  // ranges: unregistering skips the lock when 0

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

// With g_lock held: whether a page of [start, end) is swapped right now.
static bool SwapsWithin(uintptr_t start, uintptr_t end) {
  for (const Swap& s : g_swaps) {
    if (s.page != 0 && s.page >= start && s.page < end) return true;
  }
  return false;
}

}  // namespace guard

int GuardRegister(void* addr, size_t len, const char** failed_call) {
  using namespace guard;
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
  using namespace guard;
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

int GuardRegister(void*, size_t, const char** failed_call) {
  *failed_call = "sigaction";
  return ENOTSUP;
}

void GuardUnregister(void*, size_t) {}

#endif

}  // namespace shmkit

// A truncated segment is an error, not a crash.
//
// Why: a mapping outlives the size its file had when it was made. When
// another process shrinks the file (ftruncate, `truncate -s`), or when tmpfs
// cannot find a page for a hole being read (a full /dev/shm), the next
// access to a page past the end raises SIGBUS, whose default action kills the
// process: every process that maps the segment dies on its next read.
//
// What: one process-wide SIGBUS handler, installed at the first map. For a
// fault (BUS_ADRERR/BUS_OBJERR from the kernel) inside one of our mappings it
// maps private anonymous zero pages (MAP_FIXED, so no gap opens that another
// mapping could take) from the faulting page up to the lowest page it has
// already replaced in that mapping (at first: the end of the mapping), and
// returns: the faulting access runs again on a zero page and completes.
// Pages past the new end of the file are exactly the ones that fault, so
// nothing still backed by the file is covered; on a full tmpfs a hole can
// fault with data after it, which this process then reads as zeros too. The
// mapping is marked broken (its lowest replaced page, kept here) and every
// watched word (one per environment, see truncation.h) is bumped; lib/ then
// throws ERR_SHM_TRUNCATED from the next call on that segment.
//
// Faults anywhere else (V8's own handlers, real crashes) go to the handler
// installed before ours, as the kernel would have delivered them (the same
// rules as guard.cc's chaining); a default disposition is restored and the
// fault re-occurs, so the process dies as it would have without us.
//
// Async-signal safety: the handler only takes the spinlock below, reads the
// table, calls mmap and write, and bumps atomics. The table is an array
// grown with mmap outside the handler, under the lock, with every signal
// blocked meanwhile (so no handler on this thread can wait for a lock its own
// thread holds).
#include "truncation.h"
#include "signal_chain.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace shmkit {

namespace {

struct Entry {
  uintptr_t start, end;
  uintptr_t zero_from;  // lowest page replaced by zero pages; `end` while intact
  int prot;
  bool closed;  // close() put zero pages over all of it (TruncationZero): no fault there is ours to repair
};

constexpr size_t kWords = 256;  // environments (main thread + workers) watching at once

// Guarded by g_lock.
std::atomic<int> g_lock{0};
Entry* g_entries = nullptr;  // mmapped, never malloced: freed and grown outside the handler
size_t g_count = 0, g_cap = 0;
int32_t* g_words[kWords];

// Written once, before the handler is installed.
size_t g_page = 4096;
struct sigaction g_prev;
std::mutex g_install_mu;
std::atomic<bool> g_installed{false};  // set under g_install_mu

std::atomic<uint64_t> g_repaired{0}, g_chained{0};

void Lock() {
  while (g_lock.exchange(1, std::memory_order_acquire) != 0) sched_yield();  // signal-safe
}
void Unlock() { g_lock.store(0, std::memory_order_release); }

// Outside the handler: the lock with every signal blocked, so a handler of
// this thread never spins on a lock this thread holds.
struct Held {
  sigset_t old;
  Held() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    Lock();
  }
  ~Held() {
    Unlock();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
};

// With the lock held: the entry holding addr, or nullptr.
Entry* Find(uintptr_t addr) {
  // SAFETY: g_entries holds g_cap >= g_count entries and cannot change while the lock is held.
  for (size_t i = 0; i < g_count; i++) {
    if (addr >= g_entries[i].start && addr < g_entries[i].end) return &g_entries[i];
  }
  return nullptr;
}

void Say(const char* msg, size_t n) {
  ssize_t ignored = write(2, msg, n);
  (void)ignored;
}

// In the handler: true when the fault at addr is in one of our mappings and
// the access may run again.
bool Repair(uintptr_t addr) {
  Lock();
  Entry* e = Find(addr);
  if (e == nullptr) {
    Unlock();
    return false;
  }
  if (e->closed) {
    // A fault taken before close() replaced the range (under this lock):
    // the access now meets zero pages.
    Unlock();
    return true;
  }
  uintptr_t page = addr & ~(static_cast<uintptr_t>(g_page) - 1);
  if (page < e->zero_from) {
    // SAFETY: [page, zero_from) lies inside [start, end), one of our live
    // mappings: entries leave the table (under this lock) before their range
    // is unmapped, so no one else's mapping can be there now. MAP_FIXED
    // replaces those pages in one step; pages from zero_from on already are
    // our zero pages (writes to them in this process are kept).
    // A readonly guarded view (PROT_READ) gets shared zero pages: the guard
    // (guard_table.cc) discards writes to it by mremapping pages, which needs
    // a shared mapping.
    int kind = (e->prot & PROT_WRITE) ? MAP_PRIVATE : MAP_SHARED;
    void* r = mmap(reinterpret_cast<void*>(page), e->zero_from - page, e->prot,
                   MAP_FIXED | kind | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
      Unlock();
      static const char msg[] = "shmkit: SIGBUS in a truncated segment and no zero pages to put there (mmap failed)\n";
      Say(msg, sizeof msg - 1);
      return false;
    }
    e->zero_from = page;
  }
  // Else another thread repaired this page meanwhile: just run the access again.
  for (int32_t* w : g_words) {
    if (w != nullptr) __atomic_fetch_add(w, 1, __ATOMIC_RELAXED);
  }
  Unlock();
  g_repaired.fetch_add(1, std::memory_order_relaxed);
  return true;
}


// SAFETY: info and ctx are what the kernel passed for this signal.
void OnBus(int sig, siginfo_t* info, void* ctx) {
  int saved_errno = errno;
  bool fault = info->si_code == BUS_ADRERR || info->si_code == BUS_OBJERR;  // not alignment, not a hardware memory error
  bool handled = fault && Repair(reinterpret_cast<uintptr_t>(info->si_addr));
  errno = saved_errno;
  if (handled) return;
  g_chained.fetch_add(1, std::memory_order_relaxed);
  ChainSignal(g_prev, sig, info, ctx);
}

int Install(const char** syscall) {
  std::lock_guard<std::mutex> hold(g_install_mu);
  if (g_installed) return 0;
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) g_page = static_cast<size_t>(page);
  *syscall = "sigaction";
  if (sigaction(SIGBUS, nullptr, &g_prev) != 0) return errno;
  if (int e = InstallHandler(SIGBUS, OnBus)) return e;
  g_installed = true;  // for good: this library is never unloaded (-z nodelete, binding.gyp)
  return 0;
}

}  // namespace

int TruncationRegister(void* addr, size_t len, int prot, const char** syscall) {
  int e = Install(syscall);
  if (e != 0) return e;
  Held held;
  if (g_count == g_cap) {
    size_t cap = g_cap == 0 ? 64 : g_cap * 2;
    // SAFETY: a fresh anonymous mapping of cap entries; the old array (g_cap
    // entries, g_count in use) is copied under the lock, then unmapped: no
    // handler can be reading it (they all take the lock).
    void* grown = mmap(nullptr, cap * sizeof(Entry), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (grown == MAP_FAILED) {
      *syscall = "mmap";
      return errno;
    }
    if (g_entries != nullptr) {
      memcpy(grown, g_entries, g_count * sizeof(Entry));
      munmap(g_entries, g_cap * sizeof(Entry));
    }
    g_entries = static_cast<Entry*>(grown);
    g_cap = cap;
  }
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  g_entries[g_count++] = Entry{start, start + len, start + len, prot, false};
  return 0;
}

int TruncationZero(void* addr, size_t len) {
  // Under the lock, so that a SIGBUS taken on another thread just before
  // (its handler waiting for the lock) finds the range closed and lets its
  // access run again on these zero pages, rather than finding no entry and
  // dying of the default action.
  Held held;
  // SAFETY: [addr, addr + len) is one of our mappings, still mapped (the
  // caller holds its range); MAP_FIXED replaces it in one step.
  void* r = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) return errno;
  if (Entry* e = Find(reinterpret_cast<uintptr_t>(addr))) e->closed = true;
  return 0;
}

void TruncationUnregister(void* addr) {
  if (!g_installed) return;  // nothing was ever registered (and Install's write happened before any map returned)
  Held held;
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  for (size_t i = 0; i < g_count; i++) {
    if (g_entries[i].start != start) continue;
    g_entries[i] = g_entries[--g_count];  // order does not matter
    return;
  }
}

int64_t TruncatedFrom(const void* addr) {
  if (!g_installed) return -1;
  Held held;
  Entry* e = Find(reinterpret_cast<uintptr_t>(addr));
  if (e == nullptr || e->zero_from >= e->end) return -1;
  return static_cast<int64_t>(e->zero_from - e->start);
}

bool TruncationWatch(int32_t* word) {
  Held held;
  for (int32_t*& w : g_words) {
    if (w == nullptr) {
      w = word;
      return true;
    }
  }
  return false;
}

void TruncationUnwatch(int32_t* word) {
  Held held;
  for (int32_t*& w : g_words) {
    if (w == word) w = nullptr;
  }
}

TruncationCounters TruncationReadCounters() {
  TruncationCounters c{};
  {
    std::lock_guard<std::mutex> hold(g_install_mu);
    c.installed = g_installed.load();
  }
  c.repaired = g_repaired.load();
  c.chained = g_chained.load();
  return c;
}

}  // namespace shmkit

// Native unit test of native/truncation.cc and native/external_buffers.cc,
// for what JavaScript cannot reach: a real kernel SIGBUS outside our mappings
// going to the handler installed before ours, faults at several pages of one
// mapping (writes to pages already replaced are kept), the watched words, and
// the napi_status -> error code mapping of a runtime with V8's memory sandbox
// (not available here). Built and run by test/truncate.test.ts; prints one
// JSON line and exits 0 only if every check held.
#include <fcntl.h>
#include <js_native_api_types.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../native/external_buffers.h"
#include "../../native/truncation.h"

static_assert(napi_no_external_buffers_allowed == 22, "js_native_api_types.h: napi_no_external_buffers_allowed is 22");

namespace {

int failures = 0;
int checks = 0;

void Check(bool ok, const char* what) {
  checks++;
  if (!ok) {
    fprintf(stderr, "FAILED: %s\n", what);
    failures++;
  }
}

sigjmp_buf jump;
volatile sig_atomic_t prev_calls = 0;

// The handler that was there before shmkit's: it gets SIGBUSes outside our mappings.
void Previous(int, siginfo_t* info, void*) {
  prev_calls = prev_calls + 1;
  if (info->si_code > 0) siglongjmp(jump, 1);  // a fault: do not run the access again
}

// A file of `size` bytes filled with `fill`, mapped shared; the fd stays open for ftruncate.
uint8_t* MapFile(const char* dir, size_t size, int fill, int* fd_out) {
  char path[256];
  snprintf(path, sizeof path, "%s/shmkit-trunc-XXXXXX", dir);
  int fd = mkstemp(path);
  if (fd < 0) return nullptr;
  unlink(path);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) return nullptr;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  memset(p, fill, size);
  *fd_out = fd;
  return static_cast<uint8_t*>(p);
}

}  // namespace

int main() {
  const char* dir = getenv("SHMKIT_TRUNC_DIR") ? getenv("SHMKIT_TRUNC_DIR") : "/tmp";
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));

  // The status mapping (item 4): only the sandbox's refusal is ERR_SHM_EXTERNAL_BUFFERS.
  const char* code = shmkit::ExternalBufferErrorCode(napi_no_external_buffers_allowed);
  Check(code != nullptr && strcmp(code, "ERR_SHM_EXTERNAL_BUFFERS") == 0, "status 22 -> ERR_SHM_EXTERNAL_BUFFERS");
  Check(shmkit::ExternalBufferErrorCode(static_cast<napi_status>(22)) != nullptr, "the number 22 itself");
  int others = 0;
  for (int s = napi_ok; s <= napi_cannot_run_js; s++) {
    if (s != napi_no_external_buffers_allowed && shmkit::ExternalBufferErrorCode(static_cast<napi_status>(s)) != nullptr) others++;
  }
  Check(others == 0, "no other status maps to a code");

  // A handler of someone else's, installed first, as V8 or a host program might.
  struct sigaction prev;
  memset(&prev, 0, sizeof prev);
  sigemptyset(&prev.sa_mask);
  prev.sa_flags = SA_SIGINFO;
  prev.sa_sigaction = Previous;
  sigaction(SIGBUS, &prev, nullptr);

  int32_t word = 0;
  Check(shmkit::TruncationWatch(&word), "a word is watched");

  // Ours: 64 pages, truncated to 1; faults at page 40, then page 10.
  const size_t size = 64 * page;
  int fd = -1;
  uint8_t* ours = MapFile(dir, size, 0x5a, &fd);
  Check(ours != nullptr, "map our file");
  if (ours == nullptr) return 1;
  const char* call = "";
  Check(shmkit::TruncationRegister(ours, size, PROT_READ | PROT_WRITE, &call) == 0, "register");
  Check(shmkit::TruncatedFrom(ours) == -1, "intact before");
  Check(ftruncate(fd, static_cast<off_t>(page)) == 0, "ftruncate to one page");
  volatile uint8_t* v = ours;
  Check(v[40 * page + 3] == 0, "page 40 reads zero after the SIGBUS");
  Check(shmkit::TruncatedFrom(ours) == static_cast<int64_t>(40 * page), "broken from page 40");
  Check(word == 1, "the word was bumped once");
  v[50 * page] = 9;  // a write to a replaced page is this process's own
  Check(v[10 * page] == 0, "page 10 reads zero after a second SIGBUS");
  Check(shmkit::TruncatedFrom(ours) == static_cast<int64_t>(10 * page), "broken from page 10");
  Check(v[50 * page] == 9, "the write to page 50 survived the second repair");
  Check(v[page - 1] == 0x5a, "page 0, still in the file, is untouched");
  Check(word == 2, "the word was bumped twice");
  Check(prev_calls == 0, "no SIGBUS of ours reached the previous handler");

  // Not ours: the same truncation of a mapping never registered.
  int fd2 = -1;
  uint8_t* theirs = MapFile(dir, 4 * page, 1, &fd2);
  Check(theirs != nullptr && ftruncate(fd2, 0) == 0, "map and truncate their file");
  bool jumped = false;
  if (sigsetjmp(jump, 1) == 0) {
    volatile uint8_t* t = theirs;
    (void)t[2 * page];
  } else {
    jumped = true;
  }
  Check(jumped && prev_calls == 1, "a kernel SIGBUS outside our mappings went to the previous handler");
  // A sent SIGBUS (kill) is not a fault: chained too, and the previous handler returns.
  raise(SIGBUS);
  Check(prev_calls == 2, "a sent SIGBUS went to the previous handler");
  shmkit::TruncationCounters c = shmkit::TruncationReadCounters();
  Check(c.installed && c.repaired == 2 && c.chained == 2, "counters");

  // Unregistered, a fault in it is no longer ours.
  shmkit::TruncationUnregister(ours);
  Check(shmkit::TruncatedFrom(ours) == -1, "forgotten");
  shmkit::TruncationUnwatch(&word);
  munmap(ours, size);
  munmap(theirs, 4 * page);
  close(fd);
  close(fd2);
  printf("{\"checks\":%d,\"failures\":%d,\"repaired\":%llu,\"chained\":%llu}\n", checks, failures,
         static_cast<unsigned long long>(c.repaired), static_cast<unsigned long long>(c.chained));
  return failures == 0 ? 0 : 1;
}

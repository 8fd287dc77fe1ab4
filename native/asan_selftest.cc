// Deliberate memory errors, compiled only into scratch sanitizer builds
// (CMakeLists.txt option SHMKIT_ASAN_SELFTEST; never binding.gyp, never
// build-asan/). scripts/asan-selftest.sh calls each and asserts the run
// fails with the matching sanitizer report: the proof that `npm run
// test:asan` would catch such a bug in the addon, from the main process or
// from a child process.
#ifdef SHMKIT_ASAN_SELFTEST
#include <napi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <string>

namespace shmkit {

// The owner of one mapping, as segment.cc keeps one per mapping.
struct SelftestMapping {
  uint8_t* addr;
  size_t length;
};

// Volatile sinks keep the bad accesses from being optimised away.
static volatile uint8_t sink;
static volatile int int_sink;

// asanSelftest(kind): 'unmap' reads a page after munmap; 'free' reads a
// mapping's owner struct after delete; 'overflow' reads one byte past a
// heap array; 'ub' overflows a signed int. Each is a bug on purpose.
static Napi::Value AsanSelftest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (kind == "unmap") {
    long page = sysconf(_SC_PAGESIZE);
    void* p = mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return env.Undefined();
    munmap(p, static_cast<size_t>(page));
    sink = *static_cast<volatile uint8_t*>(p);  // the injected bug: a read after munmap (SIGSEGV)
  } else if (kind == "free") {
    auto* m = new SelftestMapping{nullptr, 4096};
    delete m;
    sink = static_cast<uint8_t>(reinterpret_cast<volatile SelftestMapping*>(m)->length);  // heap-use-after-free
  } else if (kind == "overflow") {
    auto* bytes = new uint8_t[16]();
    volatile size_t n = 16;
    sink = bytes[n];  // heap-buffer-overflow
    delete[] bytes;
  } else if (kind == "ub") {
    volatile int big = INT_MAX;
    int_sink = big + 1;  // signed-integer-overflow
  }
  return env.Undefined();
}

void InitAsanSelftest(Napi::Env env, Napi::Object exports) {
  exports.Set("asanSelftest", Napi::Function::New(env, AsanSelftest, "asanSelftest"));
}

}  // namespace shmkit
#endif

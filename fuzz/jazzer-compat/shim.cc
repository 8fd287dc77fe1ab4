// The three symbols @jazzer.js/fuzzer 4.0.0's prebuilt libFuzzer addon
// (built on glibc 2.38 / GCC 13) needs that Debian 12 (glibc 2.36, GCC 12)
// lacks. scripts/jazzer-compat.sh links this next to the addon; nothing else
// uses it.
#include <cstdlib>
#include <ios>

// glibc 2.38's C23 strtol/strtoul also accept a "0b" prefix with base 0 or 2;
// libFuzzer parses its decimal flags (-runs=…, -max_len=…) with them.
extern "C" long __isoc23_strtol(const char* s, char** end, int base) { return std::strtol(s, end, base); }
extern "C" unsigned long __isoc23_strtoul(const char* s, char** end, int base) { return std::strtoul(s, end, base); }

// GCC 13 initialises the standard streams through this call instead of a
// static ios_base::Init in every file that includes <iostream>.
namespace std {
void ios_base_library_init() { static ios_base::Init init; }
}

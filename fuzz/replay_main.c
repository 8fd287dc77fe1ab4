// Runs a libFuzzer target once per file named on the command line, without
// libFuzzer: test/fuzz-corpus.test.ts builds fuzz/tracker_fuzz.c with this
// (and ASan + UBSan where the compiler has them) to replay the corpus.
// Exit status 0 = every input ran; a failed check aborts.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    FILE* f = fopen(argv[i], "rb");
    if (!f) {
      perror(argv[i]);
      return 2;
    }
    // An exact-size copy, as libFuzzer passes it: a read past it is reported.
    if (fseek(f, 0, SEEK_END) != 0) return 2;
    long len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) return 2;
    uint8_t* buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) return 2;
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
  }
  printf("replayed %d inputs\n", argc - 1);
  return 0;
}

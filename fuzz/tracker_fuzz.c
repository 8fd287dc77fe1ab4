// libFuzzer target: the tracker's line parser and name table
// (native/tracker_parse.c), fed as the tracker feeds them (scripts/fuzz.sh).
//
// Input: byte 0 picks the read sizes (1 to 64 bytes at a time, as a pipe may
// split writes anywhere), byte 1 the buffer size (odd: the tracker's 64 KiB;
// even: 16 to 1032 bytes, so that over-long lines hit the drop path), the
// rest is the stream on the tracker's stdin. At the end the table must hold
// only valid names, then every entry is freed (ASan checks that
// nothing was freed twice, read after free or past its end).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../native/tracker_parse.h"

static void check(const struct table* t) {
  size_t n = 0;
  for (size_t i = 0; i < t->nbuckets; i++) {
    for (const struct entry* e = t->buckets[i]; e; e = e->next) {
      size_t len = strlen(e->name);
      if (len == 0 || len > NAME_MAX_BYTES) abort();  // release() copies it into a NAME_MAX_BYTES + 2 buffer
      n++;
    }
  }
  if (n != t->count) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t chunk = 1 + data[0] % 64;
  size_t cap = (data[1] & 1) ? LINE_MAX_BYTES * 16 : 16 + (size_t)(data[1] >> 1) * 8;
  data += 2;
  size -= 2;
  struct table t;
  if (table_init(&t) != 0) return 0;
  char* buf = malloc(cap);  // exactly cap bytes: a write past it is an ASan report
  if (!buf) abort();
  size_t have = 0;
  while (size > 0) {
    size_t n = chunk < size ? chunk : size;
    if (n > cap - have) n = cap - have;  // read(0, buf + have, cap - have)
    memcpy(buf + have, data, n);
    data += n;
    size -= n;
    have = consume_lines(&t, buf, have + n, cap);
    if (have >= cap) abort();  // consume_lines always leaves room for the next read
  }
  check(&t);
  free(buf);
  table_free(&t);
  return 0;
}

// The tracker's input side: the table of registered names and the parser of
// the owner's lines (the protocol is described at the top of tracker.c).
// Pure: no syscalls, so the fuzzer (fuzz/tracker_fuzz.c) drives exactly the
// code the tracker runs. tracker.c includes tracker_parse.c, so the tracker
// stays one translation unit (binding.gyp lists tracker.c alone).
#ifndef SHMKIT_TRACKER_PARSE_H
#define SHMKIT_TRACKER_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_BYTES 255
#define LINE_MAX_BYTES 4096

struct entry {
  struct entry* next;
  uint64_t dev;
  uint64_t ino;
  char name[];  // NUL-terminated
};

// Chained hash table keyed by name; grows so that lookups stay O(1) with
// hundreds of thousands of owned segments.
struct table {
  struct entry** buckets;
  size_t nbuckets;  // a power of two once table_init succeeded
  size_t count;
};

// 0, or -1 if the first buckets could not be allocated.
int table_init(struct table* t);
// Frees every entry and the buckets (the tracker exits instead; the fuzzer needs it).
void table_free(struct table* t);
// Applies one line (without its '\n', NUL-terminated, decoded in place).
void handle_line(struct table* t, char* line);
// Applies every complete line in buf[0, have) (a buffer of `cap` bytes) and
// moves the partial last line to the front → the bytes now in buf. A line
// that fills the whole buffer without a '\n' is dropped.
size_t consume_lines(struct table* t, char* buf, size_t have, size_t cap);

#endif

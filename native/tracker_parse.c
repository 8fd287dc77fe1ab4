// See tracker_parse.h. Plain C, no allocation beyond the table.
#include "tracker_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char* s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static int grow(struct table* t) {
  size_t n = t->nbuckets ? t->nbuckets * 2 : 256;
  struct entry** b = calloc(n, sizeof *b);
  if (!b) return -1;
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct entry* e = t->buckets[i];
    while (e) {
      struct entry* next = e->next;
      size_t j = hash(e->name) & (n - 1);
      e->next = b[j];
      b[j] = e;
      e = next;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
  return 0;
}

int table_init(struct table* t) {
  t->buckets = NULL;
  t->nbuckets = 0;
  t->count = 0;
  return grow(t);
}

void table_free(struct table* t) {
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct entry* e = t->buckets[i];
    while (e) {
      struct entry* next = e->next;
      free(e);
      e = next;
    }
  }
  free(t->buckets);
  t->buckets = NULL;
  t->nbuckets = 0;
  t->count = 0;
}

static struct entry** find(struct table* t, const char* name) {
  struct entry** p = &t->buckets[hash(name) & (t->nbuckets - 1)];
  while (*p && strcmp((*p)->name, name) != 0) p = &(*p)->next;
  return p;
}

static void forget(struct table* t, const char* name) {
  struct entry** p = find(t, name);
  if (!*p) return;
  struct entry* e = *p;
  *p = e->next;
  free(e);
  t->count--;
}

static void remember(struct table* t, const char* name, uint64_t dev, uint64_t ino) {
  forget(t, name);  // re-registering a name replaces its identity
  if (t->count + 1 > t->nbuckets && grow(t) != 0) return;
  size_t len = strlen(name);
  struct entry* e = malloc(sizeof *e + len + 1);
  if (!e) return;  // out of memory: the owner's exit hook is the fallback
  memcpy(e->name, name, len + 1);
  e->dev = dev;
  e->ino = ino;
  struct entry** p = &t->buckets[hash(name) & (t->nbuckets - 1)];
  e->next = *p;
  *p = e;
  t->count++;
}

// Decodes the escaped name in place; returns -1 on a malformed one.
static int unescape(char* s) {
  char* out = s;
  for (char* in = s; *in; in++) {
    if (*in != '\\') {
      *out++ = *in;
      continue;
    }
    in++;
    if (*in == '\\') *out++ = '\\';
    else if (*in == 'n') *out++ = '\n';
    else return -1;  // also a lone '\' at the end: `in` is at the NUL, never past it
  }
  *out = '\0';
  size_t len = (size_t)(out - s);
  return len == 0 || len > NAME_MAX_BYTES ? -1 : 0;
}

void handle_line(struct table* t, char* line) {
  if (line[0] == '+') {
    char* end;
    errno = 0;
    uint64_t dev = strtoull(line + 1, &end, 10);
    if (errno || *end != ' ') return;
    uint64_t ino = strtoull(end + 1, &end, 10);
    if (errno || *end != ' ') return;
    char* name = end + 1;
    if (unescape(name) == 0) remember(t, name, dev, ino);
  } else if (line[0] == '-') {
    if (unescape(line + 1) == 0) forget(t, line + 1);
  }
  // Anything else is ignored: a newer owner library may speak more.
}

size_t consume_lines(struct table* t, char* buf, size_t have, size_t cap) {
  size_t start = 0;
  for (size_t i = 0; i < have; i++) {
    if (buf[i] != '\n') continue;
    buf[i] = '\0';
    handle_line(t, buf + start);
    start = i + 1;
  }
  if (start == 0 && have == cap) return 0;  // an absurd line: drop it
  memmove(buf, buf + start, have - start);
  return have - start;
}

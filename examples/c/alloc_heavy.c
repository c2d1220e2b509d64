/*
 * An allocation-heavy C program for mote's tests and benchmark: a hash table of strings, growing
 * arrays, a tree (libc's tsearch, which allocates inside libc), aligned blocks, libc's own
 * allocating functions (strdup, asprintf, open_memstream), and C's error cases. It checks its own
 * data as it goes and prints counts and checksums that depend on no allocator, so its output is
 * the same on mote and on wasi-libc's dlmalloc.
 *
 *     alloc_heavy [rounds]       the workload, rounds times (default 1)
 *     alloc_heavy --double-free  frees a block twice, then does nothing else
 *     alloc_heavy --mote-errors  what mote's shim does where allocators may differ
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Legacy, and left out of wasi-libc: mote's shim defines it; on dlmalloc, aligned_alloc stands in. */
__attribute__((weak)) void *memalign(size_t alignment, size_t size);

static unsigned long mallocs, frees, reallocs;
static uint32_t seed = 2463534242u;
static int failures;

static uint32_t next(void) { /* xorshift32: the same numbers on every allocator */
  seed ^= seed << 13;
  seed ^= seed >> 17;
  seed ^= seed << 5;
  return seed;
}

static void expect(int ok, const char *what) {
  if (!ok) {
    printf("FAIL: %s\n", what);
    failures++;
  }
}

static void *counted(void *ptr, unsigned long *count) {
  if (!ptr) {
    printf("FAIL: out of memory\n");
    exit(2);
  }
  ++*count;
  return ptr;
}
#define MALLOC(n) counted(malloc(n), &mallocs)
#define CALLOC(n, s) counted(calloc(n, s), &mallocs)
#define REALLOC(p, n) counted(realloc(p, n), &reallocs)
#define FREE(p) (free(p), frees++)

static uint32_t fnv(uint32_t hash, const void *bytes, size_t length) {
  for (size_t i = 0; i < length; i++) hash = (hash ^ ((const unsigned char *)bytes)[i]) * 16777619u;
  return hash;
}

/* A word of 1 to 10 letters from a small alphabet, so that words repeat. */
static char *random_word(char *buffer) {
  size_t length = 1 + next() % 10;
  for (size_t i = 0; i < length; i++) buffer[i] = "abcdef"[next() % 6];
  buffer[length] = 0;
  return buffer;
}

/* === A hash table of strings, rehashed into a calloc'd array as it grows === */

struct word {
  char *key;
  unsigned count;
  struct word *next;
};

struct table {
  struct word **buckets;
  size_t size, used;
};

static void table_add(struct table *t, const char *key) {
  uint32_t h = fnv(2166136261u, key, strlen(key));
  for (struct word *e = t->buckets[h % t->size]; e; e = e->next) {
    if (!strcmp(e->key, key)) {
      e->count++;
      return;
    }
  }
  if (t->used * 4 >= t->size * 3) {
    size_t size = t->size * 2;
    struct word **buckets = CALLOC(size, sizeof *buckets);
    for (size_t i = 0; i < t->size; i++) {
      for (struct word *e = t->buckets[i], *next; e; e = next) {
        next = e->next;
        uint32_t slot = fnv(2166136261u, e->key, strlen(e->key)) % size;
        e->next = buckets[slot];
        buckets[slot] = e;
      }
    }
    FREE(t->buckets);
    t->buckets = buckets;
    t->size = size;
  }
  struct word *e = MALLOC(sizeof *e);
  e->key = counted(strdup(key), &mallocs); /* strdup: libc calls malloc */
  e->count = 1;
  e->next = t->buckets[h % t->size];
  t->buckets[h % t->size] = e;
  t->used++;
}

static void hash_table(void) {
  struct table t = {CALLOC(8, sizeof(struct word *)), 8, 0};
  char word[16];
  unsigned added = 0;
  for (int i = 0; i < 6000; i++, added++) table_add(&t, random_word(word));
  /* drop the words seen an odd number of times, then sum what is left */
  unsigned long kept = 0, total = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < t.size; i++) {
    for (struct word **link = &t.buckets[i]; *link;) {
      struct word *e = *link;
      if (e->count % 2) {
        *link = e->next;
        FREE(e->key);
        FREE(e);
        t.used--;
      } else {
        kept++;
        total += e->count;
        sum += fnv(2166136261u, e->key, strlen(e->key)) ^ e->count;
        link = &e->next;
      }
    }
  }
  printf("hash table: %u words added, %lu distinct kept with %lu uses, %zu buckets, sum %08x\n",
         added, kept, total, t.size, sum);
  for (size_t i = 0; i < t.size; i++) {
    for (struct word *e = t.buckets[i], *next; e; e = next) {
      next = e->next;
      FREE(e->key);
      FREE(e);
    }
  }
  FREE(t.buckets);
}

/* === Growing arrays: numbers by realloc, and strings that grow one by one === */

static void growing_arrays(void) {
  size_t capacity = 1, length = 0;
  uint32_t *numbers = MALLOC(capacity * sizeof *numbers);
  for (uint32_t i = 0; i < 50000; i++) {
    if (length == capacity) {
      capacity += capacity / 2 + 1;
      numbers = REALLOC(numbers, capacity * sizeof *numbers);
    }
    numbers[length++] = i * 2654435761u;
  }
  int intact = 1;
  for (uint32_t i = 0; i < length; i++) intact &= numbers[i] == i * 2654435761u;
  numbers = REALLOC(numbers, 1000 * sizeof *numbers); /* shrink */
  for (uint32_t i = 0; i < 1000; i++) intact &= numbers[i] == i * 2654435761u;
  expect(intact, "the numbers survive every realloc");
  FREE(numbers);

  enum { STRINGS = 400 };
  char *strings[STRINGS];
  for (int i = 0; i < STRINGS; i++) {
    if (asprintf(&strings[i], "string %d", i) < 0) expect(0, "asprintf");
    mallocs++;
  }
  uint32_t sum = 2166136261u;
  for (int round = 0; round < 8; round++) {
    for (int i = 0; i < STRINGS; i++) {
      size_t length = strlen(strings[i]);
      size_t more = 1 + next() % 40;
      strings[i] = REALLOC(strings[i], length + more + 1);
      memset(strings[i] + length, 'a' + round, more);
      strings[i][length + more] = 0;
      expect(malloc_usable_size(strings[i]) >= length + more + 1, "malloc_usable_size");
    }
  }
  for (int i = 0; i < STRINGS; i++) {
    sum = fnv(sum, strings[i], strlen(strings[i]) + 1);
    FREE(strings[i]);
  }
  printf("arrays: %zu numbers grown to capacity %zu, %d strings grown 8 times, sum %08x\n",
         length, capacity, STRINGS, sum);
}

/* === A tree: libc's tsearch, whose nodes libc allocates === */

static int by_string(const void *a, const void *b) { return strcmp(a, b); }

static unsigned long tree_nodes;
static uint32_t tree_sum;

static void visit(const void *node, VISIT order, int depth) {
  (void)depth;
  if (order == postorder || order == leaf) {
    const char *key = *(char *const *)node;
    tree_nodes++;
    tree_sum = fnv(tree_sum, key, strlen(key));
  }
}

static void tree(void) {
  void *root = 0;
  char word[16];
  unsigned inserted = 0, removed = 0;
  for (int i = 0; i < 3000; i++) {
    char *key = counted(strdup(random_word(word)), &mallocs);
    char **found = tsearch(key, &root, by_string);
    if (*found != key) FREE(key); /* there already */
    else inserted++;
  }
  for (int i = 0; i < 3000; i++) {
    char **found = tfind(random_word(word), &root, by_string);
    if (found) {
      char *key = *found;
      tdelete(key, &root, by_string);
      FREE(key);
      removed++;
    }
  }
  tree_nodes = 0;
  tree_sum = 2166136261u;
  twalk(root, visit);
  printf("tree: %u keys inserted, %u removed, %lu left in order, sum %08x\n", inserted, removed,
         tree_nodes, tree_sum);
  tdestroy(root, free);
  frees += tree_nodes;
}

/* === Aligned blocks: posix_memalign, aligned_alloc, memalign === */

static void aligned(void) {
  enum { COUNT = 300 };
  void *blocks[COUNT];
  int aligned_ok = 1;
  for (int i = 0; i < COUNT; i++) {
    size_t alignment = (size_t)1 << (3 + next() % 10); /* 8 to 4096 */
    size_t size = 1 + next() % 2000;
    void *ptr = 0;
    if (i % 3 == 0) {
      expect(posix_memalign(&ptr, alignment, size) == 0, "posix_memalign");
    } else if (i % 3 == 1) {
      size = (size + alignment - 1) / alignment * alignment; /* C11: a multiple */
      ptr = aligned_alloc(alignment, size);
    } else {
      ptr = memalign ? memalign(alignment, size) : aligned_alloc(alignment, size);
    }
    counted(ptr, &mallocs);
    aligned_ok &= (uintptr_t)ptr % alignment == 0;
    expect(malloc_usable_size(ptr) >= size, "an aligned block's usable size");
    memset(ptr, i, size);
    blocks[i] = ptr;
  }
  for (int i = COUNT - 1; i > 0; i--) { /* free in a shuffled order */
    int j = next() % (i + 1);
    void *swap = blocks[i];
    blocks[i] = blocks[j];
    blocks[j] = swap;
  }
  for (int i = 0; i < COUNT; i++) FREE(blocks[i]);
  expect(aligned_ok, "every block aligned as asked");
  printf("aligned: %d blocks aligned to 8..4096 bytes\n", COUNT);
}

/* === libc's own allocating streams === */

static void streams(void) {
  char *text = 0;
  size_t length = 0;
  FILE *stream = open_memstream(&text, &length); /* libc grows its buffer by realloc */
  for (int i = 0; i < 5000; i++) fprintf(stream, "%d,", i);
  fclose(stream);
  mallocs++;
  uint32_t sum = fnv(2166136261u, text, length);
  FREE(text);
  printf("streams: %zu bytes written to a memory stream, sum %08x\n", length, sum);
}

/* === C's error cases === */

static const char *errno_name(void) {
  return errno == ENOMEM ? "ENOMEM" : errno == EINVAL ? "EINVAL" : errno ? "other" : "unset";
}

/* Called through pointers the compiler cannot see through: clang assumes that malloc, calloc and
 * realloc touch no memory the program can see, errno included, and would fold the checks away. */
static void *(*volatile opaque_malloc)(size_t) = malloc;
static void *(*volatile opaque_calloc)(size_t, size_t) = calloc;
static void *(*volatile opaque_realloc)(void *, size_t) = realloc;

static void errors(void) {
  size_t huge = SIZE_MAX;
  const char *set[3];
  errno = 0;
  void *none = opaque_malloc(huge);
  expect(!none, "malloc(SIZE_MAX) fails");
  set[0] = errno_name();
  errno = 0;
  none = opaque_calloc(huge / 2, 4);
  expect(!none, "calloc(SIZE_MAX / 2, 4) fails");
  set[1] = errno_name();
  char *kept = MALLOC(16);
  strcpy(kept, "still here");
  errno = 0;
  none = opaque_realloc(kept, huge - 64);
  expect(!none, "realloc(p, SIZE_MAX - 64) fails");
  set[2] = errno_name();
  expect(!strcmp(kept, "still here"), "a failed realloc keeps the block");
  FREE(kept);
  void *ptr = 0;
  expect(posix_memalign(&ptr, 24, 8) == EINVAL && !ptr, "posix_memalign(24): EINVAL");
  expect(posix_memalign(&ptr, 2, 8) == EINVAL && !ptr, "posix_memalign(2): EINVAL");
  void *zero = MALLOC(0), *other = MALLOC(0);
  expect(zero != other, "malloc(0) is unique");
  FREE(zero);
  FREE(other);
  free(0);
  printf("errors: NULL where C says, posix_memalign's EINVAL\n");
  /* POSIX asks for ENOMEM (C does not); mote's shim sets it, as wasi-libc's dlmalloc does */
  printf("errno after malloc, calloc and realloc failed: %s %s %s\n", set[0], set[1], set[2]);
}

/* Where C lets allocators differ, what mote's shim does: alignments mote does not serve (not a
 * power of two, or above 64 KiB) fail with EINVAL, where dlmalloc rounds them up or serves them. */
static void mote_errors(void) {
  void *(*volatile opaque_aligned_alloc)(size_t, size_t) = aligned_alloc;
  void *(*volatile opaque_memalign)(size_t, size_t) = memalign;
  int (*volatile opaque_posix_memalign)(void **, size_t, size_t) = posix_memalign;
  void *ptr = 0;
  errno = 0;
  ptr = opaque_aligned_alloc(3, 8);
  printf("aligned_alloc(3, 8): %s, errno %s\n", ptr ? "a block" : "NULL", errno_name());
  errno = 0;
  ptr = opaque_aligned_alloc(1 << 17, 8);
  printf("aligned_alloc(128 KiB, 8): %s, errno %s\n", ptr ? "a block" : "NULL", errno_name());
  errno = 0;
  ptr = opaque_memalign ? opaque_memalign(48, 8) : 0;
  printf("memalign(48, 8): %s, errno %s\n", ptr ? "a block" : "NULL", errno_name());
  errno = 0;
  int error = opaque_posix_memalign(&ptr, 1 << 17, 8);
  printf("posix_memalign(128 KiB, 8): %s, errno %s\n",
         error == EINVAL ? "EINVAL" : error == ENOMEM ? "ENOMEM" : error ? "other" : "0",
         errno_name());
  printf("malloc_usable_size(NULL): %zu\n", malloc_usable_size(0));
}

static char *made_before_main;

__attribute__((constructor)) static void before_main(void) {
  made_before_main = counted(strdup("allocated by a constructor, before main"), &mallocs);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--double-free")) {
    char *volatile ptr = malloc(32); /* volatile: the compiler may not drop the calls */
    free(ptr);
    free(ptr);
    printf("freed twice and nothing happened\n");
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--mote-errors")) {
    mote_errors();
    return 0;
  }
  int rounds = argc > 1 ? atoi(argv[1]) : 1;
  printf("%s\n", made_before_main);
  for (int round = 0; round < rounds; round++) {
    hash_table();
    growing_arrays();
    tree();
    aligned();
    streams();
    errors();
  }
  FREE(made_before_main);
  printf("%lu allocations, %lu reallocs, %lu frees by the program\n", mallocs, reallocs, frees);
  if (failures) printf("%d checks failed\n", failures);
  return failures ? 1 : 0;
}

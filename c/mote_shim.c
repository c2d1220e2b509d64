/*
 * mote_shim.c: libc's allocator replaced by mote's, for clang + wasi-libc (or any wasm32 libc).
 *
 *     clang --target=wasm32-wasi -O2 -I path/to/c program.c path/to/c/mote_shim.c \
 *       -Wl,--import-memory -Wl,--export=__heap_base -o program.wasm
 *
 * This file defines every allocation entry point of libc, each a call to an import of mote's
 * (mote.h), so the linker never pulls libc's own allocator (wasi-libc's dlmalloc.o) into the
 * module: malloc, free, calloc, realloc, aligned_alloc, posix_memalign, memalign,
 * malloc_usable_size, and the internal names libc's own code calls (__libc_malloc, __libc_free,
 * __libc_calloc). Should a libc reference a name this file misses, the link fails with
 * "duplicate symbol" rather than keep a second allocator silently.
 *
 * errno is set as C expects: ENOMEM when memory cannot be had, EINVAL for an alignment mote
 * does not serve (not a power of two, or above 64 KiB). posix_memalign returns the error instead.
 */
#include <errno.h>
#include "mote.h"

static void *served(void *ptr) {
  if (!ptr) errno = ENOMEM;
  return ptr;
}

/* A power of two from 1 to MOTE_MAX_ALIGN. */
static int serves_alignment(size_t alignment) {
  return alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= MOTE_MAX_ALIGN;
}

void *malloc(size_t size) { return served(mote_malloc(size)); }

void free(void *ptr) { mote_free(ptr); }

void *calloc(size_t count, size_t size) { return served(mote_calloc(count, size)); }

void *realloc(void *ptr, size_t size) { return served(mote_realloc(ptr, size)); }

void *aligned_alloc(size_t alignment, size_t size) {
  if (!serves_alignment(alignment)) {
    errno = EINVAL;
    return 0;
  }
  return served(mote_aligned_alloc(alignment, size));
}

/* glibc's and musl's legacy name for aligned_alloc. */
void *memalign(size_t alignment, size_t size) { return aligned_alloc(alignment, size); }

/* POSIX: the alignment must also be a multiple of sizeof(void *); errno is left alone. */
int posix_memalign(void **out, size_t alignment, size_t size) {
  if (!serves_alignment(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
  void *ptr = mote_aligned_alloc(alignment, size);
  if (!ptr) return ENOMEM;
  *out = ptr;
  return 0;
}

size_t malloc_usable_size(void *ptr) { return ptr ? mote_malloc_usable_size(ptr) : 0; }

/* The names musl's code inside wasi-libc calls, which wasi-libc's dlmalloc.o defines too. */
void *__libc_malloc(size_t size) __attribute__((alias("malloc")));
void __libc_free(void *ptr) __attribute__((alias("free")));
void *__libc_calloc(size_t count, size_t size) __attribute__((alias("calloc")));

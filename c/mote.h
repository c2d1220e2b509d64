/*
 * mote.h: mote's C ABI as WebAssembly imports, for C built with clang for wasm32.
 *
 * Each function is an import from module "env" named as in mote's own exports (malloc, free, ...),
 * so `Heap.exports` (or what `linkHeap` returns) instantiates the module directly and every call
 * goes wasm to wasm. They are named mote_* here because libc defines the standard names: to make
 * libc itself allocate from mote, compile mote_shim.c beside your program (see that file).
 *
 * Pointers are 16-byte aligned. Each function returns 0 (NULL) where it cannot serve, and leaves
 * errno alone: mote_shim.c's malloc & co. set it as C expects.
 */
#ifndef MOTE_H
#define MOTE_H

#include <stddef.h>

#if !defined(__wasm32__)
#error "mote.h is for wasm32 targets (clang --target=wasm32-wasi or wasm32-unknown-unknown)"
#endif

#define MOTE_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

#ifdef __cplusplus
extern "C" {
#endif

/** The largest alignment mote's aligned_alloc serves: 64 KiB, one wasm page. */
#define MOTE_MAX_ALIGN ((size_t)65536)

/** `size` bytes, 16-byte aligned; a unique pointer for 0; NULL when they cannot be had. */
MOTE_IMPORT(malloc) void *mote_malloc(size_t size);
/** Frees a block; NULL is ignored (the checked build reports pointers it never returned). */
MOTE_IMPORT(free) void mote_free(void *ptr);
/** Resizes in place when it can; NULL on failure, the old block untouched. NULL ptr: malloc. */
MOTE_IMPORT(realloc) void *mote_realloc(void *ptr, size_t size);
/** `count * size` zeroed bytes; NULL on overflow or when they cannot be had. */
MOTE_IMPORT(calloc) void *mote_calloc(size_t count, size_t size);
/** `size` bytes aligned to a power of two up to MOTE_MAX_ALIGN; NULL for any other alignment. */
MOTE_IMPORT(aligned_alloc) void *mote_aligned_alloc(size_t alignment, size_t size);
/** The bytes usable at a live block (at least what was asked for); 0 for NULL. */
MOTE_IMPORT(malloc_usable_size) size_t mote_malloc_usable_size(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* MOTE_H */

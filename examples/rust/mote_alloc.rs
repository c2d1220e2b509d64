//! A Rust library for wasm32 whose global allocator is mote's, imported from "env": built with
//! Debian's rustc for wasm32-unknown-unknown, std's own allocator (dlmalloc) is not linked.
//! rust_test.ts beside this file builds it and runs `run` on a heap made by linkHeap.
use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;

#[link(wasm_import_module = "env")]
extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn calloc(count: usize, size: usize) -> *mut u8;
    fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
    fn aligned_alloc(alignment: usize, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// mote's malloc aligns to 16; larger alignments (up to 64 KiB) go to aligned_alloc.
const MALLOC_ALIGN: usize = 16;

struct Mote;

unsafe impl GlobalAlloc for Mote {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            malloc(layout.size())
        } else {
            aligned_alloc(layout.align(), layout.size())
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            return calloc(1, layout.size());
        }
        let ptr = self.alloc(layout);
        if !ptr.is_null() {
            ptr.write_bytes(0, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        free(ptr)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        if layout.align() <= MALLOC_ALIGN {
            return realloc(ptr, size);
        }
        // mote's realloc keeps 16-byte alignment only: move an over-aligned block by hand
        let moved = self.alloc(Layout::from_size_align_unchecked(size, layout.align()));
        if !moved.is_null() {
            moved.copy_from_nonoverlapping(ptr, layout.size().min(size));
            free(ptr);
        }
        moved
    }
}

#[global_allocator]
static GLOBAL: Mote = Mote;

#[repr(align(4096))]
struct Page([u8; 4096]);

/// Counts `n` pseudo-random words in a BTreeMap while a Vec of boxed slices grows and shrinks and
/// a few page-aligned boxes come and go; returns the distinct words plus 1000 per slice kept.
/// Everything is dropped before it returns.
#[no_mangle]
pub extern "C" fn run(n: u32) -> u32 {
    let mut words: BTreeMap<String, u32> = BTreeMap::new();
    let mut slices: Vec<Box<[u8]>> = Vec::new();
    let mut pages: Vec<Box<Page>> = Vec::new();
    let mut seed = 2463534242u32;
    for i in 0..n {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let word: String = (0..1 + seed % 8).map(|k| (b'a' + ((seed >> k) % 6) as u8) as char).collect();
        *words.entry(word).or_insert(0) += 1;
        slices.push(vec![i as u8; (seed % 300) as usize].into_boxed_slice());
        if i % 3 == 0 {
            slices.swap_remove(seed as usize % slices.len());
        }
        if i % 100 == 0 {
            pages.push(Box::new(Page([i as u8; 4096])));
        }
    }
    let aligned = pages.iter().all(|page| page.0.as_ptr() as usize % 4096 == 0);
    words.len() as u32 + slices.len() as u32 * 1000 + if aligned { 0 } else { 1 << 31 }
}

//! Rust std's own wasm32 allocator (System, a port of dlmalloc) behind GlobalAlloc's ABI, for the
//! README's table: /usr/bin/rustc --target wasm32-unknown-unknown --crate-type cdylib -O
//! -C panic=abort -C debuginfo=0 -C link-arg=--strip-all rust_system_alloc.rs (Debian: rustc,
//! libstd-rust-dev-wasm32)
use std::alloc::{GlobalAlloc, Layout, System};

#[no_mangle]
pub unsafe extern "C" fn alloc(size: usize, align: usize) -> *mut u8 {
    System.alloc(Layout::from_size_align_unchecked(size, align))
}
#[no_mangle]
pub unsafe extern "C" fn alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    System.alloc_zeroed(Layout::from_size_align_unchecked(size, align))
}
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, size: usize, align: usize) {
    System.dealloc(ptr, Layout::from_size_align_unchecked(size, align))
}
#[no_mangle]
pub unsafe extern "C" fn realloc(ptr: *mut u8, size: usize, align: usize, new_size: usize) -> *mut u8 {
    System.realloc(ptr, Layout::from_size_align_unchecked(size, align), new_size)
}

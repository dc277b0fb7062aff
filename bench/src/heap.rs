//! A global allocator that counts live heap bytes, so a scenario can measure the memory it keeps
//! (RSS cannot: freed pages of earlier scenarios are reused without growing it).
//!
//! Each thread counts into its own cache line (a shared counter costs the many-thread scenarios,
//! such as `pull-lookups`, a fifth of their CPU in cache-line contention, which the server itself,
//! counting nothing, does not pay); [`live_bytes`] sums them.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// The allocator underneath: mimalloc, as in `eddy-server` (see its `main.rs`).
use mimalloc::MiMalloc as System;

/// The server's allocator with a live-bytes counter.
pub struct Counting;

/// One counter per thread (threads beyond [`SLOTS`] share them round-robin): net bytes allocated
/// by the threads of the slot, negative when they freed more than they allocated.
#[repr(align(128))]
struct Slot(AtomicIsize);

const SLOTS: usize = 64;
static COUNTERS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's counter (slot 0 while the thread's locals are being destroyed).
fn counter() -> &'static AtomicIsize {
    let slot = THREAD_SLOT
        .try_with(|slot| {
            if slot.get() == usize::MAX {
                slot.set(NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS);
            }
            slot.get()
        })
        .unwrap_or(0);
    &COUNTERS[slot].0
}

fn add(bytes: usize) {
    counter().fetch_add(bytes as isize, Ordering::Relaxed);
}

fn sub(bytes: usize) {
    counter().fetch_sub(bytes as isize, Ordering::Relaxed);
}

/// Heap bytes allocated and not yet freed.
pub fn live_bytes() -> usize {
    let net: isize = COUNTERS.iter().map(|c| c.0.load(Ordering::Relaxed)).sum();
    net.max(0) as usize
}

// SAFETY: every call goes to the system allocator unchanged; only the counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            sub(layout.size());
            add(new_size);
        }
        p
    }
}

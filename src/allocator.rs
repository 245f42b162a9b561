//! The extension's allocator: mimalloc (as pydantic-core's), kept from returning freed memory
//! to the system.
//!
//! glibc maps each buffer over its threshold afresh (a multi-MB document, the driver's message
//! for it, a reply batch) and pays a page fault per 4 KiB on every write: 3 of the 3.6 ms the
//! calling thread spent on a 3.2 MB insert. mimalloc reuses freed memory, but by default
//! purges what stays free for a second, after which the next burst faults it all in again:
//! `insert_many` of 10 000 models in the benchmark suite, which runs each client after the
//! others, took 1.5 times as long as with glibc. Purging is therefore off: like glibc's heap
//! for small blocks, memory the core freed is kept for its next use. Only allocations of the
//! Rust core go through it; Python's objects keep Python's allocator.
#![allow(unsafe_code)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the bundled mimalloc's `mimalloc.h` (the same in its v2 and v3;
/// libmimalloc-sys names no constant for it): milliseconds, or -1 to never purge.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const NEVER: std::ffi::c_long = -1;

/// Turns purging off; called once when the module is imported.
pub fn configure() {
    // SAFETY: sets an integer option; mimalloc reads options atomically, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, NEVER) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay_and_purging_is_off() {
        // The bundled mimalloc (v3) purges after 1000 ms by default: only the purge delay has
        // that default, so this also checks that the index is the one `mimalloc.h` gives.
        // SAFETY: reads an integer option.
        let default = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert!(default == 1000 || default == NEVER, "{default}");
        configure();
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) },
            NEVER
        );
    }
}

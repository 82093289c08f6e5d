//! Link-time proof that `backhaul-core` needs no allocator. See `README.md`.
//!
//! Build with (from this folder):
//!
//! ```text
//! cargo build --release --target thumbv7em-none-eabihf
//! ```

#![no_std]
#![no_main]

// Explicit, so that core is linked even while `exercise` calls nothing in it: rustc does not
// load a `[dependencies]` entry that no path names.
extern crate backhaul_core;

use core::hint::black_box;
use core::panic::PanicInfo;

/// Calls core's public entry points on inputs the optimiser cannot see through, and hands
/// every result to `black_box`, so that LTO keeps all of them in the final image.
///
/// Add one block per entry point here as core grows.
#[inline(never)]
fn exercise() {
    // Core has no callable entry point yet: until it does, the `extern crate` above is what
    // puts it in the crate graph. Add one line per entry point (storage-number pack/unpack,
    // ring, window alignment, every formatter, engine handle/poll), in the form:
    //
    //     black_box(backhaul_core::module::function(black_box(input), black_box(&mut out)));
    black_box(());
}

/// The entry point: `rust-lld`'s default entry symbol.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    loop {
        exercise();
    }
}

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

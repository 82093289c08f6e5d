//! Link-time proof that `backhaul-core` needs no allocator. See `README.md`.
//!
//! Build with (from this folder):
//!
//! ```text
//! cargo build --release --target thumbv7em-none-eabihf
//! ```

#![no_std]
#![no_main]

use backhaul_core::config::BackendConfig;
use backhaul_core::destination::Destinations;
use backhaul_core::extended::Extended;
use backhaul_core::name::{self, UnitNames};
use backhaul_core::number::{DecimalBuffer, Fixed7Buffer, IntBuffer};
use backhaul_core::pattern::SimplePattern;
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::window::{self, Reduce};
use core::hint::black_box;
use core::panic::PanicInfo;

static CONFIG: &str = "[backend]\n enabled = yes\n destination = a:2003 [::1]:2004\n";

/// Calls core's public entry points on inputs the optimiser cannot see through, and hands
/// every result to `black_box`, so that LTO keeps all of them in the final image.
///
/// Add one block per entry point here as core grows.
#[inline(never)]
fn exercise() {
    // Storage numbers, extended precision and exact decimals.
    let sn = StorageNumber::pack(black_box(16.777218), SN_EXISTS);
    let x = Extended::from_f64(black_box(1.5)).unwrap_or(Extended::ZERO);
    black_box(StorageNumber::pack_extended(x / Extended::from_u64(3) + x * x - x, SN_EXISTS));
    black_box(sn.to_f64());
    let mut decimal = DecimalBuffer::new();
    black_box(decimal.format(black_box(sn).unpack()).len());
    let mut fixed = Fixed7Buffer::new();
    black_box(fixed.format_f64(black_box(1e300)).len());
    let mut int = IntBuffer::new();
    black_box(int.format_i64(black_box(-42)).len());

    // Rings and windows.
    let values = [black_box(sn); 16];
    let ring = RingState::new(16, black_box(1), 40, 8, black_box(1000));
    black_box(window::value(&values, &ring, black_box(990), 1000, Reduce::Average).is_ok());
    black_box(ring.slots(black_box(985), 999).count());

    // Patterns, names, destinations and configuration.
    let pattern = SimplePattern::new(black_box(b"!*child* *db*"));
    black_box(pattern.matches(black_box(b"db-server")));
    let mut out = [0u8; 256];
    black_box(name::sanitize_backend(black_box(b"disk.vg0-root"), 200, &mut out));
    black_box(name::escape_label(black_box(b"a\"b"), 256, &mut out));
    black_box(name::units_suffix(black_box(b"KiB/s"), 256, UnitNames::Old, &mut out));
    black_box(Destinations::new(black_box("tcp:a:2003,[::1]:4242"), Some(2003)).count());
    black_box(BackendConfig::parse(black_box(CONFIG)).is_ok());
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

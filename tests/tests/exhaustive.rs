//! Every one of the 2^32 storage-number words: unpacked, printed and converted.
//!
//! Opt-in, because it takes several minutes on two cores:
//!
//! ```text
//! RUSTFLAGS='--cfg exhaustive' cargo test --release -p backhaul-tests --test exhaustive -- --nocapture
//! ```
//!
//! For each word it checks that the seven-decimal text of `unpack` equals a reference
//! built by moving the decimal point in the mantissa's digits (an exact, independent
//! construction), and that `to_f64` is the correctly rounded value of that text.
#![cfg(exhaustive)]

use backhaul_core::number::DecimalBuffer;
use backhaul_core::storage_number::StorageNumber;
use std::fmt::Write as _;

/// The text of a word built by string manipulation alone.
fn reference(word: u32, out: &mut String) {
    out.clear();
    if word == 0 {
        out.push_str("0.0000000");
        return;
    }
    let mantissa = word & 0x00ff_ffff;
    let m = ((word >> 27) & 7) as usize;
    if word & 0x8000_0000 != 0 {
        out.push('-');
    }
    if word & 0x4000_0000 != 0 {
        let zeros = if word & 0x0400_0000 != 0 { 2 * m } else { m };
        let _ = write!(out, "{mantissa}");
        if mantissa != 0 {
            out.extend(std::iter::repeat_n('0', zeros));
        }
        out.push_str(".0000000");
    } else {
        // mantissa / 10^m, written with exactly 7 decimals.
        let digits = format!("{:0>8}", mantissa.to_string() + &"0".repeat(7 - m));
        let (int, frac) = digits.split_at(digits.len() - 7);
        let int = int.trim_start_matches('0');
        out.push_str(if int.is_empty() { "0" } else { int });
        out.push('.');
        out.push_str(frac);
    }
}

#[test]
fn all_words() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let total = 1u64 << 32;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let (start, end) = (total * t / threads, total * (t + 1) / threads);
                let mut want = String::new();
                let mut buf = DecimalBuffer::new();
                for w in start..end {
                    let word = w as u32;
                    let sn = StorageNumber::from_bits(word);
                    let text = buf.format(sn.unpack());
                    reference(word, &mut want);
                    assert_eq!(text, want, "0x{word:08x}");
                    let parsed: f64 = want.parse().unwrap();
                    assert_eq!(sn.to_f64().to_bits(), parsed.to_bits(), "0x{word:08x}");
                }
                end - start
            })
        })
        .collect();
    let checked: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(checked, total);
}

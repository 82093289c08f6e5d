//! Storage numbers: `unpack` and `to_f64` take any word without panicking (the decimal is
//! printed and the double is its correctly rounded value); `pack` takes any double; and
//! packing stays within netdata's accuracy: for every value in the storage range,
//! unpack(pack(x)) is within half a mantissa step of x, and for every word pack produces,
//! pack(unpack(w).to_f64()) is within that accuracy of unpack(w) again.

#![no_main]

use arbitrary::Arbitrary;
use backhaul_core::number::DecimalBuffer;
use backhaul_core::storage_number::{
    StorageNumber, MAX_MAGNITUDE, SN_EXISTS, SN_EXISTS_100, SN_FLAGS,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any word.
    Word(u32),
    /// Any double, any flags.
    Bits(u64, u32),
    /// A double in the storage range: mantissa, decimal exponent, sign.
    Scaled(u32, i8, bool),
}

/// The accuracy of `pack` (netdata's, as tests/tests/props.rs states it): below the
/// smallest full mantissa an absolute half step of 1e-7; then a relative half step of the
/// 24-bit mantissa, ten times coarser above 1.6777215e14 where the factor is 100.
fn bound(ax: f64) -> f64 {
    if ax < 0.1677726 {
        5.000001e-8
    } else if ax <= 1.6777215e14 {
        2.99e-7 * ax
    } else {
        2.99e-6 * ax
    }
}

fn check_word(sn: StorageNumber) {
    let d = sn.unpack();
    let mut buf = DecimalBuffer::new();
    let text = buf.format(d).to_owned();
    let x = sn.to_f64();
    assert!(x.is_finite());
    assert_eq!(
        x.to_bits(),
        text.parse::<f64>().unwrap().to_bits(),
        "{text}"
    );
    assert_eq!(d.to_f64().to_bits(), x.to_bits());
}

fn check_value(x: f64, flags: u32) {
    let sn = StorageNumber::pack(x, flags);
    assert_eq!(
        sn.flags(),
        (flags & SN_FLAGS) | (sn.to_bits() & 0x0400_0000)
    );
    check_word(sn);
    // SN_EXISTS_100 is not a caller's flag: pack sets it itself when it needs the factor
    // 100, and a caller's bit 26 changes the meaning of the word (as in netdata, whose
    // callers pass SN_EXISTS or SN_EXISTS_RESET). Accuracy holds for the callers' flags.
    if !x.is_finite() || flags & SN_EXISTS_100 != 0 {
        return;
    }
    let ax = x.abs();
    if (1e-7..=MAX_MAGNITUDE).contains(&ax) {
        let got = sn.to_f64();
        let err = (got - x).abs();
        assert!(
            err <= bound(ax),
            "{x:e}: packed {:#010x} = {got:e}, error {err:e}",
            sn.to_bits()
        );
        if got != 0.0 {
            assert_eq!(got.is_sign_negative(), x.is_sign_negative());
        }
        // Packing the unpacked value again stays within the same accuracy.
        let again = StorageNumber::pack(got, SN_EXISTS);
        let err2 = (again.to_f64() - got).abs();
        assert!(
            err2 <= bound(got.abs()),
            "{got:e}: repacked {:#010x}",
            again.to_bits()
        );
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Word(w) => {
            let sn = StorageNumber::from_bits(w);
            check_word(sn);
            let _ = StorageNumber::pack(sn.to_f64(), sn.flags());
        }
        Input::Bits(bits, flags) => check_value(f64::from_bits(bits), flags),
        Input::Scaled(mantissa, exp, negative) => {
            let m = f64::from(mantissa % 16_777_216);
            let x = m * 10f64.powi(i32::from(exp % 24));
            check_value(if negative { -x } else { x }, SN_EXISTS);
        }
    }
});

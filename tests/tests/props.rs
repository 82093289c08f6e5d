//! Property tests: backhaul-core's numbers against naive big-number references.
//!
//! Every reference here is written independently of the core, with arbitrary-precision
//! rationals, straight from the rules in the specification: if the core's integer tricks
//! were wrong anywhere, these would disagree.

use backhaul_core::decimal::Decimal;
use backhaul_core::extended::Extended;
use backhaul_core::number::{DecimalBuffer, Fixed7Buffer, IntBuffer};
use backhaul_core::ring::RingState;
use backhaul_core::storage_number::{StorageNumber, SN_EXISTS};
use backhaul_core::window::{self, Missing, Reduce};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use proptest::prelude::*;

fn pow2(e: i64) -> BigRational {
    let one = BigInt::one();
    if e >= 0 {
        BigRational::from_integer(one << e as usize)
    } else {
        BigRational::new(one.clone(), one << (-e) as usize)
    }
}

fn exact_f64(x: f64) -> BigRational {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1 << 52) - 1);
    let (mant, exp) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, biased - 1075)
    };
    let v = BigRational::from_integer(BigInt::from(mant)) * pow2(exp);
    if x.is_sign_negative() {
        -v
    } else {
        v
    }
}

fn exact_extended(x: Extended) -> BigRational {
    let (sig, exp) = x.to_parts();
    let v = BigRational::from_integer(BigInt::from(sig)) * pow2(i64::from(exp));
    if x.is_sign_negative() {
        -v
    } else {
        v
    }
}

/// The reference rounding of a non-zero rational to 64 significant bits, ties to even:
/// returns (negative, significand, exponent).
fn round_to_64_bits(q: &BigRational) -> (bool, u64, i32) {
    let negative = q.is_negative();
    let q = q.abs();
    let (n, d) = (q.numer().clone(), q.denom().clone());
    // k with 2^k ≤ q < 2^(k+1)
    let mut k = n.bits() as i64 - d.bits() as i64;
    if q < pow2(k) {
        k -= 1;
    }
    let scaled = q * pow2(63 - k);
    let floor = scaled.to_integer();
    let rest = scaled - BigRational::from_integer(floor.clone());
    let half = BigRational::new(BigInt::one(), BigInt::from(2));
    let mut sig = floor;
    if rest > half || (rest == half && (&sig % 2u32) == BigInt::one()) {
        sig += 1;
    }
    let mut exp = k - 63;
    if sig.bits() > 64 {
        sig >>= 1;
        exp += 1;
    }
    (negative, sig.to_u64().unwrap(), exp as i32)
}

fn check_rounded(got: Extended, exact: &BigRational) {
    if exact.is_zero() {
        assert!(got.is_zero(), "{got:?} should be zero");
        return;
    }
    let (neg, sig, exp) = round_to_64_bits(exact);
    assert_eq!(
        (got.is_sign_negative(), got.to_parts()),
        (neg, (sig, exp)),
        "exact {exact}"
    );
}

/// Finite doubles of every kind: normal, subnormal, zero, and small integers.
fn any_finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        (1e-9f64..1e22),
    ]
}

/// The exact 7-decimal text of a rational, rounded half to even, with the sign kept when
/// a negative value rounds to zero (C's `%0.7f`).
fn reference_fixed7(q: &BigRational) -> String {
    let negative = q.is_negative();
    let scaled = q.abs() * BigRational::from_integer(BigInt::from(10_000_000));
    let floor = scaled.to_integer();
    let rest = scaled - BigRational::from_integer(floor.clone());
    let half = BigRational::new(BigInt::one(), BigInt::from(2));
    let mut units = floor;
    if rest > half || (rest == half && (&units % 2u32) == BigInt::one()) {
        units += 1;
    }
    let digits = format!("{:0>8}", units.to_str_radix(10));
    let (int, frac) = digits.split_at(digits.len() - 7);
    format!("{}{int}.{frac}", if negative { "-" } else { "" })
}

/// The storage-number decoding of spec §1.3, as a rational.
fn reference_unpack(word: u32) -> BigRational {
    if word == 0 {
        return BigRational::zero();
    }
    let mantissa = BigInt::from(word & 0x00ff_ffff);
    let m = (word >> 27) & 7;
    let v = if word & 0x4000_0000 != 0 {
        let factor: u32 = if word & 0x0400_0000 != 0 { 100 } else { 10 };
        BigRational::from_integer(mantissa * BigInt::from(factor).pow(m))
    } else {
        BigRational::new(mantissa, BigInt::from(10u32).pow(m))
    };
    if word & 0x8000_0000 != 0 {
        -v
    } else {
        v
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn extended_arithmetic_is_rounded_once(a in any_finite(), b in any_finite()) {
        let (xa, xb) = (Extended::from_f64(a).unwrap(), Extended::from_f64(b).unwrap());
        let (qa, qb) = (exact_f64(a), exact_f64(b));
        prop_assert_eq!(&exact_extended(xa), &qa);
        check_rounded(xa * xb, &(&qa * &qb));
        check_rounded(xa + xb, &(&qa + &qb));
        check_rounded(xa - xb, &(&qa - &qb));
        if !qb.is_zero() {
            check_rounded(xa / xb, &(&qa / &qb));
        }
    }

    #[test]
    fn extended_to_f64_rounds_like_the_hardware(a in any_finite(), b in any_finite()) {
        // The product and quotient of two doubles, each correctly rounded to f64 by the
        // FPU, against Extended's 64-bit result rounded on to f64: they agree unless the
        // 64-bit step was a double rounding, which the reference detects exactly.
        let exact = exact_f64(a) * exact_f64(b);
        let x = Extended::from_f64(a).unwrap() * Extended::from_f64(b).unwrap();
        let hw = a * b;
        if hw.is_finite() && hw != 0.0 && hw.is_normal() {
            let via_e = x.to_f64();
            if via_e != hw {
                // Only a double rounding may differ: the exact value must then lie within
                // half an f64 ulp of both candidates' midpoint.
                let mid = (exact_f64(hw) + exact_f64(via_e)) / BigRational::from_integer(BigInt::from(2));
                let ulp = (exact_f64(hw) - exact_f64(via_e)).abs();
                prop_assert!((exact - mid).abs() * BigRational::from_integer(BigInt::from(1u64 << 11)) <= ulp);
            }
        }
    }

    #[test]
    fn pack_then_unpack_stays_within_netdata_accuracy(x in prop_oneof![
        1e-7f64..0.1677726,
        0.1677726f64..1.6777215e14,
        1.6777215e14f64..1.6777215e21,
    ], negative in any::<bool>()) {
        let x = if negative { -x } else { x };
        let sn = StorageNumber::pack(x, SN_EXISTS);
        prop_assert!(sn.exists());
        let got = reference_unpack(sn.to_bits());
        prop_assert_eq!(&exact_f64(sn.to_f64()), &exact_f64(got.to_f64().unwrap()));
        let err = (got - exact_f64(x)).abs();
        let ax = x.abs();
        let bound = if ax < 0.1677726 {
            5.000001e-8
        } else if ax <= 1.6777215e14 {
            2.99e-7 * ax
        } else {
            2.99e-6 * ax
        };
        prop_assert!(err.to_f64().unwrap() <= bound, "{x}: error {}", err.to_f64().unwrap());
    }

    #[test]
    fn unpack_is_exact_for_any_word(word in any::<u32>()) {
        let sn = StorageNumber::from_bits(word);
        let reference = reference_unpack(word);
        let mut buf = DecimalBuffer::new();
        let text = buf.format(sn.unpack()).to_owned();
        // -0 prints with its sign, like C.
        let want = if word & 0x8000_0000 != 0 && reference.is_zero() {
            "-0.0000000".to_owned()
        } else {
            reference_fixed7(&reference)
        };
        prop_assert_eq!(&text, &want);
        prop_assert_eq!(sn.to_f64().to_bits(), text.parse::<f64>().unwrap().to_bits());
    }

    #[test]
    fn fixed7_prints_exact_doubles(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let mut buf = Fixed7Buffer::new();
        let text = buf.format_f64(x);
        let mut want = reference_fixed7(&exact_f64(x));
        if x.is_sign_negative() && !want.starts_with('-') {
            want.insert(0, '-');
        }
        prop_assert_eq!(text, want);
    }

    #[test]
    fn integers_print_like_core_fmt(n in any::<i64>(), u in any::<u64>()) {
        let mut buf = IntBuffer::new();
        prop_assert_eq!(buf.format_i64(n), n.to_string());
        prop_assert_eq!(buf.format_u64(u), u.to_string());
    }

    #[test]
    fn decimal_ratio_is_rounded_half_even(num in any::<u128>(), den in 1u128..u128::MAX, neg in any::<bool>()) {
        let d = Decimal::from_ratio(neg, num, den).unwrap();
        let q = BigRational::new(BigInt::from(num), BigInt::from(den));
        let floor = q.to_integer();
        let rest = &q - BigRational::from_integer(floor.clone());
        let half = BigRational::new(BigInt::one(), BigInt::from(2));
        let mut want = floor;
        if rest > half || (rest == half && (&want % 2u32) == BigInt::one()) {
            want += 1;
        }
        prop_assert_eq!(BigInt::from(d.units()), want);
        prop_assert_eq!(d.is_sign_negative(), neg);
    }
}

/// A ring with random, possibly inconsistent state, random words and a random span.
#[derive(Debug, Clone)]
struct Case {
    entries: usize,
    update_every: u32,
    counter: u64,
    current_entry: usize,
    last_updated: i64,
    words: Vec<u32>,
    after: i64,
    before: i64,
    sum: bool,
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        1usize..40,
        1u32..12,
        0u64..120,
        -100_000i64..2_000_000_000,
        any::<bool>(),
    )
        .prop_flat_map(|(entries, u, counter, last, sum)| {
            let consistent = (counter % entries as u64) as usize;
            (
                Just(entries),
                Just(u),
                Just(counter),
                prop_oneof![3 => Just(consistent), 1 => 0..entries],
                prop_oneof![3 => Just(last - last % i64::from(u)), 1 => Just(last)],
                prop::collection::vec(
                    prop_oneof![
                        2 => Just(0u32),
                        1 => (0u32..0x0100_0000).prop_map(|m| m | SN_EXISTS | 0x3800_0000),
                        4 => any::<u32>(),
                    ],
                    entries,
                ),
                -400i64..100,
                1i64..60,
                Just(sum),
            )
        })
        .prop_map(
            |(
                entries,
                update_every,
                counter,
                current_entry,
                last_updated,
                words,
                back,
                len,
                sum,
            )| {
                let after = last_updated + back;
                Case {
                    entries,
                    update_every,
                    counter,
                    current_entry,
                    last_updated,
                    words,
                    after,
                    before: after + len,
                    sum,
                }
            },
        )
}

/// Spec §2.4–§3.1 written out directly, in i128, with rational sums.
fn reference_window(c: &Case) -> Result<(String, i64), Missing> {
    let (e, u, cnt, cur, l) = (
        c.entries as i128,
        i128::from(c.update_every),
        i128::from(c.counter),
        c.current_entry as i128,
        i128::from(c.last_updated),
    );
    let d = cnt.min(e) * u;
    let (first_t, last_t) = (l - d, l);
    let last_slot = if cur == 0 { e - 1 } else { cur - 1 };
    let first_slot = if cnt >= e { cur } else { 0 };
    let time2slot = |t: i128| {
        let mut s = if t >= last_t {
            last_slot
        } else if t <= first_t {
            first_slot
        } else {
            let back = (last_t - t) / u;
            if last_slot >= back {
                last_slot - back
            } else {
                last_slot - back + e
            }
        };
        if s >= e {
            s = e - 1;
        }
        s
    };
    let mut a = i128::from(c.after) - 2 * u;
    let mut b = i128::from(c.before) - 2 * u;
    a -= a % u;
    b -= b % u;
    b -= u;
    if a > b {
        a = b;
    }
    if a < first_t {
        a = first_t;
    }
    if b > last_t {
        b = last_t;
    }
    if b < first_t || a > last_t {
        return Err(Missing::Outside);
    }
    let (mut slot, stop) = (time2slot(a), time2slot(b));
    let mut sum = BigRational::zero();
    let mut count = 0i64;
    loop {
        let w = c.words[slot as usize];
        if w & 0x0700_0000 != 0 {
            sum += reference_unpack(w);
            count += 1;
        }
        if slot == stop {
            break;
        }
        slot = (slot + 1) % e;
    }
    if count == 0 {
        return Err(Missing::NoValues);
    }
    let value = if c.sum {
        sum
    } else {
        sum / BigRational::from_integer(BigInt::from(count))
    };
    let negative = value.is_negative();
    let mut text = reference_fixed7(&value);
    if negative && !text.starts_with('-') {
        text.insert(0, '-');
    }
    Ok((text, b as i64))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn window_reduction_equals_a_big_number_reference(c in any_case()) {
        let ring = RingState::new(c.entries, c.update_every, c.counter, c.current_entry, c.last_updated);
        let values: Vec<StorageNumber> = c.words.iter().copied().map(StorageNumber::from_bits).collect();
        let how = if c.sum { Reduce::Sum } else { Reduce::Average };
        let ours = window::value(&values, &ring, c.after, c.before, how).map(|(v, w)| {
            let mut buf = DecimalBuffer::new();
            (buf.format(v).to_owned(), w.last_timestamp)
        });
        prop_assert_eq!(ours, reference_window(&c));
    }
}

// ---------------------------------------------------------------------------- per chart

use backhaul_core::engine::RecordFormat;
use backhaul_core::format::chart::ChartCache;
use backhaul_core::format::graphite::Graphite;
use backhaul_core::format::json::Json;
use backhaul_core::format::opentsdb::{HttpObject, Telnet};
use backhaul_core::format::remote_write::{Collected, Options, RemoteWriteFormat, SeriesKind};
use backhaul_core::format::{BufferFull, ChartMeta, DimensionMeta, HostMeta, Record, Value};
use backhaul_core::name::UnitNames;
use backhaul_core::window::Span;

/// Names of every kind: plain, with separators, quotes and controls, non-ASCII, and long
/// enough to be cut at their limits (100, 200, 255 bytes), in the middle of a character
/// or not.
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9._-]{0,16}",
        "[ -~]{0,24}",
        "[\\x00-\\x7f]{0,24}",
        ".{0,24}",
        (
            95usize..=260,
            prop::sample::select(vec!["a", "é", "\"", "\n", "€"])
        )
            .prop_map(|(n, unit)| unit.repeat(n.div_ceil(unit.len()))),
    ]
}

#[derive(Clone, Debug)]
struct Chart {
    id: String,
    name: String,
    family: String,
    context: String,
    chart_type: String,
    units: String,
}

fn any_chart() -> impl Strategy<Value = Chart> {
    (
        any_name(),
        any_name(),
        any_name(),
        any_name(),
        any_name(),
        prop_oneof![Just("%".to_owned()), Just("KiB/s".to_owned()), any_name()],
    )
        .prop_map(|(id, name, family, context, chart_type, units)| Chart {
            id,
            name,
            family,
            context,
            chart_type,
            units,
        })
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Collected),
        (any::<bool>(), any::<u64>())
            .prop_map(|(n, u)| Value::Stored(Decimal::from_units(n, u128::from(u)))),
        (any::<bool>(), any::<u128>()).prop_map(|(n, u)| Value::Stored(Decimal::from_units(n, u))),
    ]
}

/// A format under test: writes a record per record (`false`) or through the cache
/// (`true`).
type FormatFn =
    Box<dyn Fn(&mut ChartCache, &Record<'_>, &mut [u8], bool) -> Result<usize, BufferFull>>;

/// Every format the engine prepares per chart, remote write in each of its shapes.
fn chart_formats() -> Vec<(&'static str, FormatFn)> {
    fn of<F: RecordFormat + 'static>(f: F) -> FormatFn {
        Box::new(move |cache, record, out, cached| {
            if cached {
                f.write_cached(cache, record, out)
            } else {
                f.write(record, out)
            }
        })
    }
    let rw = |kind, options| RemoteWriteFormat { kind, options };
    let collected = |homogeneous, counter| {
        SeriesKind::Collected(Collected {
            homogeneous,
            counter,
            subsec_millis: 7,
        })
    };
    vec![
        ("graphite", of(Graphite)),
        ("opentsdb", of(Telnet)),
        ("opentsdb http", of(HttpObject)),
        ("json", of(Json)),
        (
            "rw average",
            of(rw(SeriesKind::Stored(Reduce::Average), Options::new())),
        ),
        (
            "rw average old units",
            of(rw(
                SeriesKind::Stored(Reduce::Average),
                Options::new().with_unit_names(UnitNames::Old),
            )),
        ),
        (
            "rw sum",
            of(rw(SeriesKind::Stored(Reduce::Sum), Options::new())),
        ),
        (
            "rw collected",
            of(rw(
                collected(true, true),
                Options::new().with_counter_total(true),
            )),
        ),
        (
            "rw heterogeneous",
            of(rw(collected(false, false), Options::new())),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The per-chart path (a chart part prepared once, then reused for every dimension)
    /// writes exactly the per-record bytes, for any names, in every format; a buffer one
    /// byte short is refused and left untouched.
    #[test]
    fn chart_parts_give_the_record_bytes(
        prefix in any_name(),
        hostname in any_name(),
        tags in prop_oneof![Just(String::new()), any_name()],
        charts in prop::collection::vec(any_chart(), 1..4),
        dims in prop::collection::vec((any_name(), any_name(), any_value(), any::<i64>()), 1..5),
        names in any::<bool>(),
    ) {
        let host = HostMeta { prefix: &prefix, hostname: &hostname, tags: &tags };
        for (label, format) in chart_formats() {
            let mut cache = ChartCache::new();
            for chart in &charts {
                let meta = ChartMeta {
                    id: &chart.id,
                    name: &chart.name,
                    family: &chart.family,
                    context: &chart.context,
                    chart_type: &chart.chart_type,
                    units: &chart.units,
                };
                for (id, name, value, timestamp) in &dims {
                    let record = Record {
                        host,
                        chart: meta,
                        dimension: DimensionMeta { id, name },
                        names,
                        value: *value,
                        timestamp: *timestamp,
                    };
                    let mut want = vec![0u8; 64 * 1024];
                    let n = format(&mut cache, &record, &mut want, false).unwrap();
                    want.truncate(n);
                    let mut got = vec![0xa5u8; n + 8];
                    prop_assert_eq!(format(&mut cache, &record, &mut got, true), Ok(n), "{}", label);
                    prop_assert_eq!(&got[..n], &want[..], "{}", label);
                    prop_assert!(got[n..].iter().all(|&b| b == 0xa5), "{}", label);
                    let mut short = vec![0xa5u8; n - 1];
                    prop_assert!(format(&mut cache, &record, &mut short, true).is_err(), "{}", label);
                    prop_assert!(short.iter().all(|&b| b == 0xa5), "{}", label);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A chart's [`Span`], worked out once and reused for each dimension, gives the
    /// values and the reduction of the per-dimension functions.
    #[test]
    fn spans_agree_with_the_window_functions(c in any_case()) {
        let ring = RingState::new(c.entries, c.update_every, c.counter, c.current_entry, c.last_updated);
        let values: Vec<StorageNumber> = c.words.iter().copied().map(StorageNumber::from_bits).collect();
        let how = if c.sum { Reduce::Sum } else { Reduce::Average };
        let span = Span::new(&ring, c.after, c.before);
        prop_assert_eq!(span.map(|s| s.window()), window::align(&ring, c.after, c.before));
        if let Ok(span) = span {
            let w = span.window();
            prop_assert_eq!(span.value(&values, how), window::reduce(&values, &ring, &w).value(how));
            prop_assert_eq!(span.reduce(&values), window::reduce(&values, &ring, &w));
            // A slice shorter than the ring reads as empty slots, never panics.
            let short = &values[..values.len() / 2];
            prop_assert_eq!(span.value(short, how), window::reduce(short, &ring, &w).value(how));
        }
    }
}

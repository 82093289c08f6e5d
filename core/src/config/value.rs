//! Option values: booleans and integers, read strictly.
//!
//! netdata reads a boolean as true only for a few words and as false for *everything else*
//! (including `1`), and reads integers with C `strtoll(s, NULL, 0)`, which ignores trailing
//! junk and turns garbage into 0. Both hide typos. These functions accept the same spellings
//! netdata documents and reject everything else with a [`ConfigErrorKind`] that says what is
//! accepted.

use super::ConfigErrorKind;

/// The words read as `true` (compared ignoring ASCII case).
pub const TRUE_WORDS: [&str; 5] = ["yes", "true", "on", "auto", "on demand"];

/// The words read as `false` (compared ignoring ASCII case).
pub const FALSE_WORDS: [&str; 3] = ["no", "false", "off"];

/// Reads a boolean: [`TRUE_WORDS`] or [`FALSE_WORDS`], in any ASCII letter case.
///
/// # Errors
///
/// [`ConfigErrorKind::NotABoolean`] for anything else, including `1`, `0` and the empty
/// string (netdata reads all of them as false).
///
/// # Examples
///
/// ```
/// use backhaul_core::config::{value::parse_bool, ConfigErrorKind};
///
/// assert_eq!(parse_bool("On Demand"), Ok(true));
/// assert_eq!(parse_bool("NO"), Ok(false));
/// assert_eq!(parse_bool("1"), Err(ConfigErrorKind::NotABoolean));
/// ```
pub fn parse_bool(value: &str) -> Result<bool, ConfigErrorKind> {
    let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(value));
    if is(&TRUE_WORDS) {
        Ok(true)
    } else if is(&FALSE_WORDS) {
        Ok(false)
    } else {
        Err(ConfigErrorKind::NotABoolean)
    }
}

/// Reads an integer the way C `strtoll(s, NULL, 0)` does, but strictly.
///
/// Accepted: an optional `+` or `-`, then decimal digits, `0x`/`0X` and hexadecimal digits,
/// or `0` and octal digits. Unlike `strtoll`, leading blanks, trailing junk and an empty
/// value are rejected, and so is a value that does not fit an `i64` (`strtoll` clamps it).
///
/// # Errors
///
/// [`ConfigErrorKind::NotANumber`] for a malformed value; [`ConfigErrorKind::OutOfRange`]
/// (with the `i64` limits) for one that does not fit.
///
/// # Examples
///
/// ```
/// use backhaul_core::config::{value::parse_integer, ConfigErrorKind};
///
/// assert_eq!(parse_integer("-10"), Ok(-10));
/// assert_eq!(parse_integer("0x1F"), Ok(31));
/// assert_eq!(parse_integer("010"), Ok(8));
/// assert_eq!(parse_integer("10s"), Err(ConfigErrorKind::NotANumber));
/// ```
pub fn parse_integer(value: &str) -> Result<i64, ConfigErrorKind> {
    let (negative, digits) = match value.as_bytes().first() {
        Some(b'-') => (true, value.get(1..).unwrap_or("")),
        Some(b'+') => (false, value.get(1..).unwrap_or("")),
        _ => (false, value),
    };
    let (radix, digits) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, digits.get(1..).unwrap_or(""))
    } else {
        (10, digits)
    };
    if digits.is_empty() {
        return Err(ConfigErrorKind::NotANumber);
    }
    let range = ConfigErrorKind::OutOfRange {
        min: i64::MIN,
        max: i64::MAX,
    };
    // Accumulate the magnitude; i64::MIN's magnitude is one more than i64::MAX.
    let mut magnitude = 0u64;
    for c in digits.chars() {
        let digit = c.to_digit(radix).ok_or(ConfigErrorKind::NotANumber)?;
        magnitude = magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(digit)))
            .ok_or(range)?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude).ok_or(range)
    } else {
        i64::try_from(magnitude).map_err(|_| range)
    }
}

/// Reads an integer with [`parse_integer`] and checks that it is within `min..=max`.
///
/// # Errors
///
/// As [`parse_integer`], and [`ConfigErrorKind::OutOfRange`] with `min` and `max` for a
/// value outside them (including one outside `i64`).
///
/// # Examples
///
/// ```
/// use backhaul_core::config::{value::parse_integer_in, ConfigErrorKind};
///
/// assert_eq!(parse_integer_in("5", 1, 10), Ok(5));
/// assert_eq!(parse_integer_in("0", 1, 10), Err(ConfigErrorKind::OutOfRange { min: 1, max: 10 }));
/// ```
pub fn parse_integer_in(value: &str, min: i64, max: i64) -> Result<i64, ConfigErrorKind> {
    let range = ConfigErrorKind::OutOfRange { min, max };
    match parse_integer(value) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) | Err(ConfigErrorKind::OutOfRange { .. }) => Err(range),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! int {
        ($($name:ident: $text:expr => $want:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    assert_eq!(parse_integer($text), $want, "{:?}", $text);
                }
            )*
        };
    }

    const NAN: Result<i64, ConfigErrorKind> = Err(ConfigErrorKind::NotANumber);
    const RANGE: Result<i64, ConfigErrorKind> = Err(ConfigErrorKind::OutOfRange {
        min: i64::MIN,
        max: i64::MAX,
    });

    int! {
        int_zero: "0" => Ok(0);
        int_decimal: "10" => Ok(10);
        int_plus: "+7" => Ok(7);
        int_minus: "-7" => Ok(-7);
        int_minus_zero: "-0" => Ok(0);
        int_hex: "0x1f" => Ok(31);
        int_hex_upper: "0XFF" => Ok(255);
        int_neg_hex: "-0x10" => Ok(-16);
        int_octal: "010" => Ok(8);
        int_octal_zeros: "000" => Ok(0);
        int_max: "9223372036854775807" => Ok(i64::MAX);
        int_min: "-9223372036854775808" => Ok(i64::MIN);
        int_min_hex: "-0x8000000000000000" => Ok(i64::MIN);
        int_over: "9223372036854775808" => RANGE;
        int_under: "-9223372036854775809" => RANGE;
        int_huge: "99999999999999999999999999" => RANGE;
        int_empty: "" => NAN;
        int_sign_only: "-" => NAN;
        int_hex_prefix_only: "0x" => NAN;
        int_trailing: "10s" => NAN;
        int_space: "1 0" => NAN;
        int_leading_space: " 1" => NAN;
        int_octal_eight: "08" => NAN;
        int_double_sign: "--1" => NAN;
        int_float: "1.5" => NAN;
        int_underscore: "1_000" => NAN;
        int_unicode_digit: "\u{663}" => NAN;
    }

    #[test]
    fn ranges() {
        let r = |min, max| Err(ConfigErrorKind::OutOfRange { min, max });
        assert_eq!(parse_integer_in("1", 1, 1), Ok(1));
        assert_eq!(parse_integer_in("2", 1, 1), r(1, 1));
        assert_eq!(parse_integer_in("99999999999999999999", 0, 5), r(0, 5));
        assert_eq!(
            parse_integer_in("x", 0, 5),
            Err(ConfigErrorKind::NotANumber)
        );
    }

    #[test]
    fn booleans() {
        for word in [
            "yes",
            "YES",
            "true",
            "True",
            "on",
            "auto",
            "on demand",
            "ON DEMAND",
        ] {
            assert_eq!(parse_bool(word), Ok(true), "{word}");
        }
        for word in ["no", "No", "false", "FALSE", "off"] {
            assert_eq!(parse_bool(word), Ok(false), "{word}");
        }
        for word in [
            "1",
            "0",
            "",
            "y",
            "n",
            "on  demand",
            "ondemand",
            "enabled",
            "yes!",
        ] {
            assert_eq!(
                parse_bool(word),
                Err(ConfigErrorKind::NotABoolean),
                "{word}"
            );
        }
    }
}

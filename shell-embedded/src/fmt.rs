//! The crate's logging macros: `defmt` when the `defmt` feature is on, nothing otherwise.
//!
//! Every log statement in the crate goes through these, so the rest of the code never
//! names a logger. With the feature off the arguments are still evaluated by reference
//! (no "unused" warnings, no side effects skipped), and nothing is formatted or linked.
//! The firmware chooses the defmt transport and the global logger; this crate never does.
//!
//! The format strings must be valid for defmt (`{}` with `defmt::Format` arguments,
//! `{=str}` and friends): the feature-on build checks them.

#![allow(unused_macros)]

#[cfg(feature = "defmt")]
macro_rules! trace {
    ($($arg:tt)*) => {
        ::defmt::trace!($($arg)*)
    };
}

#[cfg(not(feature = "defmt"))]
macro_rules! trace {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        let _ = ($(&$arg,)*);
    }};
}

#[cfg(feature = "defmt")]
macro_rules! debug {
    ($($arg:tt)*) => {
        ::defmt::debug!($($arg)*)
    };
}

#[cfg(not(feature = "defmt"))]
macro_rules! debug {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        let _ = ($(&$arg,)*);
    }};
}

#[cfg(feature = "defmt")]
macro_rules! info {
    ($($arg:tt)*) => {
        ::defmt::info!($($arg)*)
    };
}

#[cfg(not(feature = "defmt"))]
macro_rules! info {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        let _ = ($(&$arg,)*);
    }};
}

#[cfg(feature = "defmt")]
macro_rules! warn {
    ($($arg:tt)*) => {
        ::defmt::warn!($($arg)*)
    };
}

#[cfg(not(feature = "defmt"))]
macro_rules! warn {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        let _ = ($(&$arg,)*);
    }};
}

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
//! The sans-I/O, `no_std`, allocation-free core of backhaul.

pub mod config;
pub mod destination;
pub mod name;
pub mod pattern;

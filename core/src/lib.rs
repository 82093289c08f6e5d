#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
#![doc = include_str!("../README.md")]

pub mod collect;
pub mod config;
pub mod decimal;
pub mod destination;
pub mod engine;
pub mod extended;
pub mod format;
pub mod name;
pub mod number;
pub mod pattern;
pub mod ring;
pub mod storage_number;
pub mod time;
pub mod window;

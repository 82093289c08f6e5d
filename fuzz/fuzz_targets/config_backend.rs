//! `BackendConfig::parse` (netdata's `[backend]` section) on any text: it never panics;
//! an error names a line of the text in one line of message; an accepted section has its
//! options within their ranges and a destination that parses for its type.

#![no_main]

use backhaul_core::config::{BackendConfig, BackendType};
use backhaul_core::destination;
use backhaul_fuzz::conf::{check_error, ConfText};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: ConfText| {
    let text = input.render();
    match BackendConfig::parse(&text) {
        Err(e) => check_error(&text, &e),
        Ok(c) => {
            assert!(c.update_every >= 1 && c.update_every <= i32::MAX as u32);
            assert!(c.buffer_on_failures <= i32::MAX as u32);
            assert!(c.timeout_ms >= 1);
            if let Some(h) = c.hostname {
                assert!(!h.is_empty());
            }
            match c.backend_type {
                BackendType::Kinesis => {
                    let region = c.region().expect("a region");
                    assert!(!region.is_empty());
                    assert!(region
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
                    assert!(c.destinations().is_none());
                }
                BackendType::MongoDb => assert!(c.destinations().is_none()),
                t => {
                    let list = c.destinations().expect("a destination list");
                    let n = destination::validate(c.destination, t.default_port()).unwrap_or_else(
                        |e| panic!("accepted destination {:?}: {e}", c.destination),
                    );
                    let items: Vec<_> = list.collect();
                    assert_eq!(items.len(), n);
                    assert!(items.iter().all(Result::is_ok));
                }
            }
            let path = c.remote_write_url_path;
            assert!(
                path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic()),
                "{path:?}"
            );
            assert_eq!(BackendConfig::parse(&text), Ok(c));
        }
    }
});

//! `DaemonConfig::parse` on any text: it never panics; an error names a line of the text
//! in one line of message; a configuration it accepts keeps every promise of
//! docs/configuration.md (ranges, at most 16 uniquely named instances, destinations that
//! parse, HTTP options only where they apply and in allowed combinations).

#![no_main]

use backhaul_core::config::{
    BackendConfig, DaemonConfig, GlobalConfig, InstanceConfig, InstanceType, MAX_INSTANCES,
};
use backhaul_core::destination::{self, Protocol};
use backhaul_fuzz::conf::{check_error, ConfText};
use libfuzzer_sys::fuzz_target;

fn check_instance(text: &str, i: &InstanceConfig<'_>) {
    let lines = text.split('\n').count();
    assert!((1..=lines).contains(&i.line), "instance on line {}", i.line);
    assert!(!i.name.is_empty());
    assert!(i.update_every >= 1 && i.update_every <= i32::MAX as u32);
    assert!(i.buffer_on_failures <= i32::MAX as u32);
    assert!(
        (InstanceConfig::MIN_BUFFER_SIZE..=InstanceConfig::MAX_BUFFER_SIZE)
            .contains(&i.buffer_size)
    );
    assert!(i.timeout_ms >= 1);
    if let Some(h) = i.hostname {
        assert!(!h.is_empty());
    }
    let kind = i.instance_type;
    match kind {
        InstanceType::MongoDb => assert!(i.destinations().is_none()),
        InstanceType::Kinesis => {
            let region = i.region().expect("kinesis has a region");
            assert!(!region.is_empty());
            assert!(region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        }
        _ => {
            let n = destination::validate(i.destination, kind.default_port())
                .unwrap_or_else(|e| panic!("accepted destination {:?}: {e}", i.destination));
            let items: Vec<_> = i.destinations().expect("a destination list").collect();
            assert_eq!(items.len(), n);
            for item in items {
                let item = item.expect("every item parses");
                if item.protocol() != Protocol::Unix {
                    assert!(item.port().and_then(|p| p.number()) != Some(0));
                    assert!(item.port().is_some());
                }
            }
        }
    }
    if kind.is_remote_write() {
        let path = i.remote_write_url_path;
        assert!(path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic()));
    }
    assert_eq!(i.http.is_some(), kind.is_http(), "{kind}");
    if let Some(http) = &i.http {
        assert_eq!(http.tls.is_some(), kind.is_tls());
        if http.password.is_some() || http.password_file.is_some() {
            assert!(http.username.is_some(), "a password without a user name");
        }
        assert!(!(http.password.is_some() && http.password_file.is_some()));
        assert!(!(http.bearer_token_file.is_some() && http.username.is_some()));
        if let Some(user) = http.username {
            assert!(!user.is_empty() && !user.contains(':'));
            assert!(!user.chars().any(char::is_control));
        }
        let files = [http.password_file, http.bearer_token_file];
        let tls_files = http
            .tls
            .map(|t| [t.ca_file, t.client_certificate, t.client_key])
            .unwrap_or_default();
        for f in files.into_iter().chain(tls_files).flatten() {
            assert!(!f.is_empty() && !f.chars().any(char::is_control), "{f:?}");
        }
        if let Some(tls) = http.tls {
            assert_eq!(tls.client_certificate.is_some(), tls.client_key.is_some());
        }
        // Debug output never shows a password.
        if let Some(p) = http.password {
            let debug = format!("{i:?}");
            assert!(debug.contains("Secret(<redacted>)"));
            let _ = p.expose();
        }
    }
}

fuzz_target!(|input: ConfText| {
    let text = input.render();
    let daemon = DaemonConfig::parse(&text);
    let backend = BackendConfig::parse(&text);
    match daemon {
        Err(e) => {
            check_error(&text, &e);
            if e.option() == Some("password") {
                assert!(e.value().is_none(), "a password in an error message");
            }
            // A [backend] error is the daemon's error too, unless the daemon found one on
            // an earlier line.
            if let Err(b) = backend {
                assert!(e.line() <= b.line(), "{e} / {b}");
            }
        }
        Ok(config) => {
            assert_eq!(Ok(*config.backend()), backend);
            let g = config.global();
            assert!((GlobalConfig::MIN_HISTORY..=GlobalConfig::MAX_HISTORY).contains(&g.history));
            assert!((1..=GlobalConfig::MAX_UPDATE_EVERY).contains(&g.update_every));
            if let Some(h) = g.hostname {
                assert!(!h.is_empty());
            }
            if let Some(addr) = config.web().bind_to {
                assert_ne!(addr.port(), 0);
            }
            let all: Vec<_> = config.all_instances().collect();
            assert!(all.len() <= MAX_INSTANCES);
            for (n, i) in all.iter().enumerate() {
                check_instance(&text, i);
                assert!(
                    all[..n].iter().all(|j| j.name != i.name),
                    "two instances named {:?}",
                    i.name
                );
                assert_eq!(config.instance(i.name), Some(*i));
                if i.name == "backend" {
                    assert!(config.backend().enabled);
                }
            }
            let enabled: Vec<_> = config.instances().collect();
            assert!(enabled.iter().all(|i| i.enabled));
            assert_eq!(enabled.len(), all.iter().filter(|i| i.enabled).count());
            // The same text gives the same configuration.
            assert_eq!(DaemonConfig::parse(&text).ok(), Some(config));
        }
    }
});

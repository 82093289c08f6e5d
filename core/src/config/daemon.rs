//! The whole configuration file of the backhaul daemon.

use core::iter::FusedIterator;

use super::ini::{self, Lexer, Token};
use super::options::Layer;
use super::{
    closest_match, BackendConfig, BackendType, ConfigError, ConfigErrorKind, DaemonErrorKind,
    GlobalConfig, InstanceConfig, InstanceType, Result, WebConfig,
};

/// The most instances one configuration may define: instance sections (disabled ones
/// included) plus `[backend]` when it is enabled.
///
/// [`DaemonConfig`] keeps them in a fixed array, so its size grows with this number: an
/// instance takes 152 bytes on 32-bit targets and 280 on 64-bit ones, and a whole
/// `DaemonConfig` about 2.6 KB and 4.7 KB.
pub const MAX_INSTANCES: usize = 16;

/// Everything the backhaul daemon reads from its netdata.conf-style file, borrowing from
/// the text.
///
/// The file may hold, in any order (see `docs/configuration.md` for the whole syntax):
///
/// * netdata's `[backend]` section, read exactly as [`BackendConfig::parse`] reads it; when
///   it is enabled, it defines an instance named `backend`;
/// * instance sections `[TYPE:NAME]`, one per destination ([`InstanceConfig`]), with `TYPE`
///   an [`InstanceType`] word and `NAME` made of ASCII letters, digits, `_`, `.` and `-`;
/// * `[exporting:global]`, with the options of an instance section: the defaults of every
///   instance section (not of `[backend]`);
/// * `[global]` ([`GlobalConfig`]): `hostname`, `history` and `update every`;
/// * `[backhaul]` ([`WebConfig`]): `bind to` and `log level`.
///
/// Any other section is netdata's and is skipped, except names that look like a typo of
/// backhaul's: a name close to `backhaul` or `exporting:global`, any other
/// `exporting:…`, a bare type (`[json]`, `[opentsdb:http]`), and a `TYPE:NAME` whose
/// `TYPE` is close to an instance type word are errors. Options backhaul does not know are
/// errors in `[backend]`, `[backhaul]`, `[exporting:global]` and instance sections, and are
/// ignored in `[global]`, which is netdata's.
///
/// # Errors
///
/// [`parse`](Self::parse) returns the first problem it finds. Problems in the syntax, in
/// `[backend]`, `[global]`, `[backhaul]` and `[exporting:global]` come first, in line order;
/// then the instance sections', in line order (within a section, the checks that involve
/// several options come after those of each option).
///
/// # Examples
///
/// ```
/// use backhaul_core::config::{DaemonConfig, InstanceType};
///
/// let text = "\
/// [global]
///     hostname = gateway-7
///
/// [exporting:global]
///     update every = 5
///
/// [graphite:carbon]
///     destination = carbon1 carbon2:2004
///
/// [prometheus_remote_write:vm]
///     destination = vm:8428
///     remote write URL path = /api/v1/write
///     buffer size = 4 MiB
/// ";
/// let config = DaemonConfig::parse(text).unwrap();
/// let names: Vec<_> = config.instances().map(|i| (i.name, i.instance_type)).collect();
/// assert_eq!(
///     names,
///     [("carbon", InstanceType::Graphite), ("vm", InstanceType::PrometheusRemoteWrite)]
/// );
/// let vm = config.instance("vm").unwrap();
/// assert_eq!((vm.update_every, vm.timeout_ms, vm.buffer_size), (5, 10_000, 4 << 20));
/// assert_eq!(vm.hostname, Some("gateway-7"));
///
/// let err = DaemonConfig::parse("[graphite:a]\n[json:a]\n").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "line 2: [json:a]: \"a\" is already the name of the instance on line 1"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DaemonConfig<'a> {
    global: GlobalConfig<'a>,
    web: WebConfig,
    backend: BackendConfig<'a>,
    instances: [Option<InstanceConfig<'a>>; MAX_INSTANCES],
}

impl<'a> DaemonConfig<'a> {
    /// Reads a whole configuration text.
    ///
    /// # Errors
    ///
    /// The first problem, as described on [`DaemonConfig`]; its `Display` reads
    /// `line N: OPTION: what is wrong`, and
    /// [`display_with_file`](ConfigError::display_with_file) gives
    /// `FILE:N: OPTION: what is wrong`.
    pub fn parse(text: &'a str) -> Result<'a, Self> {
        let (backend, defaults) = match (BackendConfig::parse(text), Defaults::read(text)) {
            (Ok(backend), Ok(defaults)) => (backend, defaults),
            (Err(a), Err(b)) => return Err(if b.line() < a.line() { b } else { a }),
            (Err(error), Ok(_)) | (Ok(_), Err(error)) => return Err(error),
        };
        let mut config = Self {
            global: defaults.global,
            web: defaults.web,
            backend,
            instances: [None; MAX_INSTANCES],
        };
        let mut open: Option<Layer<'a>> = None;
        let mut backend_seen = false;
        for token in Lexer::new(text) {
            let (line, name) = match token? {
                Token::Entry(entry) => {
                    if let Some(layer) = open.as_mut() {
                        layer.set(entry)?;
                    }
                    continue;
                }
                Token::Section { line, name } => (line, name),
            };
            if let Some(layer) = open.take() {
                config.push(layer.finish(config.global.hostname)?);
            }
            let header = || header(text, line, name);
            match classify(name) {
                Err((kind, value)) => {
                    let kind = ConfigErrorKind::Daemon(kind);
                    return Err(ConfigError::new(line, Some(header()), value, kind));
                }
                Ok(Section::Instance(kind, instance)) => {
                    config.check_new(instance, line, header())?;
                    open = Some(defaults.exporting.instance(instance, kind, line));
                }
                Ok(Section::Backend) if !backend_seen => {
                    backend_seen = true;
                    if config.backend.enabled {
                        config.check_new(BackendConfig::SECTION, line, header())?;
                        config.push(InstanceConfig::from_backend(&config.backend, line));
                    }
                }
                Ok(_) => {}
            }
        }
        if let Some(layer) = open {
            config.push(layer.finish(config.global.hostname)?);
        }
        Ok(config)
    }

    /// The instances to run, in the order of their sections: the enabled instance sections,
    /// and `[backend]` (named `backend`) when it is enabled.
    #[must_use]
    pub fn instances(&self) -> Instances<'_, 'a> {
        Instances {
            slots: self.instances.iter(),
            disabled_too: false,
        }
    }

    /// Every instance, the disabled instance sections included.
    #[must_use]
    pub fn all_instances(&self) -> Instances<'_, 'a> {
        Instances {
            slots: self.instances.iter(),
            disabled_too: true,
        }
    }

    /// The instance of this name, enabled or not.
    #[must_use]
    pub fn instance(&self, name: &str) -> Option<&InstanceConfig<'a>> {
        self.all_instances().find(|instance| instance.name == name)
    }

    /// The `[global]` options backhaul reads.
    #[must_use]
    pub const fn global(&self) -> &GlobalConfig<'a> {
        &self.global
    }

    /// The `[backhaul]` section: the pull endpoint and the log level.
    #[must_use]
    pub const fn web(&self) -> &WebConfig {
        &self.web
    }

    /// netdata's `[backend]` section, enabled or not. The pull endpoint uses its prefix,
    /// data source, chart filter and `update every` even when it is disabled, as netdata's
    /// does.
    #[must_use]
    pub const fn backend(&self) -> &BackendConfig<'a> {
        &self.backend
    }

    fn len(&self) -> usize {
        self.instances.iter().filter(|slot| slot.is_some()).count()
    }

    /// Checks that a new instance `name` on `line` has a free slot and a name of its own.
    fn check_new(&self, name: &'a str, line: usize, header: &'a str) -> Result<'a, ()> {
        let error = |value, kind| {
            let kind = ConfigErrorKind::Daemon(kind);
            Err(ConfigError::new(line, Some(header), value, kind))
        };
        if let Some(first) = self.all_instances().find(|i| i.name == name) {
            let kind = DaemonErrorKind::DuplicateInstance {
                first_line: first.line,
            };
            return error(Some(name), kind);
        }
        if self.len() >= MAX_INSTANCES {
            return error(None, DaemonErrorKind::TooManyInstances);
        }
        Ok(())
    }

    /// Stores an instance ([`check_new`](Self::check_new) made room for it).
    fn push(&mut self, instance: InstanceConfig<'a>) {
        if let Some(slot) = self.instances.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(instance);
        }
    }
}

/// An iterator over the instances of a [`DaemonConfig`] (see
/// [`DaemonConfig::instances`] and [`DaemonConfig::all_instances`]).
#[derive(Debug, Clone)]
pub struct Instances<'c, 'a> {
    slots: core::slice::Iter<'c, Option<InstanceConfig<'a>>>,
    disabled_too: bool,
}

impl<'c, 'a> Iterator for Instances<'c, 'a> {
    type Item = &'c InstanceConfig<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let disabled_too = self.disabled_too;
        self.slots
            .by_ref()
            .flatten()
            .find(|instance| disabled_too || instance.enabled)
    }
}

impl FusedIterator for Instances<'_, '_> {}

/// The sections read before the instance sections, since these inherit from them.
struct Defaults<'a> {
    global: GlobalConfig<'a>,
    web: WebConfig,
    exporting: Layer<'a>,
}

impl<'a> Defaults<'a> {
    fn read(text: &'a str) -> Result<'a, Self> {
        let mut defaults = Self {
            global: GlobalConfig::new(),
            web: WebConfig::new(),
            exporting: Layer::global(),
        };
        let (mut global_lines, mut web_lines) = ([0; 3], [0; 2]);
        let mut section = Section::Foreign;
        for token in Lexer::new(text) {
            match token? {
                Token::Section { name, .. } => section = classify(name).unwrap_or(Section::Foreign),
                Token::Entry(entry) => match section {
                    Section::Global => defaults.global.set(entry, &mut global_lines)?,
                    Section::Backhaul => defaults.web.set(entry, &mut web_lines)?,
                    Section::ExportingGlobal => defaults.exporting.set(entry)?,
                    _ => {}
                },
            }
        }
        Ok(defaults)
    }
}

/// What a section header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section<'a> {
    Global,
    Backhaul,
    ExportingGlobal,
    Backend,
    Instance(InstanceType, &'a str),
    /// One of netdata's sections (or anything else backhaul does not read).
    Foreign,
}

/// Sorts a section name, or says what is wrong with it (and the faulty part).
fn classify(name: &str) -> core::result::Result<Section<'_>, (DaemonErrorKind, Option<&str>)> {
    const OWN: [&str; 2] = [WebConfig::SECTION, InstanceConfig::GLOBAL_SECTION];
    match name {
        GlobalConfig::SECTION => return Ok(Section::Global),
        WebConfig::SECTION => return Ok(Section::Backhaul),
        BackendConfig::SECTION => return Ok(Section::Backend),
        InstanceConfig::GLOBAL_SECTION => return Ok(Section::ExportingGlobal),
        _ => {}
    }
    if InstanceType::from_word(name).is_some() || BackendType::from_word(name).is_some() {
        return Err((DaemonErrorKind::MissingInstanceName, None));
    }
    let suggestion = closest_match(name, &OWN);
    if suggestion.is_some() || name.starts_with("exporting:") {
        return Err((DaemonErrorKind::UnknownSection { suggestion }, None));
    }
    let Some((word, instance)) = name.rsplit_once(':') else {
        return Ok(Section::Foreign);
    };
    let head = name.split_once(':').map_or(name, |(head, _)| head);
    if let Some(kind) = InstanceType::from_word(word) {
        let good = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        if instance.is_empty() || !instance.bytes().all(good) {
            return Err((DaemonErrorKind::BadInstanceName, Some(instance)));
        }
        return Ok(Section::Instance(kind, instance));
    }
    if closest_match(head, &InstanceType::BASE_WORDS).is_some() {
        let words = InstanceType::ALL.map(InstanceType::as_str);
        let suggestion = closest_match(word, &words);
        return Err((
            DaemonErrorKind::UnknownInstanceType { suggestion },
            Some(word),
        ));
    }
    Ok(Section::Foreign)
}

/// The header of the section `name` on `line`, as written (`[ json:db ]`), for messages.
fn header<'a>(text: &'a str, line: usize, name: &'a str) -> &'a str {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    line.checked_sub(1)
        .and_then(|index| text.split('\n').nth(index))
        .map_or(name, ini::trim)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::config::{DataSource, HttpConfig, LogLevel, TlsConfig};
    use crate::destination::Port;
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn parse(text: &str) -> Result<'_, DaemonConfig<'_>> {
        DaemonConfig::parse(text)
    }

    /// A complete file: netdata's sections, `[global]`, `[backhaul]`, `[exporting:global]`,
    /// `[backend]` and three instance sections (one disabled).
    const FULL: &str = "\
# backhaul configuration
[global]
\thostname = gw-7
\thistory = 7200
\tupdate every = 2
\trun as user = netdata

[web]
\tbind to = *
\tallow connections from = localhost *

[plugin:proc:/proc/stat]
\tcpu interrupts = no

[backhaul]
\tbind to = [::1]:9100
\tlog level = debug

[exporting:global]
\tupdate every = 5
\tprefix = edge
\tbuffer size = 256 KiB
\tsend charts matching = system.*
\tusername = exporter

[backend]
\tenabled = yes
\ttype = opentsdb
\tdestination = tsdb:4242

[graphite:carbon]
\tdestination = carbon-a carbon-b:2004
\tbuffer size = 2 MiB
\thostname = carbon-host
\tdata source = sum

[prometheus_remote_write:https:vm]
\tdestination = vm.example:8428
\tremote write URL path = /api/v1/write
\tpassword file = /etc/backhaul/vm.pass
\tCA file = /etc/ssl/ca.pem
\ttimeout ms = 3000

[json:off]
\tenabled = no

[health]
\tenabled = yes
";

    #[test]
    fn full_example() {
        let c = parse(FULL).unwrap();
        let global = c.global();
        assert_eq!(
            (global.hostname, global.history, global.update_every),
            (Some("gw-7"), 7200, 2)
        );
        let web = c.web();
        assert_eq!(web.bind_to, Some("[::1]:9100".parse().unwrap()));
        assert_eq!(web.log_level, LogLevel::Debug);
        assert!(c.backend().enabled);

        let names: Vec<_> = c.instances().map(|i| (i.name, i.line)).collect();
        assert_eq!(names, [("backend", 26), ("carbon", 31), ("vm", 37)]);
        let all: Vec<_> = c.all_instances().map(|i| i.name).collect();
        assert_eq!(all, ["backend", "carbon", "vm", "off"]);

        // [backend] keeps netdata's defaults: no [exporting:global] inheritance.
        let backend = c.instance("backend").unwrap();
        assert_eq!(backend.instance_type, InstanceType::OpenTsdb);
        assert_eq!((backend.update_every, backend.timeout_ms), (10, 20_000));
        assert_eq!(
            (backend.prefix, backend.send_charts_matching),
            ("netdata", "*")
        );
        assert_eq!(backend.buffer_size, InstanceConfig::DEFAULT_BUFFER_SIZE);
        assert_eq!(backend.hostname, Some("gw-7"));
        assert_eq!(backend.http, None);

        let carbon = c.instance("carbon").unwrap();
        let mut want = InstanceConfig::new("carbon", InstanceType::Graphite, 31);
        want.destination = "carbon-a carbon-b:2004";
        want.buffer_size = 2 << 20;
        want.hostname = Some("carbon-host");
        want.data_source = DataSource::Sum;
        want.update_every = 5;
        want.timeout_ms = 10_000;
        want.prefix = "edge";
        want.send_charts_matching = "system.*";
        assert_eq!(*carbon, want);
        let ports: Vec<_> = carbon
            .destinations()
            .unwrap()
            .map(|d| d.unwrap().port())
            .collect();
        assert_eq!(ports, [Some(Port::Default(2003)), Some(Port::Number(2004))]);

        let vm = c.instance("vm").unwrap();
        assert_eq!(vm.instance_type, InstanceType::PrometheusRemoteWriteHttps);
        assert_eq!(
            (vm.update_every, vm.timeout_ms, vm.buffer_size),
            (5, 3000, 256 << 10)
        );
        assert_eq!(vm.remote_write_url_path, "/api/v1/write");
        assert_eq!(vm.hostname, Some("gw-7"));
        let tls = TlsConfig {
            ca_file: Some("/etc/ssl/ca.pem"),
            ..TlsConfig::default()
        };
        let http = HttpConfig {
            username: Some("exporter"),
            password_file: Some("/etc/backhaul/vm.pass"),
            tls: Some(tls),
            ..HttpConfig::default()
        };
        assert_eq!(vm.http, Some(http));

        let off = c.instance("off").unwrap();
        assert!(!off.enabled);
        assert_eq!(c.instance("nope"), None);
    }

    /// The annotated example of `docs/configuration.md` reads as the page says.
    #[test]
    fn documented_example() {
        let doc = include_str!("../../../docs/configuration.md");
        let start = doc.find("```ini\n").unwrap() + "```ini\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let c = parse(&doc[start..end]).unwrap();
        let enabled: Vec<_> = c.instances().map(|i| i.name).collect();
        assert_eq!(enabled, ["backend", "carbon", "victoria"]);
        let all: Vec<_> = c.all_instances().map(|i| i.name).collect();
        assert_eq!(all, ["backend", "carbon", "victoria", "archive"]);
        assert_eq!(c.global().history, 7200);
        assert_eq!(c.web().bind_to, Some(WebConfig::DEFAULT_BIND_TO));
        let carbon = c.instance("carbon").unwrap();
        assert_eq!((carbon.buffer_size, carbon.update_every), (16 << 20, 10));
        assert_eq!(carbon.send_charts_matching, "!*.cpu_* *");
        let vm = c.instance("victoria").unwrap();
        assert_eq!((vm.buffer_size, vm.timeout_ms), (4 << 20, 5000));
        assert!(vm.http.unwrap().tls.is_some());
        assert_eq!(c.instance("backend").unwrap().buffer_size, 1 << 20);
    }

    #[test]
    fn empty_file_defaults() {
        let c = parse("").unwrap();
        assert_eq!(*c.global(), GlobalConfig::new());
        assert_eq!(c.global().hostname, None);
        assert_eq!(c.global().history, 3600);
        assert_eq!(c.global().update_every, 1);
        assert_eq!(c.web().bind_to, Some("127.0.0.1:19999".parse().unwrap()));
        assert_eq!(c.web().log_level, LogLevel::Info);
        assert_eq!(*c.web(), WebConfig::default());
        assert_eq!(*c.backend(), BackendConfig::new());
        assert_eq!(c.instances().count(), 0);
        assert_eq!(c.all_instances().count(), 0);
    }

    #[test]
    fn instance_defaults() {
        let c = parse("[json:j]\n").unwrap();
        let j = c.instance("j").unwrap();
        assert_eq!(j.name, "j");
        assert_eq!(j.instance_type, InstanceType::Json);
        assert_eq!(j.line, 1);
        assert!(j.enabled);
        assert_eq!(j.destination, "localhost");
        assert_eq!(j.data_source, DataSource::Average);
        assert_eq!(j.prefix, "netdata");
        assert_eq!(j.hostname, None);
        assert_eq!(j.update_every, 10);
        assert_eq!(j.buffer_on_failures, 10);
        assert_eq!(j.buffer_size, 1 << 20);
        assert_eq!(j.timeout_ms, 20_000);
        assert_eq!(j.send_hosts_matching, "localhost *");
        assert_eq!(j.send_charts_matching, "*");
        assert!(j.send_names_instead_of_ids);
        assert_eq!(j.host_tags, "");
        assert_eq!(j.remote_write_url_path, "/receive");
        assert_eq!(j.http, None);
        let d = j.destinations().unwrap().next().unwrap().unwrap();
        assert_eq!(d.port(), Some(Port::Default(5448)));
        assert_eq!(j.region(), None);

        let c = parse("[json:https:j]\n").unwrap();
        let http = c.instance("j").unwrap().http.unwrap();
        assert_eq!(http.tls, Some(TlsConfig::default()));
        assert!(!http.tls.unwrap().skip_certificate_verification);
        let c = parse("[opentsdb:http:t]\n").unwrap();
        assert_eq!(c.instance("t").unwrap().http.unwrap().tls, None);
    }

    #[test]
    fn every_option_inherits_from_exporting_global() {
        let global = "[exporting:global]\n\
            enabled = no\n\
            destination = a:1\n\
            data source = as collected\n\
            prefix = p\n\
            hostname = h\n\
            update every = 3\n\
            buffer on failures = 4\n\
            buffer size = 64 KiB\n\
            timeout ms = 7\n\
            send hosts matching = h*\n\
            send charts matching = c*\n\
            send names instead of ids = no\n\
            host tags = t=1\n\
            remote write URL path = /w\n\
            username = u\n\
            password = secret\n\
            CA file = ca\n\
            client certificate = cert\n\
            client key = key\n\
            skip certificate verification = yes\n";
        let text = format!("[global]\nhostname = g\n{global}[prometheus_remote_write:https:i]\n");
        let c = parse(&text).unwrap();
        assert_eq!(c.instances().count(), 0);
        let i = c.instance("i").unwrap();
        assert!(!i.enabled);
        assert_eq!(i.destination, "a:1");
        assert_eq!(i.data_source, DataSource::AsCollected);
        assert_eq!((i.prefix, i.hostname), ("p", Some("h")));
        assert_eq!((i.update_every, i.buffer_on_failures), (3, 4));
        assert_eq!((i.buffer_size, i.timeout_ms), (64 << 10, 7));
        assert_eq!(
            (i.send_hosts_matching, i.send_charts_matching),
            ("h*", "c*")
        );
        assert!(!i.send_names_instead_of_ids);
        assert_eq!((i.host_tags, i.remote_write_url_path), ("t=1", "/w"));
        let http = i.http.unwrap();
        assert_eq!(http.username, Some("u"));
        assert_eq!(http.password.map(|p| p.expose()), Some("secret"));
        let tls = http.tls.unwrap();
        assert_eq!(
            (tls.ca_file, tls.client_certificate, tls.client_key),
            (Some("ca"), Some("cert"), Some("key"))
        );
        assert!(tls.skip_certificate_verification);

        // The section's own values win, wherever [exporting:global] is in the file.
        let text = format!(
            "[prometheus_remote_write:i]\nprefix = own\nenabled = yes\ndestination = b:2\n{global}"
        );
        let c = parse(&text).unwrap();
        let i = c.instances().next().unwrap();
        assert_eq!((i.prefix, i.destination, i.timeout_ms), ("own", "b:2", 7));
        // HTTP options do not reach a non-HTTP instance, nor TLS ones a plain HTTP one.
        let text = format!("{global}[graphite:g]\n[json:http:j]\n");
        let c = parse(&text).unwrap();
        assert_eq!(c.instance("g").unwrap().http, None);
        let j = c.instance("j").unwrap().http.unwrap();
        assert_eq!((j.username, j.tls), (Some("u"), None));
    }

    #[test]
    fn hostname_and_timeout_inheritance() {
        let host = |text| parse(text).unwrap().instance("x").unwrap().hostname;
        assert_eq!(host("[global]\nhostname = g\n[json:x]"), Some("g"));
        assert_eq!(host("[json:x]\n[global]\nhostname = g"), Some("g"));
        assert_eq!(host("[global]\nhostname =\n[json:x]"), None);
        let text = "[global]\nhostname = g\n[exporting:global]\nhostname = e\n[json:x]";
        assert_eq!(host(text), Some("e"));
        assert_eq!(
            host("[exporting:global]\nhostname = e\n[json:x]\nhostname = o"),
            Some("o")
        );

        let timeout = |text| parse(text).unwrap().instance("x").unwrap().timeout_ms;
        assert_eq!(timeout("[json:x]\nupdate every = 1"), 2000);
        assert_eq!(
            timeout("[exporting:global]\nupdate every = 4\n[json:x]"),
            8000
        );
        let text = "[exporting:global]\nupdate every = 4\n[json:x]\nupdate every = 6";
        assert_eq!(timeout(text), 12_000);
        let text = "[exporting:global]\ntimeout ms = 99\n[json:x]\nupdate every = 6";
        assert_eq!(timeout(text), 99);
    }

    #[test]
    fn backend_instance() {
        let c = parse("[backend]\nenabled = no\n[json:a]").unwrap();
        assert_eq!(c.instances().map(|i| i.name).collect::<Vec<_>>(), ["a"]);
        assert!(!c.backend().enabled);

        let text = "[json:a]\n[backend]\nenabled = yes\ntype = prometheus_remote_write\n\
            destination = vm:8428\n[backend]\nprefix = x\n";
        let c = parse(text).unwrap();
        let b = c.instance("backend").unwrap();
        assert_eq!((b.line, b.prefix), (2, "x"));
        assert_eq!(b.instance_type, InstanceType::PrometheusRemoteWrite);
        assert_eq!(b.http, Some(HttpConfig::default()));
        let names: Vec<_> = c.instances().map(|i| i.name).collect();
        assert_eq!(names, ["a", "backend"]);

        let c = parse("[backend]\nenabled = yes\ntype = opentsdb:https\n").unwrap();
        let tls = c.instance("backend").unwrap().http.unwrap().tls;
        assert_eq!(tls, Some(TlsConfig::default()));

        // A disabled [backend] does not own the name.
        let c = parse("[backend]\n[graphite:backend]\n").unwrap();
        assert_eq!(c.instance("backend").unwrap().line, 2);
    }

    #[test]
    fn foreign_sections_are_ignored() {
        let text = "[global]\nmemory mode = dbengine\npage cache size = 32\n\
            [web]\nbind to = *\nmode = static-threaded\n\
            [plugins]\nproc = yes\n\
            [plugin:proc:/proc/diskstats]\nperformance metrics for physical disks = auto\n\
            [plugin:apps]\nupdate every = 0x\n\
            [health]\nenabled = no\n\
            [prometheus:exporter]\nsend names instead of ids = maybe\n\
            [system.cpu]\nhistory = x\n\
            [cgroup:docker:abc]\nenabled = yes\n\
            [statsd]\n[registry]\n[exporting]\n[backends]\n";
        let c = parse(text).unwrap();
        assert_eq!(c.all_instances().count(), 0);
        assert_eq!(*c.global(), GlobalConfig::new());
        assert_eq!(*c.web(), WebConfig::new());
    }

    #[test]
    fn names_and_types() {
        let c = parse("[json:a.b-c_D9]\n[ graphite:http:x ]\n[graphite:backendish]").unwrap();
        let got: Vec<_> = c.instances().map(|i| (i.name, i.instance_type)).collect();
        assert_eq!(
            got,
            [
                ("a.b-c_D9", InstanceType::Json),
                ("x", InstanceType::GraphiteHttp),
                ("backendish", InstanceType::Graphite),
            ]
        );
        for kind in InstanceType::ALL {
            let place = match kind {
                InstanceType::Kinesis => "eu-north-1",
                _ => "h:1",
            };
            let text = format!("[{kind}:n]\ndestination = {place}\n");
            let c = parse(&text).unwrap();
            assert_eq!(c.instance("n").unwrap().instance_type, kind, "{kind}");
            assert!(InstanceType::WORDS.contains(kind.as_str()));
        }
        let c = parse("[kinesis:k]\n[mongodb:m]\ndestination = [anything").unwrap();
        assert_eq!(c.instance("k").unwrap().region(), Some("localhost"));
        assert!(c.instance("k").unwrap().destinations().is_none());
        assert!(c.instance("m").unwrap().destinations().is_none());
    }

    #[test]
    fn kinesis_and_mongodb_options() {
        let c = parse(
            "[kinesis:k]\ndestination = eu-west-1\nstream name = metrics\n\
             aws_access_key_id = AKID\naws_secret_access_key = s3cret\n\
             [mongodb:m]\ndestination = mongodb://db:27017\ndatabase = d\ncollection = c\n",
        )
        .unwrap();
        let k = c.instance("k").unwrap();
        assert_eq!(k.stream_name, Some("metrics"));
        assert_eq!(k.aws_access_key_id, Some("AKID"));
        assert_eq!(k.aws_secret_access_key.map(|s| s.expose()), Some("s3cret"));
        assert_eq!((k.database, k.collection), (None, None));
        let m = c.instance("m").unwrap();
        assert_eq!((m.database, m.collection), (Some("d"), Some("c")));
        assert_eq!(m.destination, "mongodb://db:27017");
        assert_eq!(m.stream_name, None);
        // Not set: None, so that the shell can fall back to netdata's files.
        let c = parse("[kinesis:k]\ndestination = us-east-1\n").unwrap();
        assert_eq!(c.instance("k").unwrap().stream_name, None);
        // The secret is never repeated in an error.
        let err = parse("[kinesis:k]\naws_secret_access_key = a\u{1}b\n").unwrap_err();
        assert!(!err.to_string().contains("a\u{1}b"), "{err}");
    }

    #[test]
    fn sixteen_instances_fit() {
        let mut text = String::from("[backend]\nenabled = yes\n");
        for n in 1..MAX_INSTANCES {
            text.push_str(&format!("[json:i{n}]\nenabled = {}\n", n % 2 == 0));
        }
        let c = parse(&text).unwrap();
        assert_eq!(c.all_instances().count(), MAX_INSTANCES);
        assert_eq!(c.instances().count(), MAX_INSTANCES / 2);
    }

    #[test]
    fn with_file() {
        let text = format!("{}[json:x]\nupdate every = 0", "\n".repeat(1233));
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.display_with_file("backhaul.conf").to_string(),
            "backhaul.conf:1235: update every: \"0\" is out of range (use 1 to 2147483647)"
        );
        let err = parse("[x").unwrap_err();
        assert_eq!(
            err.display_with_file("/etc/b.conf").to_string(),
            "/etc/b.conf:1: section header has no closing ']'"
        );
        let text = format!("{}[json:]", "\n".repeat(8));
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.display_with_file("f").to_string(),
            format!(
                "f:9: [json:]: {}",
                "\"\" is not an instance name (use ASCII letters, digits, '_', '.' and '-')"
            )
        );
    }

    #[test]
    fn secrets_are_not_repeated() {
        let err = parse("[json:http:x]\npassword = a\x01b").unwrap_err();
        assert_eq!(err.value(), None);
        assert_eq!(
            err.to_string(),
            "line 2: password: must not hold control characters"
        );
        let c = parse("[json:http:x]\nusername = u\npassword = hunter2").unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2") && debug.contains("Secret(<redacted>)"));
    }

    /// Random texts over the bytes that matter to the grammar never panic.
    #[test]
    fn never_panics_on_random_text() {
        const ALPHABET: &[u8] = b"[]=#;\n :json:https:graphite:x.-KiB 1\xc3\xa9";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut buf = Vec::new();
        for round in 0..20_000 {
            buf.clear();
            if round % 2 == 0 {
                buf.extend_from_slice(b"[json:a]\n");
            }
            for _ in 0..(round % 50) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                buf.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            let text = String::from_utf8_lossy(&buf);
            if let Err(e) = parse(&text) {
                let _ = e.to_string();
                let _ = e.display_with_file("f").to_string();
            }
        }
    }

    /// `(text, line, option, Display)`
    macro_rules! bad {
        ($($name:ident: $text:expr => $line:expr, $option:expr, $msg:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let text: &str = $text;
                    let err = parse(text).unwrap_err();
                    let msg: &str = $msg;
                    assert_eq!(err.to_string(), msg);
                    assert_eq!(err.line(), $line, "line");
                    assert_eq!(err.option(), $option, "option");
                }
            )*
        };
    }

    const NAME_MSG: &str = "is not an instance name (use ASCII letters, digits, '_', '.' and '-')";
    const MISSING_NAME: &str =
        "names a type but no instance (write [TYPE:NAME], like [json:http:db1])";

    bad! {
        err_unknown_option: "[json:db]\nbufer size = 1 MiB" => 2, Some("bufer size"),
            "line 2: bufer size: unknown option (did you mean \"buffer size\"?)";
        err_unknown_option_global_section: "[exporting:global]\nupdate_every = 1" => 2,
            Some("update_every"),
            "line 2: update_every: unknown option (did you mean \"update every\"?)";
        err_unknown_option_far: "[json:db]\nopentsdb host tags = x" => 2,
            Some("opentsdb host tags"), "line 2: opentsdb host tags: unknown option";
        err_unknown_backhaul_option: "[backhaul]\nbind_to = 1.2.3.4" => 2, Some("bind_to"),
            "line 2: bind_to: unknown option (did you mean \"bind to\"?)";
        err_unknown_backhaul_option_far: "[backhaul]\nport = 1" => 2, Some("port"),
            "line 2: port: unknown option";
        err_bad_size_suffix: "[json:db]\nbuffer size = 4 MB" => 2, Some("buffer size"),
            "line 2: buffer size: \"4 MB\" is not a byte size (use a decimal number of bytes, \
             optionally followed by KiB, MiB or GiB, like 4 MiB)";
        err_bad_size_in_global: "[exporting:global]\nbuffer size = 0x400" => 2,
            Some("buffer size"),
            "line 2: buffer size: \"0x400\" is not a byte size (use a decimal number of bytes, \
             optionally followed by KiB, MiB or GiB, like 4 MiB)";
        err_size_too_big: "[json:db]\nbuffer size = 2 GiB" => 2, Some("buffer size"),
            "line 2: buffer size: \"2 GiB\" is out of range (use 1024 to 1073741824)";
        err_size_too_small: "[json:db]\nbuffer size = 1023" => 2, Some("buffer size"),
            "line 2: buffer size: \"1023\" is out of range (use 1024 to 1073741824)";
        err_duplicate_instance: "[graphite:db]\n\n[json:https:db]" => 3, Some("[json:https:db]"),
            "line 3: [json:https:db]: \"db\" is already the name of the instance on line 1";
        err_duplicate_disabled: "[graphite:db]\nenabled = no\n[graphite:db]" => 3,
            Some("[graphite:db]"),
            "line 3: [graphite:db]: \"db\" is already the name of the instance on line 1";
        err_duplicate_backend: "[backend]\nenabled = yes\n[json:backend]" => 3,
            Some("[json:backend]"),
            "line 3: [json:backend]: \"backend\" is already the name of the instance on line 1";
        err_backend_after_instance: "[json:backend]\n[backend]\nenabled = yes" => 2,
            Some("[backend]"),
            "line 2: [backend]: \"backend\" is already the name of the instance on line 1";
        err_unknown_type: "[graphit:db]" => 1, Some("[graphit:db]"),
            "line 1: [graphit:db]: \"graphit\" is not an instance type (did you mean \"graphite\"?)";
        err_unknown_type_case: "\n[ Graphite:db ]" => 2, Some("[ Graphite:db ]"),
            "line 2: [ Graphite:db ]: \"Graphite\" is not an instance type (did you mean \"graphite\"?)";
        err_unknown_transport: "[json:tls:db]" => 1, Some("[json:tls:db]"),
            "line 1: [json:tls:db]: \"json:tls\" is not an instance type (did you mean \"json:http\"?)";
        err_unknown_type_no_suggestion: "[mongodb:replica:x]" => 1, Some("[mongodb:replica:x]"),
            "line 1: [mongodb:replica:x]: \"mongodb:replica\" is not an instance type (use \
             graphite, graphite:http, graphite:https, opentsdb, opentsdb:http, opentsdb:https, \
             json, json:http, json:https, prometheus_remote_write, prometheus_remote_write:https, \
             kinesis or mongodb)";
        err_bad_name_space: "[graphite:my db]" => 1, Some("[graphite:my db]"),
            &format!("line 1: [graphite:my db]: \"my db\" {NAME_MSG}");
        err_bad_name_empty: "[graphite:]" => 1, Some("[graphite:]"),
            &format!("line 1: [graphite:]: \"\" {NAME_MSG}");
        err_bad_name_unicode: "[json:caf\u{e9}]" => 1, Some("[json:caf\u{e9}]"),
            &format!("line 1: [json:caf\u{e9}]: \"caf\u{e9}\" {NAME_MSG}");
        err_missing_name_http: "[opentsdb:http]" => 1, Some("[opentsdb:http]"),
            &format!("line 1: [opentsdb:http]: {MISSING_NAME}");
        err_missing_name_bare: "[graphite]" => 1, Some("[graphite]"),
            &format!("line 1: [graphite]: {MISSING_NAME}");
        err_missing_name_backend_word: "[graphite:plaintext]" => 1, Some("[graphite:plaintext]"),
            &format!("line 1: [graphite:plaintext]: {MISSING_NAME}");
        err_unknown_section_backhaul: "[backhual]" => 1, Some("[backhual]"),
            "line 1: [backhual]: unknown section (did you mean [backhaul]?)";
        err_unknown_section_exporting: "[exporting:globl]" => 1, Some("[exporting:globl]"),
            "line 1: [exporting:globl]: unknown section (did you mean [exporting:global]?)";
        err_unknown_section_exporting_other: "[exporting:graphite]" => 1,
            Some("[exporting:graphite]"), "line 1: [exporting:graphite]: unknown section";
        err_not_for_type: "[graphite:g]\nusername = u" => 2, Some("username"),
            "line 2: username: does not apply to type graphite (only to the HTTP and \
             HTTPS types)";
        err_stream_name_not_for_graphite: "[graphite:g]\nstream name = s" => 2,
            Some("stream name"),
            "line 2: stream name: does not apply to type graphite (only to kinesis)";
        err_collection_not_for_kinesis: "[kinesis:k]\ncollection = c" => 2, Some("collection"),
            "line 2: collection: does not apply to type kinesis (only to mongodb)";
        err_empty_collection: "[mongodb:m]\ncollection =" => 2, Some("collection"),
            "line 2: collection: must not be empty";
        err_tls_not_for_http: "[json:http:j]\nCA file = /ca" => 2, Some("CA file"),
            "line 2: CA file: does not apply to type json:http (only to the HTTPS types)";
        err_url_path_not_for_json: "[json:j]\nremote write URL path = /x" => 2,
            Some("remote write URL path"),
            "line 2: remote write URL path: does not apply to type json (only to the \
             prometheus_remote_write types)";
        err_password_conflict: "[json:https:j]\nusername = u\npassword file = /p\npassword = x"
            => 4, Some("password"),
            "line 4: password: cannot be set together with \"password file\" (set on line 3)";
        err_bearer_conflict: "[exporting:global]\nbearer token file = /t\n\
            [json:http:j]\nusername = u" => 4, Some("username"),
            "line 4: username: cannot be set together with \"bearer token file\" (set on line 2)";
        err_password_needs_user: "[json:http:j]\npassword = x" => 2, Some("password"),
            "line 2: password: needs \"username\" to be set too";
        err_key_needs_cert: "[prometheus_remote_write:https:p]\ndestination = h:1\nclient key = /k"
            => 3, Some("client key"), "line 3: client key: needs \"client certificate\" to be set too";
        err_cert_needs_key: "[json:https:p]\nclient certificate = /c" => 2,
            Some("client certificate"),
            "line 2: client certificate: needs \"client key\" to be set too";
        err_colon_in_user: "[json:http:j]\nusername = a:b" => 2, Some("username"),
            "line 2: username: must not hold ':'";
        err_empty_file: "[json:https:j]\nCA file =" => 2, Some("CA file"),
            "line 2: CA file: must not be empty";
        err_bind_to: "[backhaul]\nbind to = localhost:19999" => 2, Some("bind to"),
            "line 2: bind to: \"localhost:19999\" is not a listen address (use IPv4:PORT, \
             [IPv6]:PORT, an address alone for port 19999, or none)";
        err_bind_to_port_zero: "[backhaul]\nbind to = 0.0.0.0:0" => 2, Some("bind to"),
            "line 2: bind to: \"0.0.0.0:0\" is not a listen address (use IPv4:PORT, \
             [IPv6]:PORT, an address alone for port 19999, or none)";
        err_log_level: "[backhaul]\nlog level = verbose" => 2, Some("log level"),
            "line 2: log level: \"verbose\" is not a log level (use error, warn, info, debug or trace)";
        err_backhaul_duplicate: "[backhaul]\nlog level = info\n[backhaul]\nlog level = warn" => 4,
            Some("log level"), "line 4: log level: set more than once (first on line 2)";
        err_history: "[global]\nhistory = 4" => 2, Some("history"),
            "line 2: history: \"4\" is out of range (use 5 to 604800)";
        err_history_big: "[global]\nhistory = 604801" => 2, Some("history"),
            "line 2: history: \"604801\" is out of range (use 5 to 604800)";
        err_global_update_every: "[global]\nupdate every = 3601" => 2, Some("update every"),
            "line 2: update every: \"3601\" is out of range (use 1 to 3600)";
        err_global_duplicate: "[global]\nhostname = a\nhostname = b" => 3, Some("hostname"),
            "line 3: hostname: set more than once (first on line 2)";
        err_option_duplicate: "[json:j]\nprefix = a\nprefix = b" => 3, Some("prefix"),
            "line 3: prefix: set more than once (first on line 2)";
        err_exporting_duplicate: "[exporting:global]\nprefix = a\n[exporting:global]\nprefix = b"
            => 4, Some("prefix"), "line 4: prefix: set more than once (first on line 2)";
        err_instance_bool: "[json:j]\nenabled = 1" => 2, Some("enabled"),
            "line 2: enabled: \"1\" is not a boolean (use yes, true, on, auto or on demand; or no, \
             false or off)";
        err_empty_hostname: "[json:j]\nhostname =" => 2, Some("hostname"),
            "line 2: hostname: must not be empty";
        err_destination: "[json:j]\ndestination = a/b" => 2, Some("destination"),
            "line 2: destination: \"a/b\": '/' is only allowed in a unix: socket path";
        err_destination_default_for_remote_write: "\n[prometheus_remote_write:p]\nprefix = x" => 2,
            Some("destination"),
            "line 2: destination: \"localhost\": no port given, and this backend type has no \
             default port";
        err_destination_inherited: "[exporting:global]\ndestination = vm\n\
            [json:j]\n[prometheus_remote_write:p]" => 2, Some("destination"),
            "line 2: destination: \"vm\": no port given, and this backend type has no default port";
        err_destination_global_shape: "[exporting:global]\ndestination = ssl:h:1" => 2,
            Some("destination"),
            "line 2: destination: \"ssl:h:1\": unknown protocol (use tcp:, udp: or unix:)";
        err_region: "[kinesis:k]\ndestination = eu west" => 2, Some("destination"),
            "line 2: destination: \"eu west\" is not an AWS region (use letters, digits and '-', \
             like us-east-1)";
        err_syntax: "[json:j]\nprefix" => 2, None,
            "line 2: expected \"name = value\", \"[section]\" or a comment starting with # or ;";
        err_backend_first_in_line_order: "[backend]\nenabled = 1\n[global]\nhistory = 1" => 2,
            Some("enabled"),
            "line 2: enabled: \"1\" is not a boolean (use yes, true, on, auto or on demand; or no, \
             false or off)";
        err_defaults_first_in_line_order: "[global]\nhistory = 1\n[backend]\nenabled = 1" => 2,
            Some("history"), "line 2: history: \"1\" is out of range (use 5 to 604800)";
        err_defaults_before_instances: "[json:j]\nprefix = a\nprefix = b\n[global]\nhistory = 1"
            => 5, Some("history"), "line 5: history: \"1\" is out of range (use 5 to 604800)";
    }

    #[test]
    fn err_too_many_instances() {
        let mut text = String::new();
        for n in 0..MAX_INSTANCES {
            text.push_str(&format!("[json:i{n}]\nenabled = no\n"));
        }
        text.push_str("[graphite:last]\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 33: [graphite:last]: too many instances (at most 16, counting disabled ones \
             and an enabled [backend])"
        );
        assert_eq!(
            err.kind(),
            ConfigErrorKind::Daemon(DaemonErrorKind::TooManyInstances)
        );
        assert_eq!(err.value(), None);
        // An enabled [backend] takes a slot; a disabled one does not.
        let text = text.replace("[graphite:last]\n", "[backend]\nenabled = yes\n");
        assert_eq!(parse(&text).unwrap_err().line(), 33);
        let text = text.replace("enabled = yes", "enabled = no");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn error_kinds() {
        let kind = |text| parse(text).unwrap_err().kind();
        let d = ConfigErrorKind::Daemon;
        assert_eq!(
            kind("[a:b]\n[json:b]\n[json:b]"),
            d(DaemonErrorKind::DuplicateInstance { first_line: 2 })
        );
        assert_eq!(
            kind("[jsn:b]"),
            d(DaemonErrorKind::UnknownInstanceType {
                suggestion: Some("json")
            })
        );
        assert_eq!(
            kind("[graphite:https:h]\nusername = u\nbearer token file = /t"),
            d(DaemonErrorKind::Conflict {
                other: "username",
                other_line: 2
            })
        );
        let err = parse("[json:j]\nbuffer size = 9 TiB").unwrap_err();
        assert_eq!(err.value(), Some("9 TiB"));
    }
}

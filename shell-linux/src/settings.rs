//! From a configuration file and the command line to the daemon's [`Settings`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use backhaul_core::config::{DaemonConfig, DataSource, InstanceType};

use crate::codec::CodecSpec;
use crate::daemon::{DestinationSpec, HttpSpec, Settings};
use crate::net::{Target, TargetKind};
use crate::wire::Wire;

/// What the command line sets, over the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--print FORMAT`.
    pub print: Option<Wire>,
    /// `--bind ADDR` (`Some(None)` for `--bind none`).
    pub bind: Option<Option<SocketAddr>>,
    /// `--history N`.
    pub history: Option<usize>,
    /// `--hostname NAME`.
    pub hostname: Option<String>,
    /// `--synthetic-metrics N`.
    pub synthetic: usize,
}

/// The default pull-endpoint address.
pub const DEFAULT_BIND: &str = "127.0.0.1:19999";

/// This machine's host name (`/proc/sys/kernel/hostname`), or `localhost`.
pub fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn read(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        let text = String::from_utf8_lossy(e.as_bytes());
        let upto = e.utf8_error().valid_up_to();
        let line = text[..upto.min(text.len())].matches('\n').count() + 1;
        format!("{}:{line}: the file is not valid UTF-8", path.display())
    })
}

/// Checks a configuration file as `--check-config` does: `Ok` with a summary, or the
/// first error as `FILE:LINE: option: what is wrong`.
///
/// # Errors
///
/// The file cannot be read, is not UTF-8, or is not a valid configuration.
pub fn check_file(path: &Path) -> Result<String, String> {
    let text = read(path)?;
    let parsed = parse(&text, path, &machine_hostname())?;
    Ok(format!("{} destination(s)", parsed.destinations.len()))
}

/// The wire format and, for HTTP types, the request shape of an instance type. TLS
/// types are refused until this build speaks TLS.
fn wire_of(
    instance: &backhaul_core::config::InstanceConfig<'_>,
    host: &str,
) -> Result<(Wire, Option<HttpSpec>), String> {
    use backhaul_core::format::remote_write::{Collected, Options, RemoteWriteFormat, SeriesKind};
    use backhaul_core::window::Reduce;
    let t = instance.instance_type;
    let tls = match instance.http.as_ref().and_then(|h| h.tls.as_ref()) {
        Some(config) => {
            let options = crate::tls::TlsOptions::from_config(config);
            // Certificates and keys are checked now, so that --check-config reports them.
            crate::tls::client_config(&options)?;
            Some(options)
        }
        None => None,
    };
    let http = |path: &str, content_type: &str, headers: &str, body, snappy| {
        let mut basic = None;
        let mut bearer = None;
        if let Some(h) = &instance.http {
            if let Some(user) = h.username {
                let password = match (h.password, h.password_file) {
                    (Some(p), _) => p.expose().to_owned(),
                    (None, Some(file)) => std::fs::read_to_string(file)
                        .map_err(|e| format!("password file {file}: {e}"))?
                        .trim_end_matches(['\r', '\n'])
                        .to_owned(),
                    (None, None) => String::new(),
                };
                basic = Some(format!("{user}:{password}"));
            }
            bearer = h.bearer_token_file.map(PathBuf::from);
        }
        Ok::<_, String>(Some(HttpSpec {
            path: path.to_owned(),
            host: host.to_owned(),
            content_type: content_type.to_owned(),
            headers: headers.to_owned(),
            body,
            snappy,
            basic,
            bearer_token_file: bearer,
            tls: tls.clone(),
        }))
    };
    const LINES: (&[u8], &[u8], &[u8]) = (b"", b"", b"");
    const ARRAY: (&[u8], &[u8], &[u8]) = (b"[", b",", b"]");
    Ok(match t {
        InstanceType::Graphite => (Wire::Graphite, None),
        InstanceType::OpenTsdb => (Wire::OpenTsdb, None),
        InstanceType::Json => (Wire::Json, None),
        InstanceType::OpenTsdbHttp | InstanceType::OpenTsdbHttps => (
            Wire::OpenTsdbHttp,
            http("/api/put", "application/json", "", ARRAY, false)?,
        ),
        InstanceType::JsonHttp | InstanceType::JsonHttps => (
            Wire::Json,
            http("/api/put", "application/json", "", LINES, false)?,
        ),
        InstanceType::GraphiteHttp | InstanceType::GraphiteHttps => (
            Wire::Graphite,
            http("/api/put", "text/plain", "", LINES, false)?,
        ),
        InstanceType::PrometheusRemoteWrite | InstanceType::PrometheusRemoteWriteHttps => {
            let kind = match instance.data_source {
                DataSource::Average => SeriesKind::Stored(Reduce::Average),
                DataSource::Sum => SeriesKind::Stored(Reduce::Sum),
                _ => SeriesKind::Collected(Collected {
                    homogeneous: true,
                    counter: false,
                    subsec_millis: 0,
                }),
            };
            let format = RemoteWriteFormat {
                kind,
                options: Options::new(),
            };
            (
                Wire::RemoteWrite(format),
                http(
                    instance.remote_write_url_path,
                    "application/x-protobuf",
                    "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n",
                    LINES,
                    true,
                )?,
            )
        }
        other => {
            return Err(format!(
                "type {} is not supported by this build yet",
                other.as_str()
            ))
        }
    })
}

/// What a configuration file contributes to the settings.
struct Parsed {
    destinations: Vec<DestinationSpec>,
    hostname: Option<String>,
    history: usize,
    collect_every: u32,
    bind: Option<SocketAddr>,
    pull_prefix: String,
    pull_source: DataSource,
    pull_update_every: u32,
}

fn parse(text: &str, path: &Path, machine: &str) -> Result<Parsed, String> {
    let file = path.display().to_string();
    let config = DaemonConfig::parse(text).map_err(|e| e.display_with_file(&file).to_string())?;
    let global = config.global();
    let hostname = global.hostname.unwrap_or(machine);
    let mut destinations = Vec::new();
    for instance in config.instances() {
        let section = if instance.name == "backend" {
            "[backend]".to_owned()
        } else {
            format!("[{}:{}]", instance.instance_type.as_str(), instance.name)
        };
        let config_dir = path.parent().unwrap_or(Path::new("."));
        let codec_spec = match instance.instance_type {
            InstanceType::Kinesis => Some(
                crate::kinesis::load(instance, config_dir)
                    .map(|(targets, spec)| (targets, Wire::Json, CodecSpec::Kinesis(spec))),
            ),
            InstanceType::MongoDb => Some(
                crate::mongo::load(instance, config_dir)
                    .map(|(targets, spec)| (targets, Wire::Bson, CodecSpec::Mongo(spec))),
            ),
            _ => None,
        };
        let (targets, wire, http, codec) = if let Some(loaded) = codec_spec {
            let (targets, wire, codec) =
                loaded.map_err(|e| format!("{file}:{}: {section}: {e}", instance.line))?;
            (targets, wire, None, Some(codec))
        } else {
            let mut targets = Vec::new();
            if let Some(list) = instance.destinations() {
                for item in list {
                    let item = item.map_err(|e| {
                        format!("{file}:{}: {section} destination: {e}", instance.line)
                    })?;
                    targets.push(Target::from_destination(&item).map_err(|e| {
                        format!("{file}:{}: {section} destination: {e}", instance.line)
                    })?);
                }
            }
            if targets.is_empty() {
                return Err(format!(
                    "{file}:{}: {section}: no destination",
                    instance.line
                ));
            }
            let host_header = match &targets[0].kind {
                TargetKind::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
                TargetKind::Tcp { host, port } => format!("{host}:{port}"),
                TargetKind::Unix(_) => "localhost".to_owned(),
            };
            let (wire, http) = wire_of(instance, &host_header)
                .map_err(|e| format!("{file}:{}: {section}: {e}", instance.line))?;
            (targets, wire, http, None)
        };
        destinations.push(DestinationSpec {
            name: instance.name.to_owned(),
            wire,
            targets,
            prefix: instance.prefix.to_owned(),
            hostname: instance.hostname.unwrap_or(hostname).to_owned(),
            tags: instance.host_tags.to_owned(),
            data_source: instance.data_source,
            update_every: instance.update_every,
            buffer_size: instance.buffer_size as usize,
            timeout_ms: codec
                .as_ref()
                .map_or(instance.timeout_ms, |c| c.timeout_ms(instance.timeout_ms)),
            names: instance.send_names_instead_of_ids,
            charts: instance.send_charts_matching.to_owned(),
            http,
            codec,
        });
    }
    let backend = config.backend();
    Ok(Parsed {
        destinations,
        hostname: global.hostname.map(str::to_owned),
        history: global.history as usize,
        collect_every: global.update_every,
        bind: config.web().bind_to,
        pull_prefix: backend.prefix.to_owned(),
        pull_source: backend.data_source,
        pull_update_every: backend.update_every,
    })
}

/// Builds the daemon's settings: defaults, then the configuration file, then the command
/// line.
///
/// # Errors
///
/// The configuration file cannot be read or is invalid (the message names the file, the
/// line and the option).
pub fn load(overrides: &Overrides) -> Result<Settings, String> {
    let machine = machine_hostname();
    let parsed = match &overrides.config {
        Some(path) => Some(parse(&read(path)?, path, &machine)?),
        None => None,
    };
    let default_bind: SocketAddr = DEFAULT_BIND.parse().expect("a valid address");
    let hostname = overrides
        .hostname
        .clone()
        .or_else(|| parsed.as_ref().and_then(|p| p.hostname.clone()))
        .unwrap_or(machine);
    let mut settings = Settings {
        history: 3600,
        collect_every: 1,
        hostname: hostname.clone(),
        destinations: Vec::new(),
        print: overrides.print,
        bind: Some(default_bind),
        pull_prefix: "netdata".to_owned(),
        pull_source: DataSource::Average,
        pull_update_every: 10,
        synthetic: overrides.synthetic,
    };
    if let Some(p) = parsed {
        settings.history = p.history;
        settings.collect_every = p.collect_every;
        settings.bind = p.bind;
        settings.pull_prefix = p.pull_prefix;
        settings.pull_source = p.pull_source;
        settings.pull_update_every = p.pull_update_every;
        settings.destinations = p.destinations;
        if let Some(h) = &overrides.hostname {
            for d in &mut settings.destinations {
                d.hostname.clone_from(h);
            }
        }
    }
    if let Some(history) = overrides.history {
        settings.history = history;
    }
    if let Some(bind) = overrides.bind {
        settings.bind = bind;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_line_and_option() {
        let text = "[backend]\n    enabled = yes\n    update every = 0\n";
        let err = parse(text, Path::new("x.conf"), "h").err().unwrap();
        assert!(err.starts_with("x.conf:3: update every: "), "{err}");
    }

    #[test]
    fn the_backend_section_becomes_a_destination() {
        let text =
            "[backend]\n enabled = yes\n destination = 127.0.0.1:2003 localhost\n prefix = p\n";
        let specs = parse(text, Path::new("x.conf"), "h")
            .ok()
            .unwrap()
            .destinations;
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].targets.len(), 2);
        assert_eq!(specs[0].prefix, "p");
        assert_eq!(specs[0].hostname, "h");
        assert_eq!(specs[0].wire, Wire::Graphite);
    }
}

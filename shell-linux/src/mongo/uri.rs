//! `mongodb://` connection strings, as far as backhaul uses them.
//!
//! ```text
//! mongodb://HOST[:PORT][,HOST[:PORT]...][/[DATABASE][?OPTION=VALUE[&OPTION=VALUE...]]]
//! ```
//!
//! * Hosts are tried in order (the engine's failover). A port defaults to 27017; IPv6
//!   addresses are bracketed (`[::1]:27017`); a host that percent-decodes to an absolute
//!   path ending in `.sock` is a Unix socket (`%2Ftmp%2Fmongodb-27017.sock`).
//! * The database and option values are percent-decoded; option names are
//!   case-insensitive. Every option is listed in [`SUPPORTED`]; any other one is an error,
//!   so that nothing in a URI is silently ignored.
//! * Refused with a message saying why: `mongodb+srv://` (it needs DNS SRV and TXT
//!   lookups), credentials and authentication options (authentication is not
//!   implemented, and inserting unauthenticated instead would fail on every secured
//!   server), `w=0` (unacknowledged writes would hide every failure), options without
//!   the `/` that must precede them (as the drivers require).

use std::path::PathBuf;

use crate::tls::TlsOptions;

use super::{WriteConcern, W};

/// The default MongoDB port.
pub(crate) const DEFAULT_PORT: u16 = 27017;

/// The URI options backhaul understands (in the case MongoDB documents them).
pub(crate) const SUPPORTED: &str = "tls, ssl, tlsCAFile, tlsCertificateKeyFile, \
    tlsAllowInvalidCertificates, tlsInsecure, connectTimeoutMS, socketTimeoutMS, appName, \
    w, journal, wtimeoutMS, directConnection, replicaSet, retryWrites";

/// The longest `appName` MongoDB accepts, in bytes.
const MAX_APP_NAME: usize = 128;

/// One server of the host list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Host {
    /// A host name or IP address (IPv6 without brackets) and a port.
    Tcp {
        /// The name or address.
        host: String,
        /// The port.
        port: u16,
    },
    /// The path of a Unix socket.
    Unix(String),
}

impl Host {
    /// How the host is written in logs: `host:port`, `[v6]:port` or the path.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            Self::Tcp { host, port } => format!("{host}:{port}"),
            Self::Unix(path) => path.clone(),
        }
    }
}

/// What a connection string says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Uri {
    /// The servers, in order.
    pub(crate) hosts: Vec<Host>,
    /// The database of the path, if any.
    pub(crate) database: Option<String>,
    /// `tls=true` (or `ssl=true`) and the TLS options.
    pub(crate) tls: Option<TlsOptions>,
    /// `socketTimeoutMS`.
    pub(crate) socket_timeout_ms: Option<u64>,
    /// `connectTimeoutMS`.
    pub(crate) connect_timeout_ms: Option<u64>,
    /// `appName`.
    pub(crate) app_name: Option<String>,
    /// `w`, `journal`, `wtimeoutMS`.
    pub(crate) write_concern: Option<WriteConcern>,
}

/// Decodes `%XX` escapes.
fn percent_decode(text: &str, what: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{what}: a '%' that is not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{what}: percent-decodes to invalid UTF-8"))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("option {key}: {value:?} is not true or false")),
    }
}

fn parse_ms(key: &str, value: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "option {key}: {value:?} is not a number of milliseconds"
        ));
    }
    value
        .parse()
        .map_err(|_| format!("option {key}: {value:?} is too large"))
}

fn parse_host(item: &str) -> Result<Host, String> {
    if item.is_empty() {
        return Err("an empty host in the host list".to_owned());
    }
    let (host, port) = if let Some(rest) = item.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("host {item}: no ']' after the IPv6 address"))?;
        if host.is_empty() {
            return Err(format!("host {item}: an empty address in the brackets"));
        }
        // A zone is written `%25` (`[fe80::1%25eth0]`).
        let host = percent_decode(host, &format!("host {item}"))?;
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            return Err(format!("host {item}: not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(format!("host {item}: expected ':PORT' after ']'")),
            },
        };
        return Ok(Host::Tcp {
            host,
            port: parse_port(item, port)?,
        });
    } else {
        let decoded = percent_decode(item, &format!("host {item}"))?;
        if decoded.starts_with('/') {
            if !decoded.ends_with(".sock") {
                return Err(format!("host {item}: a Unix socket path must end in .sock"));
            }
            return Ok(Host::Unix(decoded));
        }
        match item.matches(':').count() {
            0 => (item, None),
            1 => {
                let (host, port) = item.split_once(':').unwrap_or((item, ""));
                (host, Some(port))
            }
            _ => {
                return Err(format!(
                    "host {item}: an IPv6 address must be in brackets ([::1]:27017)"
                ))
            }
        }
    };
    if host.is_empty() {
        return Err(format!("host {item}: no host name before the port"));
    }
    if let Some(bad) = host
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "/\\?#@%".contains(*c))
    {
        return Err(format!("host {item}: {bad:?} cannot be in a host name"));
    }
    Ok(Host::Tcp {
        host: host.to_owned(),
        port: parse_port(item, port)?,
    })
}

fn parse_port(item: &str, port: Option<&str>) -> Result<u16, String> {
    match port {
        None => Ok(DEFAULT_PORT),
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&n| n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("host {item}: {p:?} is not a port (1 to 65535)")),
    }
}

/// Checks a database name as MongoDB does (on every platform).
pub(crate) fn check_database(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an empty database name".to_owned());
    }
    if name.len() >= 64 {
        return Err(format!(
            "database name {name:?} is too long (at most 63 bytes)"
        ));
    }
    if let Some(bad) = name.chars().find(|c| "/\\. \"$\0*<>:|?".contains(*c)) {
        return Err(format!(
            "database name {name:?}: {bad:?} cannot be in a database name"
        ));
    }
    Ok(())
}

/// Parses a connection string.
///
/// # Errors
///
/// A message saying what is wrong and, where it helps, what to write instead. It never
/// repeats a password.
pub(crate) fn parse(text: &str) -> Result<Uri, String> {
    let lower = text.get(..14).unwrap_or(text).to_ascii_lowercase();
    if lower.starts_with("mongodb+srv://") {
        return Err(
            "mongodb+srv:// URIs need DNS SRV and TXT lookups, which backhaul does \
             not do: list the hosts instead (mongodb://host1:27017,host2:27017/)"
                .to_owned(),
        );
    }
    let rest = if lower.starts_with("mongodb://") {
        &text[10..]
    } else if let Some((scheme, _)) = text.split_once("://") {
        return Err(format!(
            "{scheme:?} is not a MongoDB URI scheme (use mongodb://HOST:PORT/)"
        ));
    } else {
        return Err(
            "not a MongoDB URI: it must start with mongodb:// (mongodb://HOST:PORT/)".into(),
        );
    };
    let (before_options, options) = match rest.split_once('?') {
        Some((b, o)) => (b, Some(o)),
        None => (rest, None),
    };
    // Credentials come before the hosts (user:password@host); the password is never
    // repeated, so nothing of this part goes into the message.
    if before_options.contains('@') {
        return Err(
            "credentials in the URI (user:password@): authentication is not \
             supported yet, and backhaul will not insert unauthenticated instead; \
             remove them, or use a server that accepts unauthenticated inserts"
                .to_owned(),
        );
    }
    let (hosts, database) = match before_options.split_once('/') {
        Some((h, d)) => (h, Some(d)),
        None if options.is_some() => {
            return Err(
                "a '/' is needed between the hosts and the options (mongodb://HOST/?OPTIONS)"
                    .to_owned(),
            )
        }
        None => (before_options, None),
    };
    if hosts.is_empty() {
        return Err("no host (mongodb://HOST:PORT/)".to_owned());
    }
    let mut uri = Uri {
        hosts: hosts.split(',').map(parse_host).collect::<Result<_, _>>()?,
        ..Uri::default()
    };
    if let Some(database) = database.filter(|d| !d.is_empty()) {
        let name = percent_decode(database, "the database")?;
        check_database(&name)?;
        uri.database = Some(name);
    }
    if let Some(options) = options {
        apply_options(&mut uri, options)?;
    }
    Ok(uri)
}

/// The options, as given.
#[derive(Default)]
struct Options {
    tls: Option<bool>,
    insecure: Option<bool>,
    ca_file: Option<String>,
    key_file: Option<String>,
    w: Option<W>,
    journal: Option<bool>,
    wtimeout: Option<u64>,
}

fn apply_options(uri: &mut Uri, text: &str) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    let mut o = Options::default();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair
            .split_once('=')
            .ok_or_else(|| format!("option {pair:?}: expected NAME=VALUE"))?;
        let key = percent_decode(raw_key, "an option name")?;
        let lower = key.to_ascii_lowercase();
        let value = percent_decode(raw_value, &format!("option {key}"))?;
        if seen.contains(&lower) {
            return Err(format!("option {key} is given twice"));
        }
        seen.push(lower.clone());
        let same = |old: &mut Option<bool>, new: bool, alias: &str| {
            if old.is_some_and(|b| b != new) {
                return Err(format!("option {key} contradicts {alias}"));
            }
            *old = Some(new);
            Ok(())
        };
        match lower.as_str() {
            "tls" | "ssl" => same(&mut o.tls, parse_bool(&key, &value)?, "tls/ssl")?,
            "tlsallowinvalidcertificates" | "tlsinsecure" => same(
                &mut o.insecure,
                parse_bool(&key, &value)?,
                "tlsAllowInvalidCertificates/tlsInsecure",
            )?,
            "tlscafile" => o.ca_file = Some(value),
            "tlscertificatekeyfile" => o.key_file = Some(value),
            "tlsallowinvalidhostnames" => {
                if parse_bool(&key, &value)? {
                    return Err(format!(
                        "option {key}=true is not supported: backhaul checks certificates \
                         and host names together (tlsAllowInvalidCertificates=true skips \
                         both)"
                    ));
                }
            }
            "tlscertificatekeyfilepassword" => {
                return Err(format!(
                    "option {key}: encrypted keys are not supported (give an unencrypted \
                     key in tlsCertificateKeyFile)"
                ))
            }
            "sockettimeoutms" => uri.socket_timeout_ms = Some(parse_ms(&key, &value)?),
            "connecttimeoutms" => uri.connect_timeout_ms = Some(parse_ms(&key, &value)?),
            "appname" => {
                if value.len() > MAX_APP_NAME {
                    return Err(format!("option {key}: longer than {MAX_APP_NAME} bytes"));
                }
                uri.app_name = Some(value);
            }
            "w" => {
                o.w = Some(
                    if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
                        match value.parse::<i32>() {
                            Ok(0) => {
                                return Err(format!(
                                    "option {key}=0 (unacknowledged writes) is not supported: \
                                 every failure would go unnoticed"
                                ))
                            }
                            Ok(n) => W::Number(n),
                            Err(_) => return Err(format!("option {key}: {value:?} is too large")),
                        }
                    } else if value.is_empty() {
                        return Err(format!("option {key}: empty"));
                    } else {
                        W::Tag(value)
                    },
                );
            }
            "journal" => o.journal = Some(parse_bool(&key, &value)?),
            "wtimeoutms" => o.wtimeout = Some(parse_ms(&key, &value)?),
            "directconnection" | "retrywrites" => {
                parse_bool(&key, &value)?;
            }
            "replicaset" => {
                if value.is_empty() {
                    return Err(format!("option {key}: empty"));
                }
            }
            "authsource" | "authmechanism" | "authmechanismproperties" => {
                return Err(format!(
                    "option {key}: authentication is not supported yet, and backhaul will \
                     not insert unauthenticated instead"
                ))
            }
            _ => {
                return Err(format!(
                    "unknown option {key} (backhaul supports {SUPPORTED})"
                ))
            }
        }
    }
    if o.tls == Some(true) {
        let key_file = o.key_file.map(PathBuf::from);
        uri.tls = Some(TlsOptions {
            ca_file: o.ca_file.map(PathBuf::from),
            client_certificate: key_file.clone(),
            client_key: key_file,
            skip_verification: o.insecure == Some(true),
        });
    } else {
        let needs_tls = [
            ("tlsCAFile", o.ca_file.is_some()),
            ("tlsCertificateKeyFile", o.key_file.is_some()),
            ("tlsAllowInvalidCertificates", o.insecure == Some(true)),
        ];
        if let Some((name, _)) = needs_tls.iter().find(|(_, set)| *set) {
            return Err(format!("option {name} needs tls=true"));
        }
    }
    if o.w.is_some() || o.journal.is_some() || o.wtimeout.is_some() {
        uri.write_concern = Some(WriteConcern {
            w: o.w,
            journal: o.journal,
            timeout_ms: o.wtimeout,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Host {
        Host::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn hosts_ports_and_database() {
        let uri = parse("mongodb://localhost").unwrap();
        assert_eq!(uri.hosts, [tcp("localhost", 27017)]);
        assert_eq!(uri.database, None);
        assert_eq!(uri.tls, None);

        let uri = parse("mongodb://a:1,b,[::1]:27018,[fe80::1%25eth0]/metrics").unwrap();
        assert_eq!(
            uri.hosts,
            [
                tcp("a", 1),
                tcp("b", 27017),
                tcp("::1", 27018),
                tcp("fe80::1%eth0", 27017)
            ]
        );
        assert_eq!(uri.hosts[2].text(), "[::1]:27018");
        assert_eq!(uri.hosts[0].text(), "a:1");
        assert_eq!(uri.database.as_deref(), Some("metrics"));

        let uri = parse("MongoDB://h/my%2Ddb?").unwrap();
        assert_eq!(uri.database.as_deref(), Some("my-db"));
        let uri = parse("mongodb://h/").unwrap();
        assert_eq!(uri.database, None);
        let uri = parse("mongodb://%2Ftmp%2Fmongodb-27017.sock/db").unwrap();
        assert_eq!(uri.hosts, [Host::Unix("/tmp/mongodb-27017.sock".into())]);
        assert_eq!(uri.database.as_deref(), Some("db"));
    }

    #[test]
    fn options() {
        let uri = parse(
            "mongodb://h/?tls=true&tlsCAFile=%2Fetc%2Fca.pem&socketTimeoutMS=2500\
             &CONNECTTIMEOUTMS=1000&appName=back%20haul&directConnection=true\
             &replicaSet=rs0&retryWrites=false",
        )
        .unwrap();
        assert_eq!(
            uri.tls,
            Some(TlsOptions {
                ca_file: Some("/etc/ca.pem".into()),
                ..TlsOptions::default()
            })
        );
        assert_eq!(uri.socket_timeout_ms, Some(2500));
        assert_eq!(uri.connect_timeout_ms, Some(1000));
        assert_eq!(uri.app_name.as_deref(), Some("back haul"));
        assert_eq!(uri.write_concern, None);

        let uri = parse("mongodb://h/?ssl=true&tlsInsecure=true").unwrap();
        assert!(uri.tls.unwrap().skip_verification);
        let uri = parse("mongodb://h/?tls=true&tlsAllowInvalidCertificates=true").unwrap();
        assert!(uri.tls.unwrap().skip_verification);
        let uri = parse("mongodb://h/?tls=true&tlsCertificateKeyFile=/k.pem").unwrap();
        let tls = uri.tls.unwrap();
        assert_eq!(tls.client_certificate, Some("/k.pem".into()));
        assert_eq!(tls.client_key, Some("/k.pem".into()));
        assert!(!tls.skip_verification);
        let uri = parse("mongodb://h/?tls=false&ssl=false&tlsAllowInvalidHostnames=false").unwrap();
        assert_eq!(uri.tls, None);

        let uri = parse("mongodb://h/?w=majority&journal=true&wtimeoutMS=100").unwrap();
        assert_eq!(
            uri.write_concern,
            Some(WriteConcern {
                w: Some(W::Tag("majority".into())),
                journal: Some(true),
                timeout_ms: Some(100)
            })
        );
        let uri = parse("mongodb://h/?w=2").unwrap();
        assert_eq!(uri.write_concern.unwrap().w, Some(W::Number(2)));
    }

    macro_rules! bad {
        ($($name:ident: $uri:expr => $message:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    let err = parse($uri).unwrap_err();
                    assert!(err.contains($message), "{}: {err}", $uri);
                    assert!(!err.contains("hunter2"), "{err}");
                }
            )*
        };
    }

    bad! {
        bad_srv: "mongodb+srv://cluster0.example.net/" => "DNS SRV";
        bad_srv_upper: "MONGODB+SRV://c/" => "DNS SRV";
        bad_scheme: "postgres://h/" => "\"postgres\" is not a MongoDB URI scheme";
        bad_no_scheme: "localhost:27017" => "must start with mongodb://";
        bad_empty: "" => "must start with mongodb://";
        bad_credentials: "mongodb://user:hunter2@h/" => "authentication is not supported";
        bad_credentials_slash: "mongodb://user:hun/ter2@h/" => "credentials";
        bad_user_only: "mongodb://user@h/" => "credentials";
        bad_auth_source: "mongodb://h/?authSource=admin" => "authentication";
        bad_mechanism: "mongodb://h/?authMechanism=SCRAM-SHA-256" => "authentication";
        bad_no_host: "mongodb:///db" => "no host";
        bad_empty_host: "mongodb://a,,b/" => "an empty host";
        bad_port_word: "mongodb://h:http/" => "\"http\" is not a port";
        bad_port_zero: "mongodb://h:0/" => "\"0\" is not a port";
        bad_port_big: "mongodb://h:65536/" => "\"65536\" is not a port";
        bad_port_sign: "mongodb://h:+1/" => "is not a port";
        bad_port_empty: "mongodb://h:/" => "\"\" is not a port";
        bad_bare_v6: "mongodb://::1/" => "must be in brackets";
        bad_bracket: "mongodb://[::1/" => "no ']'";
        bad_after_bracket: "mongodb://[::1]x/" => "expected ':PORT'";
        bad_empty_bracket: "mongodb://[]:1/" => "empty address";
        bad_no_host_name: "mongodb://:27017/" => "no host name";
        bad_space: "mongodb://a b/" => "cannot be in a host name";
        bad_socket: "mongodb://%2Ftmp%2Fx/" => "must end in .sock";
        bad_options_without_slash: "mongodb://h?tls=true" => "a '/' is needed";
        bad_database_dot: "mongodb://h/a.b" => "'.' cannot be in a database name";
        bad_database_long: &format!("mongodb://h/{}", "d".repeat(64)) => "too long";
        bad_percent: "mongodb://h/a%zz" => "two hex digits";
        bad_percent_end: "mongodb://h/a%2" => "two hex digits";
        bad_utf8: "mongodb://h/a%ff" => "invalid UTF-8";
        bad_unknown: "mongodb://h/?readPreference=secondary" => "unknown option readPreference";
        bad_no_value: "mongodb://h/?tls" => "expected NAME=VALUE";
        bad_twice: "mongodb://h/?tls=true&TLS=true" => "given twice";
        bad_contradiction: "mongodb://h/?tls=true&ssl=false" => "contradicts";
        bad_bool: "mongodb://h/?tls=yes" => "\"yes\" is not true or false";
        bad_ca_without_tls: "mongodb://h/?tlsCAFile=/ca.pem" => "tlsCAFile needs tls=true";
        bad_insecure_without_tls: "mongodb://h/?tlsInsecure=true" => "needs tls=true";
        bad_hostnames: "mongodb://h/?tls=true&tlsAllowInvalidHostnames=true" => "not supported";
        bad_key_password: "mongodb://h/?tlsCertificateKeyFilePassword=hunter2" => "encrypted";
        bad_timeout: "mongodb://h/?socketTimeoutMS=-1" => "not a number of milliseconds";
        bad_timeout_huge: "mongodb://h/?connectTimeoutMS=99999999999999999999" => "too large";
        bad_w_zero: "mongodb://h/?w=0" => "unacknowledged";
        bad_w_empty: "mongodb://h/?w=" => "empty";
        bad_app_name: &format!("mongodb://h/?appName={}", "a".repeat(129)) => "128 bytes";
    }
}

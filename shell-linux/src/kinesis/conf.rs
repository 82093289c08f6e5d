//! Loading a Kinesis destination: `aws_kinesis.conf`, the AWS environment variables and
//! the endpoint.
//!
//! * **Stream and credentials** come from the section's own `stream name`,
//!   `aws_access_key_id` and `aws_secret_access_key` options when it sets them, else from
//!   `aws_kinesis.conf` in the configuration file's directory, netdata's file (spec
//!   §5.2). The file must exist when the section has no `stream name`; it is read, if it
//!   exists, when the section has no keys; it is not read at all when the section has
//!   everything. Its grammar: lines are trimmed, empty lines and lines
//!   starting with `#` are skipped, every other line is `name = value` with the name and
//!   value trimmed and one pair of surrounding quotes (`"` or `'`) stripped from the
//!   value. The names are `aws_access_key_id`, `aws_secret_access_key` and `stream name`.
//!   netdata logs and skips a line without `=` or with an unknown name; backhaul refuses
//!   the file, naming the line (a typo must not silently change where the credentials
//!   come from).
//! * **Credentials**: both keys from the section, else both from the file, or, when the
//!   file leaves both empty (or is absent), the standard variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//!   `AWS_SESSION_TOKEN` (netdata hands empty keys to the AWS SDK's default chain; the
//!   chain's other sources, profiles and instance metadata, are not read). One key
//!   without the other, or none anywhere, is an error.
//! * **Endpoint**: `https://kinesis.REGION.amazonaws.com` (`.amazonaws.com.cn` for the
//!   `cn-` regions), where REGION is the instance's `destination`; the standard variables
//!   `AWS_ENDPOINT_URL_KINESIS`, then `AWS_ENDPOINT_URL`, replace it (unless
//!   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`): `http://HOST[:PORT]` is plain
//!   HTTP, `https://HOST[:PORT]` is TLS verified against the system's authorities, or
//!   the PEM file named by `AWS_CA_BUNDLE`.
//!
//! The environment is read through a lookup function, so that tests give their own.

use std::path::Path;

use backhaul_core::config::InstanceConfig;

use super::sigv4::Credentials;
use super::KinesisSpec;
use crate::net::{Target, TargetKind};
use crate::tls::TlsOptions;

/// The file with the stream name and the credentials, in the configuration's directory.
pub const CONF_FILE: &str = "aws_kinesis.conf";

/// What `aws_kinesis.conf` sets (empty when it does not).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConfFile {
    /// `aws_access_key_id`.
    pub access_key_id: String,
    /// `aws_secret_access_key`.
    pub secret_access_key: String,
    /// `stream name`.
    pub stream: String,
}

impl std::fmt::Debug for ConfFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfFile")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("stream", &self.stream)
            .finish()
    }
}

/// Parses the text of `aws_kinesis.conf`; `file` names it in errors. A later line
/// setting the same name wins, as in netdata. Missing names stay empty: what is
/// mandatory is checked by [`load_with`].
///
/// # Errors
///
/// `FILE:LINE: …` for a line without `=` or with an unknown name. Values are never
/// quoted in a message (they may be secrets).
pub fn parse_conf(text: &str, file: &str) -> Result<ConfFile, String> {
    let mut conf = ConfFile::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!(
                "{file}:{}: not a `name = value` line (no `=`)",
                n + 1
            ));
        };
        let value = unquote(value.trim());
        let slot = match name.trim() {
            "aws_access_key_id" => &mut conf.access_key_id,
            "aws_secret_access_key" => &mut conf.secret_access_key,
            "stream name" => &mut conf.stream,
            other => {
                return Err(format!(
                    "{file}:{}: unknown option {other:?} (expected aws_access_key_id, \
                     aws_secret_access_key or stream name)",
                    n + 1
                ))
            }
        };
        value.clone_into(slot);
    }
    Ok(conf)
}

/// Strips one pair of matching surrounding quotes.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// A Kinesis stream name as AWS allows it: 1 to 128 of `a-zA-Z0-9_.-`.
fn valid_stream(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// An AWS region name: lower-case letters, digits and `-`.
fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Where requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL, for the log.
    pub url: String,
    /// `https`.
    pub tls: bool,
    /// Host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// The endpoint of a region: `https://kinesis.REGION.amazonaws.com`.
    pub fn for_region(region: &str) -> Self {
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let host = format!("kinesis.{region}.{domain}");
        Self {
            url: format!("https://{host}"),
            tls: true,
            host,
            port: 443,
        }
    }

    /// Parses `http://HOST[:PORT][/]` or `https://HOST[:PORT][/]`; `HOST` may be a
    /// bracketed IPv6 address.
    ///
    /// # Errors
    ///
    /// Another scheme, no host, a bad port, user information, a path, query or fragment.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        let (tls, rest) = if lower.starts_with("https://") {
            (true, &url["https://".len()..])
        } else if lower.starts_with("http://") {
            (false, &url["http://".len()..])
        } else {
            return Err(format!("{url:?}: not an http:// or https:// URL"));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if !tail.is_empty() && tail != "/" {
            return Err(format!(
                "{url:?}: a path, query or fragment is not supported (only SCHEME://HOST[:PORT])"
            ));
        }
        if authority.contains('@') {
            return Err(format!("{url:?}: user information is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return Err(format!("{url:?}: no `]` after the IPv6 address"));
            };
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("{url:?}: junk after the IPv6 address")),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() || (host.contains([':', '[', ']', ' ']) && !authority.starts_with('[')) {
            return Err(format!("{url:?}: no valid host"));
        }
        let port = match port {
            None => {
                if tls {
                    443
                } else {
                    80
                }
            }
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("{url:?}: bad port {p:?}"))?,
        };
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            tls,
            host: host.to_owned(),
            port,
        })
    }

    /// The `Host` header: the host (IPv6 in brackets), with `:PORT` unless it is the
    /// scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The connection target.
    pub fn target(&self) -> Target {
        Target {
            text: self.url.clone(),
            kind: TargetKind::Tcp {
                host: self.host.clone(),
                port: self.port.to_string(),
            },
        }
    }
}

/// A set, non-empty environment variable.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// The endpoint: from the environment, else the region's.
///
/// # Errors
///
/// A variable that is set to something that is not a usable URL (named in the message).
pub fn endpoint(region: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint, String> {
    let ignore = var(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if !ignore {
        for name in ["AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL"] {
            if let Some(url) = var(env, name) {
                return Endpoint::parse(&url).map_err(|e| format!("{name}: {e}"));
            }
        }
    }
    Ok(Endpoint::for_region(region))
}

/// The credentials: the section's pair, else the file's (when it was read), else the
/// environment's.
fn credentials(
    instance: &InstanceConfig<'_>,
    conf: Option<&ConfFile>,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, String> {
    match (instance.aws_access_key_id, instance.aws_secret_access_key) {
        (Some(id), Some(secret)) => {
            return Ok(Credentials {
                access_key_id: id.to_owned(),
                secret_access_key: secret.expose().to_owned(),
                session_token: None,
            })
        }
        (Some(_), None) => {
            return Err("aws_access_key_id is set but aws_secret_access_key is not".to_owned())
        }
        (None, Some(_)) => {
            return Err("aws_secret_access_key is set but aws_access_key_id is not".to_owned())
        }
        (None, None) => {}
    }
    if let Some(conf) = conf {
        match (
            conf.access_key_id.is_empty(),
            conf.secret_access_key.is_empty(),
        ) {
            (false, false) => {
                return Ok(Credentials {
                    access_key_id: conf.access_key_id.clone(),
                    secret_access_key: conf.secret_access_key.clone(),
                    session_token: None,
                })
            }
            (false, true) => {
                return Err(format!(
                    "{file}: aws_access_key_id is set but aws_secret_access_key is empty"
                ))
            }
            (true, false) => {
                return Err(format!(
                    "{file}: aws_secret_access_key is set but aws_access_key_id is empty"
                ))
            }
            (true, true) => {}
        }
    }
    match (
        var(env, "AWS_ACCESS_KEY_ID"),
        var(env, "AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Ok(Credentials {
            access_key_id: id.trim().to_owned(),
            secret_access_key: secret.trim().to_owned(),
            session_token: var(env, "AWS_SESSION_TOKEN").map(|t| t.trim().to_owned()),
        }),
        (Some(_), None) => {
            Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".to_owned())
        }
        (None, Some(_)) => {
            Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".to_owned())
        }
        (None, None) => Err(format!(
            "no AWS credentials: neither the section nor {file} sets aws_access_key_id and \
             aws_secret_access_key, and AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not \
             in the environment"
        )),
    }
}

/// Reads and parses `aws_kinesis.conf`; `Ok(None)` when it does not exist and is not
/// `required`.
fn read_conf(path: &Path, file: &str, required: bool) -> Result<Option<ConfFile>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{file}: cannot read: {e}")),
    };
    let text = String::from_utf8(bytes).map_err(|_| format!("{file}: not valid UTF-8"))?;
    parse_conf(&text, file).map(Some)
}

/// [`super::load`] with the environment given as a lookup function.
///
/// # Errors
///
/// A message naming the file, option or variable that is wrong.
pub fn load_with(
    instance: &InstanceConfig<'_>,
    config_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<Target>, KinesisSpec), String> {
    let region = instance.region().unwrap_or(instance.destination).trim();
    if !valid_region(region) {
        return Err(format!(
            "destination: {region:?} is not an AWS region (for kinesis, destination is the \
             region, e.g. us-east-1)"
        ));
    }
    let path = config_dir.join(CONF_FILE);
    let file = path.display().to_string();
    // The section's own options come first; the file is needed for a stream name the
    // section does not give, and read (if it is there) for keys it does not give.
    let keys_in_section =
        instance.aws_access_key_id.is_some() || instance.aws_secret_access_key.is_some();
    let conf = match (instance.stream_name, keys_in_section) {
        (Some(_), true) => None,
        (Some(_), false) => read_conf(&path, &file, false)?,
        (None, _) => read_conf(&path, &file, true)?,
    };
    let (stream, origin) = match (instance.stream_name, &conf) {
        (Some(stream), _) => (stream, "stream name".to_owned()),
        (None, Some(conf)) if !conf.stream.is_empty() => {
            (conf.stream.as_str(), format!("{file}: stream name"))
        }
        _ => {
            return Err(format!(
                "{file}: stream name is missing or empty (and the section does not set it)"
            ))
        }
    };
    if !valid_stream(stream) {
        return Err(format!(
            "{origin} {stream:?}: a stream name is 1 to 128 letters, digits, `_`, `.` or `-`"
        ));
    }
    let stream = stream.to_owned();
    let credentials = credentials(instance, conf.as_ref(), &file, env)?;
    let endpoint = endpoint(region, env)?;
    let tls = if endpoint.tls {
        let options = TlsOptions {
            ca_file: var(env, "AWS_CA_BUNDLE").map(Into::into),
            ..TlsOptions::default()
        };
        // Checked now, so that --check-config reports an unusable CA bundle.
        crate::tls::client_config(&options).map_err(|e| match &options.ca_file {
            Some(_) => format!("AWS_CA_BUNDLE: {e}"),
            None => e,
        })?;
        Some(options)
    } else {
        None
    };
    let spec = KinesisSpec {
        tls,
        region: region.to_owned(),
        stream,
        host_header: endpoint.host_header(),
        credentials,
    };
    Ok((vec![endpoint.target()], spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use backhaul_core::config::DaemonConfig;
    use std::collections::HashMap;

    #[test]
    fn the_file_grammar() {
        let text = "# AWS credentials\n\
                    \n   aws_access_key_id = AKIA123  \n\
                    aws_secret_access_key=\"se=cr'et\"\n\
                    \t# destination stream\n\
                    stream name = 'netdata'\n\
                    stream name = \"s2\"\n";
        let conf = parse_conf(text, "f").unwrap();
        assert_eq!(conf.access_key_id, "AKIA123");
        assert_eq!(conf.secret_access_key, "se=cr'et");
        assert_eq!(conf.stream, "s2", "the last one wins");
        // Only one pair, and only matching ones.
        let conf = parse_conf("stream name = \"'x'\"\naws_access_key_id = \"y'", "f").unwrap();
        assert_eq!(
            (conf.stream.as_str(), conf.access_key_id.as_str()),
            ("'x'", "\"y'")
        );
        assert_eq!(parse_conf("", "f").unwrap(), ConfFile::default());
        assert_eq!(
            parse_conf("stream name =\n", "f").unwrap().stream,
            "",
            "an empty value"
        );
    }

    #[test]
    fn bad_lines_are_named_without_their_values() {
        let err =
            parse_conf("# x\naws_secret_access_key hunter2\n", "d/aws_kinesis.conf").unwrap_err();
        assert_eq!(
            err,
            "d/aws_kinesis.conf:2: not a `name = value` line (no `=`)"
        );
        let err = parse_conf("\n\nstream_name = s\n", "f").unwrap_err();
        assert!(
            err.starts_with("f:3: unknown option \"stream_name\""),
            "{err}"
        );
        assert!(!parse_conf("aws secret = hunter2", "f")
            .unwrap_err()
            .contains("hunter2"));
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            (e.tls, e.host.as_str(), e.port, e.host_header()),
            (false, "127.0.0.1", 5000, "127.0.0.1:5000".to_owned())
        );
        let e = Endpoint::parse("HTTPS://kinesis.example/").unwrap();
        assert_eq!(
            (
                e.tls,
                e.host.as_str(),
                e.port,
                e.host_header(),
                e.url.as_str()
            ),
            (
                true,
                "kinesis.example",
                443,
                "kinesis.example".to_owned(),
                "HTTPS://kinesis.example"
            )
        );
        let e = Endpoint::parse("https://[::1]:8443").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 8443));
        assert_eq!(e.host_header(), "[::1]:8443");
        assert_eq!(
            e.target().kind,
            TargetKind::Tcp {
                host: "::1".into(),
                port: "8443".into()
            }
        );
        let e = Endpoint::parse("http://[fe80::1]").unwrap();
        assert_eq!((e.port, e.host_header()), (80, "[fe80::1]".to_owned()));
        assert_eq!(Endpoint::parse("http://h:80").unwrap().host_header(), "h");
        for bad in [
            "ftp://h",
            "h:5000",
            "http://",
            "http://:80",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://h/path",
            "http://h?q",
            "http://u:p@h",
            "http://[::1",
            "http://[::1]x",
            "http://a:b:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        let e = Endpoint::for_region("eu-west-1");
        assert_eq!(e.url, "https://kinesis.eu-west-1.amazonaws.com");
        assert_eq!(e.host_header(), "kinesis.eu-west-1.amazonaws.com");
        assert_eq!(
            Endpoint::for_region("cn-north-1").host,
            "kinesis.cn-north-1.amazonaws.com.cn"
        );
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn endpoint_variables() {
        let region = |pairs: &[(&str, &str)]| endpoint("us-east-1", &env_of(pairs));
        assert_eq!(
            region(&[]).unwrap().url,
            "https://kinesis.us-east-1.amazonaws.com"
        );
        assert_eq!(
            region(&[("AWS_ENDPOINT_URL", "http://a:1")]).unwrap().url,
            "http://a:1"
        );
        assert_eq!(
            region(&[
                ("AWS_ENDPOINT_URL", "http://a:1"),
                ("AWS_ENDPOINT_URL_KINESIS", "http://b:2")
            ])
            .unwrap()
            .url,
            "http://b:2"
        );
        assert_eq!(
            region(&[
                ("AWS_ENDPOINT_URL_KINESIS", " "),
                ("AWS_ENDPOINT_URL", "http://a:1")
            ])
            .unwrap()
            .url,
            "http://a:1",
            "an empty variable is unset"
        );
        assert_eq!(
            region(&[
                ("AWS_ENDPOINT_URL", "http://a:1"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
            ])
            .unwrap()
            .port,
            443
        );
        let err = region(&[("AWS_ENDPOINT_URL_KINESIS", "localhost:4566")]).unwrap_err();
        assert!(err.starts_with("AWS_ENDPOINT_URL_KINESIS: "), "{err}");
    }

    /// A directory with `aws_kinesis.conf` holding `text`, removed on drop.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn with(text: Option<&str>) -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "backhaul-kinesis-conf-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            if let Some(text) = text {
                std::fs::write(dir.join(CONF_FILE), text).unwrap();
            }
            Self(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn load_text(
        config: &str,
        file: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<(Vec<Target>, KinesisSpec), String> {
        let dir = Dir::with(file);
        let config = DaemonConfig::parse(config).unwrap();
        let instance = config.instances().next().unwrap();
        load_with(instance, &dir.0, &env_of(env)).map_err(|e| {
            // Paths are the test's own temporary directory: drop it from messages.
            e.replace(&format!("{}/", dir.0.display()), "")
        })
    }

    const SECTION: &str = "[kinesis:k]\n destination = eu-west-1\n";
    const FILE: &str =
        "aws_access_key_id = AKIAFILE\naws_secret_access_key = s3cr3t\nstream name = st\n";

    #[test]
    fn load_from_the_file() {
        let (targets, spec) = load_text(SECTION, Some(FILE), &[]).unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].text, "https://kinesis.eu-west-1.amazonaws.com");
        assert_eq!(
            targets[0].kind,
            TargetKind::Tcp {
                host: "kinesis.eu-west-1.amazonaws.com".into(),
                port: "443".into()
            }
        );
        assert_eq!(spec.region, "eu-west-1");
        assert_eq!(spec.stream, "st");
        assert_eq!(spec.host_header, "kinesis.eu-west-1.amazonaws.com");
        assert_eq!(spec.tls, Some(TlsOptions::default()));
        assert_eq!(spec.credentials.access_key_id, "AKIAFILE");
        assert_eq!(spec.credentials.secret_access_key, "s3cr3t");
        assert_eq!(spec.credentials.session_token, None);
        assert!(!format!("{spec:?}").contains("s3cr3t"));
        // The file's keys win over the environment's.
        let env = [
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "tok"),
            ("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:4567"),
        ];
        let (targets, spec) = load_text(SECTION, Some(FILE), &env).unwrap();
        assert_eq!(spec.credentials.access_key_id, "AKIAFILE");
        assert_eq!(spec.credentials.session_token, None);
        assert_eq!(spec.tls, None);
        assert_eq!(spec.host_header, "127.0.0.1:4567");
        assert_eq!(targets[0].text, "http://127.0.0.1:4567");
    }

    #[test]
    fn env_fallback() {
        let file = "aws_access_key_id =\naws_secret_access_key = ''\nstream name = st\n";
        let env = [
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "tok"),
        ];
        let (_, spec) = load_text(SECTION, Some(file), &env).unwrap();
        assert_eq!(spec.credentials.access_key_id, "AKIAENV");
        assert_eq!(spec.credentials.secret_access_key, "envsecret");
        assert_eq!(spec.credentials.session_token.as_deref(), Some("tok"));
        // Keys missing from the file altogether count as empty.
        let (_, spec) = load_text(SECTION, Some("stream name = st"), &env[..2]).unwrap();
        assert_eq!(spec.credentials.access_key_id, "AKIAENV");
        assert_eq!(spec.credentials.session_token, None);
        let err = load_text(SECTION, Some(file), &env[..1]).unwrap_err();
        assert_eq!(
            err,
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
        );
        let err = load_text(SECTION, Some(file), &env[1..2]).unwrap_err();
        assert_eq!(
            err,
            "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
        );
        let err = load_text(SECTION, Some(file), &[]).unwrap_err();
        assert!(
            err.starts_with("no AWS credentials: neither the section nor aws_kinesis.conf sets"),
            "{err}"
        );
    }

    #[test]
    fn the_section_options_come_first() {
        let env = [
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ];
        let full = "[kinesis:k]\n destination = eu-west-1\n stream name = own\n \
                    aws_access_key_id = AKIASECTION\n aws_secret_access_key = sectionsecret\n";
        // Everything in the section: the file is not read, even a broken one, nor needed.
        for file in [None, Some("broken"), Some(FILE)] {
            let (_, spec) = load_text(full, file, &env).unwrap();
            assert_eq!(spec.stream, "own");
            assert_eq!(spec.credentials.access_key_id, "AKIASECTION");
            assert_eq!(spec.credentials.secret_access_key, "sectionsecret");
        }
        // A stream name in the section, keys from the file, else from the environment.
        let stream_only = "[kinesis:k]\n destination = eu-west-1\n stream name = own\n";
        let (_, spec) = load_text(stream_only, Some(FILE), &env).unwrap();
        assert_eq!(
            (
                spec.stream.as_str(),
                spec.credentials.access_key_id.as_str()
            ),
            ("own", "AKIAFILE")
        );
        let (_, spec) = load_text(stream_only, None, &env).unwrap();
        assert_eq!(spec.credentials.access_key_id, "AKIAENV");
        let err = load_text(stream_only, Some("x"), &env).unwrap_err();
        assert_eq!(
            err,
            "aws_kinesis.conf:1: not a `name = value` line (no `=`)"
        );
        // Keys in the section, the stream name from the file.
        let keys_only =
            "[kinesis:k]\n destination = eu-west-1\n aws_access_key_id = AKIASECTION\n \
                         aws_secret_access_key = sectionsecret\n";
        let (_, spec) = load_text(keys_only, Some(FILE), &env).unwrap();
        assert_eq!(
            (
                spec.stream.as_str(),
                spec.credentials.access_key_id.as_str()
            ),
            ("st", "AKIASECTION")
        );
        // Half a pair in the section is an error, whatever else there is.
        let half = "[kinesis:k]\n stream name = s\n aws_access_key_id = AKIASECTION\n";
        assert_eq!(
            load_text(half, Some(FILE), &env).unwrap_err(),
            "aws_access_key_id is set but aws_secret_access_key is not"
        );
        let half = "[kinesis:k]\n stream name = s\n aws_secret_access_key = x\n";
        assert_eq!(
            load_text(half, Some(FILE), &env).unwrap_err(),
            "aws_secret_access_key is set but aws_access_key_id is not"
        );
        let bad = "[kinesis:k]\n stream name = a/b\n";
        let err = load_text(bad, Some(FILE), &env).unwrap_err();
        assert!(
            err.starts_with("stream name \"a/b\": a stream name is"),
            "{err}"
        );
    }

    #[test]
    fn load_errors() {
        let err = load_text(SECTION, None, &[]).unwrap_err();
        assert!(err.starts_with("aws_kinesis.conf: cannot read: "), "{err}");
        let err = load_text(SECTION, Some("aws_access_key_id = A\n"), &[]).unwrap_err();
        assert_eq!(
            err,
            "aws_kinesis.conf: stream name is missing or empty (and the section does not set it)"
        );
        let err = load_text(SECTION, Some("stream name = a b\n"), &[]).unwrap_err();
        assert!(
            err.starts_with("aws_kinesis.conf: stream name \"a b\": "),
            "{err}"
        );
        let err =
            load_text(SECTION, Some("stream name = s\naws_access_key_id = A"), &[]).unwrap_err();
        assert_eq!(
            err,
            "aws_kinesis.conf: aws_access_key_id is set but aws_secret_access_key is empty"
        );
        let err = load_text(
            SECTION,
            Some("stream name = s\naws_secret_access_key = x"),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err,
            "aws_kinesis.conf: aws_secret_access_key is set but aws_access_key_id is empty"
        );
        let err = load_text(SECTION, Some("stream name = s\nx"), &[]).unwrap_err();
        assert_eq!(
            err,
            "aws_kinesis.conf:2: not a `name = value` line (no `=`)"
        );
        // Core accepts letters, digits and `-`; AWS's region names are lower case.
        let err =
            load_text("[kinesis:k]\n destination = US-EAST-1\n", Some(FILE), &[]).unwrap_err();
        assert!(
            err.starts_with("destination: \"US-EAST-1\" is not an AWS region"),
            "{err}"
        );
        let err = load_text(
            SECTION,
            Some(FILE),
            &[
                ("AWS_ENDPOINT_URL", "https://h"),
                ("AWS_CA_BUNDLE", "/nonexistent/ca.pem"),
            ],
        )
        .unwrap_err();
        assert!(err.starts_with("AWS_CA_BUNDLE: "), "{err}");
    }
}

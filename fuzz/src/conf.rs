//! Configuration texts for the config targets: either any string, or lines built from
//! backhaul's and netdata's section and option names and from values near the edges of
//! what each option accepts, so that the fuzzer spends its time past the lexer.

use arbitrary::Arbitrary;
use backhaul_core::config::{
    BackendConfig, ConfigError, GlobalConfig, InstanceConfig, InstanceType, WebConfig,
};

use crate::Text;

/// A configuration text.
#[derive(Arbitrary, Debug, Clone)]
pub enum ConfText {
    /// Any string.
    Raw(String),
    /// Lines made of known and arbitrary names and values.
    Lines(Vec<Line>),
}

/// One line of [`ConfText::Lines`].
#[derive(Arbitrary, Debug, Clone)]
pub enum Line {
    /// `[NAME]`.
    Section(SectionName),
    /// `NAME = VALUE`.
    Option(OptionName, ValueText),
    /// `# …` or `; …`.
    Comment(bool, String),
    /// Nothing.
    Blank,
    /// Any text.
    Raw(Text),
}

/// A section name.
#[derive(Arbitrary, Debug, Clone)]
pub enum SectionName {
    /// One of [`SECTIONS`].
    Known(u8),
    /// `TYPE:NAME` with a known type.
    Instance(u8, InstanceName),
    /// Anything.
    Any(Text),
}

/// The `NAME` of an instance section.
#[derive(Arbitrary, Debug, Clone)]
pub enum InstanceName {
    /// One of a few names, so that duplicates are likely.
    Few(u8),
    /// Anything.
    Any(String),
}

/// An option name.
#[derive(Arbitrary, Debug, Clone)]
pub enum OptionName {
    /// One of [`options`].
    Known(u8),
    /// Anything.
    Any(String),
}

/// An option value.
#[derive(Arbitrary, Debug, Clone)]
pub enum ValueText {
    /// One of [`VALUES`].
    Known(u8),
    /// Anything.
    Any(Text),
}

/// Section names: backhaul's, netdata's, and near misses.
pub const SECTIONS: &[&str] = &[
    "global",
    "backhaul",
    "backend",
    "exporting:global",
    "web",
    "health",
    "plugin:proc:/proc/stat",
    "backhual",
    "exporting:globl",
    "exporting:other",
    "json",
    "graphite:plaintext",
    "opentsdb:http",
    "prometheus:exporter",
    "graphit:db",
    "Graphite:db",
    "json:tls:db",
    " json:db ",
    "graphite:my db",
    "graphite:",
];

/// Values near the edges of what the options accept.
pub const VALUES: &[&str] = &[
    "yes",
    "no",
    "on",
    "off",
    "auto",
    "on demand",
    "true",
    "1",
    "0",
    "",
    "10",
    "0x10",
    "017",
    "-1",
    "+5",
    "5",
    "4",
    "3600",
    "3601",
    "604800",
    "604801",
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "10s",
    "1 KiB",
    "1023",
    "1024",
    "4 MiB",
    "4MiB",
    "4 MB",
    "1 GiB",
    "2 GiB",
    "1.5 MiB",
    "localhost",
    "127.0.0.1:2003",
    "[::1]:4242",
    "[fe80::1%eth0]:2003",
    "[fe80::1]%eth0:2003",
    "::1",
    "host:0",
    "host:65536",
    "host:carbon",
    "unix:/run/x.sock",
    "unix:",
    "unix:relative",
    "udp:host",
    "ssl:h:1",
    "a/b",
    "[::1",
    "a, b c",
    " , ",
    "graphite",
    "graphite:plaintext",
    "opentsdb",
    "opentsdb:telnet",
    "opentsdb:http",
    "opentsdb:https",
    "json",
    "prometheus_remote_write",
    "kinesis",
    "mongodb",
    "average",
    "sum",
    "volume",
    "as collected",
    "as-collected",
    "raw",
    "/api/v1/write",
    "api",
    "/a b",
    "us-east-1",
    "us_east",
    "none",
    "127.0.0.1:19999",
    "[::1]:9100",
    "0.0.0.0:0",
    "*",
    "debug",
    "trace",
    "loud",
    "user:name",
    "user",
    "pass",
    "/etc/ca.pem",
    "\u{1}",
    "a\u{7f}",
    "localhost *",
    "!*.cpu* *",
    "netdata",
    "gateway-7",
];

/// Every option name the parsers know, and a few near misses.
#[must_use]
pub fn options() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    names.extend(BackendConfig::OPTIONS);
    names.extend(InstanceConfig::OPTIONS);
    names.extend(GlobalConfig::OPTIONS);
    names.extend(WebConfig::OPTIONS);
    names.extend([
        "type",
        "bufer size",
        "Update Every",
        "run as user",
        "labels",
    ]);
    names.sort_unstable();
    names.dedup();
    names
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

impl ConfText {
    /// The text.
    #[must_use]
    pub fn render(&self) -> String {
        match self {
            Self::Raw(s) => s.clone(),
            Self::Lines(lines) => {
                let options = options();
                let mut out = String::new();
                for line in lines {
                    match line {
                        Line::Section(SectionName::Known(i)) => {
                            out.push_str(&format!("[{}]", pick(SECTIONS, *i)));
                        }
                        Line::Section(SectionName::Instance(t, name)) => {
                            let kind = InstanceType::ALL[usize::from(*t) % InstanceType::ALL.len()];
                            let name = match name {
                                InstanceName::Few(i) => format!("i{}", i % 4),
                                InstanceName::Any(s) => s.clone(),
                            };
                            out.push_str(&format!("[{}:{name}]", kind.as_str()));
                        }
                        Line::Section(SectionName::Any(t)) => {
                            out.push_str(&format!("[{}]", t.render()));
                        }
                        Line::Option(name, value) => {
                            let name = match name {
                                OptionName::Known(i) => pick(&options, *i).to_owned(),
                                OptionName::Any(s) => s.clone(),
                            };
                            let value = match value {
                                ValueText::Known(i) => pick(VALUES, *i).to_owned(),
                                ValueText::Any(t) => t.render(),
                            };
                            out.push_str(&format!("    {name} = {value}"));
                        }
                        Line::Comment(hash, text) => {
                            out.push(if *hash { '#' } else { ';' });
                            out.push_str(text);
                        }
                        Line::Blank => {}
                        Line::Raw(t) => out.push_str(&t.render()),
                    }
                    out.push('\n');
                    if out.len() > 64 * 1024 {
                        break;
                    }
                }
                out
            }
        }
    }
}

/// Checks what every configuration error must be: on a line of the text (1-based), shown
/// on one line as `line N: …`, and as `FILE:N: …` with a file name.
///
/// # Panics
///
/// When it is not.
pub fn check_error(text: &str, error: &ConfigError<'_>) {
    let lines = text.split('\n').count();
    let line = error.line();
    assert!(
        (1..=lines).contains(&line),
        "error on line {line} of a {lines}-line text: {error}"
    );
    let message = error.to_string();
    assert!(message.starts_with(&format!("line {line}: ")), "{message}");
    assert!(
        !message.contains('\n'),
        "a message of several lines: {message:?}"
    );
    let with_file = error.display_with_file("f.conf").to_string();
    assert_eq!(
        with_file,
        format!(
            "f.conf:{line}: {}",
            &message[format!("line {line}: ").len()..]
        )
    );
    // The text the error quotes comes from the configuration.
    for part in [error.option(), error.value()].into_iter().flatten() {
        let inside = text.as_bytes().as_ptr_range();
        let p = part.as_bytes().as_ptr_range();
        let in_text = inside.start <= p.start && p.end <= inside.end;
        assert!(
            in_text || part.is_ascii(),
            "{part:?} is neither from the text nor a name"
        );
    }
}

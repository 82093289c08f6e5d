//! `backhaul`, the metrics exporter daemon for Linux.

use std::ffi::OsString;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use backhaul_linux::daemon::{log, Daemon};
use backhaul_linux::settings::{self, Overrides};
use backhaul_linux::wire::Wire;

/// The program name, as printed by `--version` and in messages.
const NAME: &str = "backhaul";

/// The version of this build, from the workspace manifest.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The text `--help` prints.
const USAGE: &str = "\
backhaul: a metrics exporter compatible with netdata's backends

Usage: backhaul [OPTIONS]

Collects this machine's metrics (CPU, load, memory, uptime, network interfaces, disks)
every second into fixed-size rings, serves them at
http://127.0.0.1:19999/api/v1/allmetrics?format=prometheus, and exports averages, sums or
collected values to the destinations of its configuration (netdata's [backend] section
and backhaul's own [TYPE:NAME] sections): Graphite, OpenTSDB and JSON over TCP, Unix
sockets or HTTP(S), Prometheus remote write, AWS Kinesis and MongoDB. With no options it
collects and serves, and exports nowhere.

Options:
  -c, --config FILE         Read the configuration from FILE (netdata.conf syntax)
      --check-config FILE   Check FILE and exit: 0 if it is valid, else print
                            FILE:LINE: option: what is wrong, and exit 3
      --print FORMAT        Also write the records to standard output
                            (FORMAT: graphite, opentsdb or json)
      --bind ADDR           Serve the pull endpoint on ADDR (default 127.0.0.1:19999;
                            `none` turns it off)
      --history N           Points kept per chart (default 3600)
      --hostname NAME       The hostname on the wire (default: this machine's)
      --synthetic-metrics N Also collect N generated metrics (charts synthetic.*), for
                            load tests
  -h, --help                Print this help and exit
  -V, --version             Print the version and exit

Signals: SIGHUP reloads the configuration without losing buffered data; SIGTERM and
SIGINT stop collecting, deliver what is buffered (within each destination's timeout)
and exit 0.

Exit codes: 0 success; 1 a runtime error (e.g. the pull endpoint cannot bind);
2 a usage error; 3 an invalid configuration.
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Version,
    Check(PathBuf),
    Run(Overrides),
}

/// Parses the arguments after the program name.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut overrides = Overrides::default();
    let mut args = args.into_iter();
    let mut check = None;
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            return Err(format!("argument {arg:?} is not valid UTF-8"));
        };
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (text, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            args.next()
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "-c" | "--config" => overrides.config = Some(PathBuf::from(value(flag)?)),
            "--check-config" => check = Some(PathBuf::from(value(flag)?)),
            "--print" => {
                let v = value(flag)?;
                overrides.print = Some(Wire::from_word(&v).ok_or_else(|| {
                    format!("--print: unknown format {v:?} (graphite, opentsdb or json)")
                })?);
            }
            "--bind" => {
                let v = value(flag)?;
                overrides.bind = Some(if v == "none" {
                    None
                } else {
                    Some(v.parse::<SocketAddr>().map_err(|_| {
                        format!("--bind: {v:?} is not an address like 127.0.0.1:19999")
                    })?)
                });
            }
            "--history" => {
                let v = value(flag)?;
                let n: usize = v
                    .parse()
                    .ok()
                    .filter(|n| (5..=1_000_000).contains(n))
                    .ok_or_else(|| format!("--history: {v:?} is not a number from 5 to 1000000"))?;
                overrides.history = Some(n);
            }
            "--hostname" => overrides.hostname = Some(value(flag)?),
            "--synthetic-metrics" => {
                let v = value(flag)?;
                overrides.synthetic = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000_000).contains(n))
                    .ok_or_else(|| {
                        format!("--synthetic-metrics: {v:?} is not a number from 1 to 10000000")
                    })?;
            }
            _ => return Err(format!("unknown argument {text:?}")),
        }
    }
    Ok(match check {
        Some(path) => Command::Check(path),
        None => Command::Run(overrides),
    })
}

fn main() -> ExitCode {
    let command = match parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "{NAME}: {e}\nTry '{NAME} --help' for more information."
            );
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            let _ = std::io::stdout().write_all(USAGE.as_bytes());
            ExitCode::SUCCESS
        }
        Command::Version => {
            let _ = writeln!(std::io::stdout(), "{NAME} {VERSION}");
            ExitCode::SUCCESS
        }
        Command::Check(path) => match settings::check_file(&path) {
            Ok(summary) => {
                let _ = writeln!(std::io::stdout(), "{}: ok: {summary}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "{e}");
                ExitCode::from(3)
            }
        },
        Command::Run(overrides) => run(&overrides),
    }
}

fn run(overrides: &Overrides) -> ExitCode {
    let settings = match settings::load(overrides) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            return ExitCode::from(3);
        }
    };
    let mut daemon = match Daemon::new(settings) {
        Ok(d) => d,
        Err(e) => {
            log(format!("cannot start: {e}"));
            return ExitCode::from(1);
        }
    };
    log(format!("{NAME} {VERSION}: {}", daemon.status_line()));
    loop {
        match daemon.run() {
            Ok(true) => match settings::load(overrides) {
                Ok(s) => daemon.reload(s),
                Err(e) => log(format!(
                    "SIGHUP: the configuration is not valid, keeping the running one: {e}"
                )),
            },
            Ok(false) => return ExitCode::SUCCESS,
            Err(e) => {
                log(format!("event loop failed: {e}"));
                return ExitCode::from(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags() {
        assert_eq!(parse(args(&["-h"])), Ok(Command::Help));
        assert_eq!(parse(args(&["--version"])), Ok(Command::Version));
        assert_eq!(
            parse(args(&["--check-config", "x.conf"])),
            Ok(Command::Check(PathBuf::from("x.conf")))
        );
        let Ok(Command::Run(o)) = parse(args(&["--print=json", "--bind", "none", "-c", "a"]))
        else {
            panic!("not a run");
        };
        assert_eq!(o.print, Some(Wire::Json));
        assert_eq!(o.bind, Some(None));
        assert_eq!(o.config, Some(PathBuf::from("a")));
    }

    #[test]
    fn errors_name_the_argument() {
        assert_eq!(
            parse(args(&["--frobnicate"])),
            Err("unknown argument \"--frobnicate\"".to_owned())
        );
        assert_eq!(
            parse(args(&["--config"])),
            Err("--config needs a value".to_owned())
        );
        assert!(parse(args(&["--print", "xml"]))
            .unwrap_err()
            .contains("unknown format"));
        assert!(parse(args(&["--bind", "nowhere"]))
            .unwrap_err()
            .contains("--bind"));
        assert!(parse(args(&["--history", "3"]))
            .unwrap_err()
            .contains("--history"));
    }
}

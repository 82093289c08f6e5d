//! `backhaul`, the metrics exporter daemon for Linux.
//!
//! Only the command line exists so far: `--version` and `--help`. The daemon itself (the
//! collectors, the event loop and the destinations) is not implemented yet.

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

/// The program name, as printed by `--version` and in messages.
const NAME: &str = "backhaul";

/// The version of this build, from the workspace manifest.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The text `--help` prints.
const USAGE: &str = "\
backhaul: a metrics exporter compatible with netdata's backends

Usage: backhaul [OPTIONS]

When finished, backhaul will collect this machine's metrics, keep a short history of them in
fixed-size rings, and every few seconds send averages, sums or collected values to Graphite,
OpenTSDB, JSON or Prometheus remote-write destinations configured in a netdata.conf-style
[backend] section.

The daemon is not implemented yet: only the options below work.

Options:
  -h, --help       Print this help and exit
  -V, --version    Print the version and exit
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Version,
    Run,
}

/// Parses the arguments after the program name. The first one that is not an option this
/// build knows is returned as the error.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, OsString> {
    let mut command = Command::Run;
    for arg in args {
        match arg.to_str() {
            Some("-h" | "--help") => return Ok(Command::Help),
            Some("-V" | "--version") => command = Command::Version,
            _ => return Err(arg),
        }
    }
    Ok(command)
}

fn main() -> ExitCode {
    match parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => print(USAGE),
        Ok(Command::Version) => print(&format!("{NAME} {VERSION}\n")),
        Ok(Command::Run) => {
            eprintln!("{NAME}: the daemon is not implemented yet; see '{NAME} --help'");
            ExitCode::FAILURE
        }
        Err(arg) => {
            eprintln!(
                "{NAME}: unknown argument '{}'\nTry '{NAME} --help' for more information.",
                arg.to_string_lossy()
            );
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to standard output. A closed or failing stdout is reported and gives exit
/// status 1 instead of the panic `print!` would raise.
fn print(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{NAME}: cannot write to standard output: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Command};
    use std::ffi::OsString;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn no_arguments_runs_the_daemon() {
        assert_eq!(parse(args(&[])), Ok(Command::Run));
    }

    #[test]
    fn help_wins_over_everything_after_it() {
        assert_eq!(parse(args(&["-h"])), Ok(Command::Help));
        assert_eq!(parse(args(&["--help", "--bogus"])), Ok(Command::Help));
        assert_eq!(parse(args(&["-V", "--help"])), Ok(Command::Help));
    }

    #[test]
    fn version() {
        assert_eq!(parse(args(&["-V"])), Ok(Command::Version));
        assert_eq!(parse(args(&["--version"])), Ok(Command::Version));
    }

    #[test]
    fn the_first_unknown_argument_is_the_error() {
        assert_eq!(parse(args(&["-V", "-x", "-y"])), Err(OsString::from("-x")));
        assert_eq!(
            parse(args(&["--versions"])),
            Err(OsString::from("--versions"))
        );
        assert_eq!(parse(args(&["-"])), Err(OsString::from("-")));
    }
}

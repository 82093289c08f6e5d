//! Starting the daemon with a configuration written by the test.

use std::path::PathBuf;
use std::process::Command;

use super::{Daemon, HOST};
use crate::peers::TempDir;

/// How to start the daemon: a configuration, files next to it, the `--print` format,
/// more arguments and environment changes. [`Launch::start`] runs it.
///
/// ```no_run
/// use backhaul_tests::daemon::Launch;
///
/// let config = "[graphite:vm]\n    destination = 127.0.0.1:2003\n";
/// let mut backhaul = Launch::new("target/debug/backhaul", "graphite", config)
///     .args(["--synthetic-metrics", "10"])
///     .start();
/// backhaul.wait_printed(40, std::time::Duration::from_secs(20));
/// backhaul.stop();
/// let (delivered, lost) = backhaul.delivered("vm");
/// ```
#[derive(Debug)]
#[must_use = "a Launch does nothing until start()"]
pub struct Launch {
    binary: PathBuf,
    print: String,
    config: String,
    files: Vec<(String, String)>,
    args: Vec<String>,
    env: Vec<(String, Option<String>)>,
}

impl Launch {
    /// The daemon `binary` (`env!("CARGO_BIN_EXE_backhaul")`) with `config` as its
    /// configuration file, printing its records in the `print` format (`graphite`,
    /// `json`, …) next to its destinations, so that the test knows what they must hold.
    pub fn new(binary: &str, print: &str, config: &str) -> Self {
        Self {
            binary: binary.into(),
            print: print.to_owned(),
            config: config.to_owned(),
            files: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// A file `name` holding `content` in the configuration's directory, where the
    /// daemon looks for the files a section refers to (`aws_kinesis.conf`, …).
    pub fn file(mut self, name: &str, content: &str) -> Self {
        self.files.push((name.to_owned(), content.to_owned()));
        self
    }

    /// More command-line arguments, after the standard ones.
    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the daemon (and its configuration check).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), Some(value.to_owned())));
        self
    }

    /// Removes an environment variable the test's own environment may have set.
    pub fn env_remove(mut self, name: &str) -> Self {
        self.env.push((name.to_owned(), None));
        self
    }

    /// Writes the files into a fresh directory, requires `--check-config` to accept the
    /// configuration (so that a typo in a test fails as such, not as missing data), then
    /// starts `backhaul --config FILE --bind none --print FORMAT --hostname HOST ARGS…`.
    ///
    /// # Panics
    /// If a file cannot be written, the check fails, or the daemon cannot be spawned.
    pub fn start(self) -> Daemon {
        let dir = TempDir::new("daemon");
        for (name, content) in &self.files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let config = dir.path().join("backhaul.conf");
        std::fs::write(&config, &self.config).unwrap();
        let check = self
            .command()
            .arg("--check-config")
            .arg(&config)
            .output()
            .expect("backhaul runs");
        assert!(
            check.status.success(),
            "--check-config:\n{}\n{}",
            String::from_utf8_lossy(&check.stderr),
            self.config
        );
        let mut daemon = Daemon::spawn(
            self.command()
                .arg("--config")
                .arg(&config)
                .args(["--bind", "none", "--print", &self.print, "--hostname", HOST])
                .args(&self.args),
        );
        daemon.config = Some(config);
        daemon._dir = Some(dir);
        daemon
    }

    /// The binary with the environment changes applied.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }
}

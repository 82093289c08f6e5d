//! The real `backhaul` daemon as the integration tests run it: a child process whose
//! standard output (the `--print` records) and standard error (the log) are collected
//! line by line by threads, so that a test can poll them while the daemon runs and read
//! them whole once it has stopped.
//!
//! [`Launch`] starts it the way the real-server tests do: a configuration (and any files
//! next to it) in a fresh directory, checked with `--check-config` first, then
//! `--config … --bind none --print FORMAT --hostname` [`HOST`]. [`Daemon::spawn`] starts
//! any other command line. [`Daemon::stop`] sends `SIGTERM` and requires a clean exit,
//! after which the exit report can be read ([`Daemon::delivered`],
//! [`Daemon::logged_losses`]). [`compare`] checks what a peer stored against what the
//! daemon printed.
//!
//! The crate is not the binary's: tests pass `env!("CARGO_BIN_EXE_backhaul")`.

pub mod compare;
mod launch;
mod report;

pub use launch::Launch;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::peers::TempDir;

/// The `--hostname` every [`Launch`]ed daemon runs with: names and tags in the records
/// carry it, so tests can tell the daemon's points from anything else.
pub const HOST: &str = "it-host";

/// How long a signalled daemon may take to exit: it first delivers what is buffered,
/// which a slow or faulty destination can stretch to tens of seconds.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(40);

/// Interval between two polls of the output.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Lines a reader thread appends as the daemon writes them.
type Lines = Arc<Mutex<Vec<String>>>;

/// A running daemon; killed on drop (panics included), its directory removed.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    printed: Lines,
    log: Lines,
    readers: Vec<JoinHandle<()>>,
    /// The configuration file, when started by [`Launch`] (see [`Daemon::reload`]).
    config: Option<PathBuf>,
    /// Where the configuration lives; removed on drop.
    _dir: Option<TempDir>,
}

impl Daemon {
    /// Spawns `command` with standard input closed and both outputs collected.
    ///
    /// # Panics
    /// If it cannot be spawned.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("backhaul starts");
        let (printed, out) = collect(child.stdout.take().expect("piped stdout"));
        let (log, err) = collect(child.stderr.take().expect("piped stderr"));
        Self {
            child,
            printed,
            log,
            readers: vec![out, err],
            config: None,
            _dir: None,
        }
    }

    /// The lines printed on standard output so far (the `--print` records).
    pub fn printed(&self) -> Vec<String> {
        self.with_printed(<[String]>::to_vec)
    }

    /// How many lines were printed so far.
    pub fn printed_count(&self) -> usize {
        self.with_printed(<[String]>::len)
    }

    /// Runs `f` on the printed lines without copying them: a busy daemon prints hundreds
    /// of thousands, and some tests look at the newest few within a fraction of a second.
    pub fn with_printed<R>(&self, f: impl FnOnce(&[String]) -> R) -> R {
        f(&self.printed.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The log (standard error) so far, lines joined with `\n`.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// How many log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until at least `at_least` lines were printed.
    ///
    /// # Panics
    /// After `within`, with the log.
    pub fn wait_printed(&self, at_least: usize, within: Duration) {
        wait_until(&format!("{at_least} printed records"), within, || {
            self.printed_count() >= at_least
        })
        .unwrap_or_else(|e| panic!("{e}; log:\n{}", self.log()));
    }

    /// Waits until at least `count` log lines contain `needle`.
    ///
    /// # Panics
    /// After `within`, with the log.
    pub fn wait_log(&self, needle: &str, count: usize, within: Duration) {
        wait_until(
            &format!("{count} log lines with {needle:?}"),
            within,
            || self.log_count(needle) >= count,
        )
        .unwrap_or_else(|e| panic!("{e}; log:\n{}", self.log()));
    }

    /// The first log line: the status line the daemon writes once it runs.
    ///
    /// # Panics
    /// If there is none within `within`.
    pub fn first_log_line(&self, within: Duration) -> String {
        let first = || {
            let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            log.first().cloned()
        };
        wait_until("a log line", within, || first().is_some()).unwrap_or_else(|e| panic!("{e}"));
        first().expect("a log line")
    }

    /// Sends `signal` (`libc::SIGHUP`, …) to the daemon.
    ///
    /// # Panics
    /// If it cannot be delivered.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid fits pid_t");
        // SAFETY: kill has no memory effects; the pid is our child's, not yet reaped.
        assert_eq!(
            unsafe { libc::kill(pid, signal) },
            0,
            "kill({pid}, {signal})"
        );
    }

    /// Writes `config` over the configuration file and sends `SIGHUP`, as an operator
    /// reloading the daemon would.
    ///
    /// # Panics
    /// If the daemon was not started by [`Launch`], or on an I/O error.
    pub fn reload(&self, config: &str) {
        let path = self.config.as_ref().expect("started by Launch");
        std::fs::write(path, config).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.signal(libc::SIGHUP);
    }

    /// `SIGTERM`, then [`Daemon::wait_clean_exit`]: the daemon delivers what is buffered
    /// and writes its exit report.
    pub fn stop(&mut self) {
        self.stop_with(libc::SIGTERM);
    }

    /// Sends `signal`, then [`Daemon::wait_clean_exit`].
    pub fn stop_with(&mut self, signal: libc::c_int) {
        self.signal(signal);
        self.wait_clean_exit();
    }

    /// Waits for the daemon to exit with status 0, then for the end of its output, so
    /// that [`Daemon::printed`] and [`Daemon::log`] are complete (exit report included).
    ///
    /// # Panics
    /// If it does not exit within [`STOP_TIMEOUT`], or exits otherwise; with the log.
    pub fn wait_clean_exit(&mut self) {
        let mut status = None;
        wait_until("backhaul to exit", STOP_TIMEOUT, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        })
        .unwrap_or_else(|e| panic!("{e}; log:\n{}", self.log()));
        let code = status.and_then(|s| s.code());
        assert_eq!(code, Some(0), "log:\n{}", self.log());
        // The pipes close when the process is gone: the readers then have every line.
        wait_until("the end of its output", STOP_TIMEOUT, || {
            self.readers.iter().all(JoinHandle::is_finished)
        })
        .unwrap_or_else(|e| panic!("{e}; log:\n{}", self.log()));
        for reader in self.readers.drain(..) {
            reader.join().expect("a reader thread panicked");
        }
    }

    /// The peak resident set size so far (`VmHWM`), in bytes.
    ///
    /// # Panics
    /// If the daemon is not running.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the daemon is running");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kib * 1024
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` every 50 ms until it is true, for at most `within`; `Err` names `what`.
///
/// # Errors
/// On timeout: "timed out after … waiting for `what`".
pub fn wait_until(
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() >= deadline {
            return Err(format!("timed out after {within:?} waiting for {what}"));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

/// A thread appending the lines of `stream` (up to the first that is not UTF-8) to a
/// shared list, until the stream ends.
fn collect(stream: impl Read + Send + 'static) -> (Lines, JoinHandle<()>) {
    let lines = Lines::default();
    let sink = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
    (lines, reader)
}

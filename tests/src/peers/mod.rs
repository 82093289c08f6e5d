//! Real servers ("peers") for integration tests: each is the Debian package's own binary,
//! started by the test on free loopback ports in a fresh temporary directory, waited for
//! until it answers, queried back through its own API, and killed on `Drop`.
//!
//! | peer | start | ingest addresses | read back |
//! |---|---|---|---|
//! | [`VictoriaMetrics`] | `VictoriaMetrics::start()` | `graphite`, `opentsdb` (telnet and HTTP `/api/put`), `opentsdb_http`, `http` (remote write, import) | [`VictoriaMetrics::wait_for`], [`VictoriaMetrics::export`] |
//! | [`Carbon`] (carbon-cache + whisper) | `Carbon::start()` | `line` (plaintext), `pickle` | [`Carbon::wait_for`], [`Carbon::fetch`], [`Carbon::metrics`] |
//! | [`Influx`] (InfluxDB 1.x) | `Influx::start()` | `graphite` (db [`influx::GRAPHITE_DB`]), `opentsdb` (telnet and HTTP, db [`influx::OPENTSDB_DB`]), `http` | [`Influx::wait_for`], [`Influx::points`], [`Influx::query`] |
//! | [`Prometheus`] | `Prometheus::start()` | [`Prometheus::remote_write_url`] | [`Prometheus::wait_for`], [`Prometheus::samples`] |
//! | [`Mongo`] (nx-27017, MongoDB wire protocol; pymongo reads back) | `Mongo::start()` | `addr`, [`Mongo::uri`] | [`Mongo::wait_for`], [`Mongo::documents`], [`Mongo::count`] |
//! | [`Moto`] (AWS Kinesis, signatures checked) | `Moto::start()`, [`Moto::create_stream`] | [`Moto::endpoint`] with [`Moto::access_key_id`] | [`Moto::wait_for_lines`], [`Moto::records`] |
//!
//! ```no_run
//! use backhaul_tests::peers::{self, VictoriaMetrics};
//!
//! let vm = VictoriaMetrics::start(); // panics with "peer not installed: ..." if missing
//! let now = peers::now_s();
//! peers::send_tcp(vm.graphite, format!("a.b.c 42.5 {now}\n").as_bytes());
//! let points = vm.wait_for(r#"{__name__="a.b.c"}"#, 1);
//! assert_eq!(points[0].to_string(), format!("a.b.c {now} 42.5"));
//! // `vm` is killed (and its directory removed) when it goes out of scope, panics included.
//! ```
//!
//! Every query-back helper returns [`Point`]s: the series (name and labels), the timestamp
//! and the value *as the server wrote it*, sorted. `wait_for` helpers poll until at least
//! the given number of points is there ([`DATA_TIMEOUT`]) and panic with what they saw and
//! the server's log otherwise. Starting polls too ([`READY_TIMEOUT`]); a start that fails
//! (say, a port taken by another process in between) is retried on new ports.
//!
//! The binaries come from `scripts/peers.sh install`. A missing one makes `start()` panic
//! with `peer not installed: <package> ...`, so that a machine without the peers fails
//! loudly instead of skipping tests.
//!
//! Set `BACKHAUL_KEEP_PEER_DIRS=1` to keep the temporary directories (data, configuration,
//! `server.log`) after the test; their paths are printed when a test panics.

pub mod carbon;
pub mod influx;
pub mod mongo;
pub mod moto;
pub mod prometheus;
pub mod victoria;

pub use carbon::Carbon;
pub use influx::Influx;
pub use mongo::Mongo;
pub use moto::Moto;
pub use prometheus::Prometheus;
pub use victoria::VictoriaMetrics;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a peer may take to answer after it was started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `wait_for` helpers poll for data to show up.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(20);
/// Timeout of one HTTP request to a peer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval between two polls.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Start attempts (each on new ports) before giving up.
const START_ATTEMPTS: usize = 3;

/// One stored sample, as a peer gives it back.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Point {
    /// Metric name: the graphite path, the OpenTSDB metric, Prometheus' `__name__`, or the
    /// InfluxDB measurement.
    pub name: String,
    /// The other labels or tags, without `__name__`. InfluxDB fields other than `value`
    /// are reported under the label `_field`.
    pub labels: BTreeMap<String, String>,
    /// Timestamp in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The value as the server wrote it: a JSON number's text (VictoriaMetrics, InfluxDB),
    /// Prometheus' string, or Python's `repr` of the stored double (whisper).
    pub value: String,
}

impl Point {
    /// Timestamp in whole seconds (rounded down).
    pub fn timestamp_s(&self) -> i64 {
        self.timestamp_ms.div_euclid(1000)
    }

    /// The value as a number; `NaN`/`Inf` in the spellings the peers use are understood.
    ///
    /// # Panics
    /// If the server's text is not a number.
    pub fn value_f64(&self) -> f64 {
        parse_f64(&self.value)
            .unwrap_or_else(|| panic!("value {:?} of {self} is not a number", self.value))
    }

    /// `name{label="value",...}`, or just `name` without labels.
    pub fn series(&self) -> String {
        let mut out = self.name.clone();
        if !self.labels.is_empty() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            out.push('{');
            out.push_str(&labels.join(","));
            out.push('}');
        }
        out
    }
}

/// `series timestamp_s value`, e.g. `x.y{host="h1"} 1795307019 1.25`; a timestamp with
/// milliseconds is written `1795307019.250`.
impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.timestamp_ms.rem_euclid(1000);
        if ms == 0 {
            write!(f, "{} {} {}", self.series(), self.timestamp_s(), self.value)
        } else {
            write!(
                f,
                "{} {}.{ms:03} {}",
                self.series(),
                self.timestamp_s(),
                self.value
            )
        }
    }
}

fn parse_f64(text: &str) -> Option<f64> {
    match text.trim() {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "inf" | "Infinity" => Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// Parses a JSON number of seconds (`1795307019`, `1795307019.25`) into milliseconds,
/// exactly (no floating point).
pub(crate) fn seconds_text_to_ms(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<3}").parse().ok()?;
    let frac = if whole < 0 || text.starts_with('-') {
        -frac
    } else {
        frac
    };
    whole.checked_mul(1000)?.checked_add(frac)
}

/// The current time in whole seconds since the Unix epoch.
pub fn now_s() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970");
    i64::try_from(since.as_secs()).expect("time fits i64")
}

/// Writes `bytes` on a new TCP connection to `addr`, then closes it (after a shutdown of
/// the write side, so that the server reads everything).
///
/// # Panics
/// If connecting or writing fails.
pub fn send_tcp(addr: SocketAddr, bytes: &[u8]) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .write_all(bytes)
        .unwrap_or_else(|e| panic!("write to {addr}: {e}"));
    stream
        .flush()
        .unwrap_or_else(|e| panic!("flush to {addr}: {e}"));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Ports already handed out by [`free_port`] in this process, so that two peers started
/// at the same time never get the same one.
static GIVEN_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback TCP port that is free now: bound on `127.0.0.1:0`, then released. Never
/// returns the same port twice in one process. Another process may still take it before
/// the server binds it; peers retry their start on new ports when that happens.
pub fn free_port() -> u16 {
    let mut given = GIVEN_PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        if given.insert(port) {
            return port;
        }
    }
}

/// `127.0.0.1:port` for a fresh [`free_port`].
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// Polls `check` every few milliseconds until it returns `Some`, for at most `timeout`.
/// `Err` means "not yet, and here is why", kept for the message on timeout.
///
/// # Panics
/// On timeout, with `what`, the last error and `context()` (say, the server's log).
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<T>, String>,
    context: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("(no answer yet)");
    loop {
        match check() {
            Ok(Some(value)) => return value,
            Ok(None) => {}
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}; last: {last}\n{}",
                context()
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// A temporary directory, removed on drop unless `BACKHAUL_KEEP_PEER_DIRS` is set.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// `$TMPDIR/backhaul-<label>-<pid>-<n>-<nanos>`, created empty.
    ///
    /// # Panics
    /// If the directory cannot be created.
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "backhaul-{label}-{}-{n}-{nanos:09}",
            std::process::id()
        ));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("BACKHAUL_KEEP_PEER_DIRS").is_some() {
            eprintln!("peers: kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Why a start attempt failed.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The binary is not installed: not worth retrying.
    NotInstalled(String),
    /// It did not come up (exited, or did not answer in time); retried on new ports.
    Failed(String),
}

/// Runs `attempt` up to [`START_ATTEMPTS`] times; each attempt picks new ports.
///
/// # Panics
/// With the reason, when the binary is missing or every attempt failed.
pub(crate) fn start_with_retries<T>(
    peer: &str,
    mut attempt: impl FnMut() -> Result<T, StartError>,
) -> T {
    let mut failures = Vec::new();
    for _ in 0..START_ATTEMPTS {
        match attempt() {
            Ok(peer) => return peer,
            Err(StartError::NotInstalled(message)) => panic!("{message}"),
            Err(StartError::Failed(message)) => failures.push(message),
        }
    }
    panic!(
        "{peer} did not start ({START_ATTEMPTS} attempts):\n{}",
        failures.join("\n---\n")
    );
}

/// The full path of `program` on `PATH`, if it is there and executable.
fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The error for a program that is not installed.
pub(crate) fn not_installed(package: &str, program: &str) -> StartError {
    StartError::NotInstalled(format!(
        "peer not installed: {package} (`{program}` is not on PATH); \
         install the peers with `sudo scripts/peers.sh install`"
    ))
}

/// Checks that `program` is installed, as `package`.
pub(crate) fn require_program(package: &str, program: &str) -> Result<PathBuf, StartError> {
    find_program(program).ok_or_else(|| not_installed(package, program))
}

/// A running server process: its output goes to `server.log` in its directory; it is
/// killed and reaped on drop.
#[derive(Debug)]
pub struct Server {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
    started: Instant,
    ready_in: Option<Duration>,
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    // Dropped after the child is killed (fields drop in declaration order, and `Drop`
    // kills first anyway).
    dir: TempDir,
}

impl Server {
    /// Starts `program` with `args` in `dir`, its stdout and stderr in `dir/server.log`.
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        envs: &[(&str, &str)],
        dir: TempDir,
    ) -> Result<Self, StartError> {
        let log = dir.path().join("server.log");
        let out = File::create(&log)
            .map_err(|e| StartError::Failed(format!("create {}: {e}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(|e| StartError::Failed(format!("clone {}: {e}", log.display())))?;
        let child = Command::new(program)
            .args(args)
            .envs(envs.iter().copied())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| StartError::Failed(format!("spawn {}: {e}", program.display())))?;
        Ok(Self {
            name,
            child: Some(child),
            log,
            started: Instant::now(),
            ready_in: None,
            program: program.to_path_buf(),
            args: args.to_vec(),
            envs: envs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            dir,
        })
    }

    /// Starts the same program again, with the same arguments, ports and directory (its
    /// data kept), after [`Server::stop`]; its output is appended to the same log.
    ///
    /// # Panics
    /// When the program cannot be spawned.
    pub fn respawn(&mut self) {
        self.stop();
        let out = fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("the server log can be reopened");
        let err = out.try_clone().expect("the log handle can be cloned");
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("the server respawns");
        self.child = Some(child);
        self.started = Instant::now();
    }

    /// Polls `ready` until it returns true, failing early if the process exits.
    pub(crate) fn wait_ready(
        &mut self,
        what: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Duration, StartError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(StartError::Failed(format!(
                        "{} exited ({status}) before {what}:\n{}",
                        self.name,
                        self.log_tail(30)
                    )));
                }
            }
            if ready() {
                let elapsed = self.started.elapsed();
                self.ready_in = Some(elapsed);
                return Ok(elapsed);
            }
            if Instant::now() >= deadline {
                return Err(StartError::Failed(format!(
                    "{} not ready ({what}) after {READY_TIMEOUT:?}:\n{}",
                    self.name,
                    self.log_tail(30)
                )));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// How long after its start the server was ready (the last readiness check).
    pub fn ready_in(&self) -> Option<Duration> {
        self.ready_in
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's working directory (data and configuration).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of [`Server::log`], with a header naming the file.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        let tail = match all.len() {
            0 => "(empty)".to_owned(),
            n => all[n.saturating_sub(lines)..].join("\n"),
        };
        format!(
            "--- last {lines} lines of {} ---\n{tail}",
            self.log.display()
        )
    }

    /// Kills the process (SIGKILL) and reaps it. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let keep = if std::env::var_os("BACKHAUL_KEEP_PEER_DIRS").is_some() {
                "kept"
            } else {
                "removed; set BACKHAUL_KEEP_PEER_DIRS=1 to keep it"
            };
            eprintln!(
                "peers: {} (pid {:?}, directory {}, {keep}) at the panic:\n{}",
                self.name,
                self.pid(),
                self.dir().display(),
                self.log_tail(20)
            );
        }
        self.stop();
    }
}

/// A blocking HTTP client for loopback: no proxy from the environment, a timeout, and
/// non-2xx statuses returned instead of turned into errors.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(HTTP_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into()
}

/// An HTTP answer: status and body.
pub(crate) type HttpResult = Result<(u16, String), String>;

fn read_answer(
    url: &str,
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> HttpResult {
    let mut response = result.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("{url}: reading the body: {e}"))?;
    Ok((status, body))
}

/// GET `url` with query parameters.
pub(crate) fn http_get(url: &str, query: &[(&str, &str)]) -> HttpResult {
    let request = agent().get(url).query_pairs(query.iter().copied());
    read_answer(url, request.call())
}

/// POST `url` with an `application/x-www-form-urlencoded` body.
pub(crate) fn http_post_form(url: &str, form: &[(&str, &str)]) -> HttpResult {
    read_answer(url, agent().post(url).send_form(form.iter().copied()))
}

/// Like `http_*`, but only a 2xx answer is `Ok` (with the body).
pub(crate) fn ok_body(result: HttpResult) -> Result<String, String> {
    match result? {
        (status, body) if (200..300).contains(&status) => Ok(body),
        (status, body) => Err(format!("HTTP {status}: {}", body.trim())),
    }
}

/// True when `url` answers 2xx.
pub(crate) fn http_ok(url: &str) -> bool {
    matches!(http_get(url, &[]), Ok((200..=299, _)))
}

/// True when a TCP connection to `addr` succeeds.
pub(crate) fn tcp_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// For `wait_for` helpers: the points once there are `count` of them, else why not yet.
pub(crate) fn enough(points: Vec<Point>, count: usize) -> Result<Option<Vec<Point>>, String> {
    if points.len() >= count {
        return Ok(Some(points));
    }
    let seen: Vec<String> = points.iter().map(ToString::to_string).collect();
    Err(format!("{} of {count} points: {seen:?}", points.len()))
}

/// Sorts points by series, then time.
pub(crate) fn sorted(mut points: Vec<Point>) -> Vec<Point> {
    points.sort_by(|a, b| {
        (&a.name, &a.labels, a.timestamp_ms).cmp(&(&b.name, &b.labels, b.timestamp_ms))
    });
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_text_to_ms_is_exact() {
        assert_eq!(seconds_text_to_ms("1795307019"), Some(1_795_307_019_000));
        assert_eq!(seconds_text_to_ms("1795307019.25"), Some(1_795_307_019_250));
        assert_eq!(
            seconds_text_to_ms("1795307019.001"),
            Some(1_795_307_019_001)
        );
        assert_eq!(seconds_text_to_ms("-1.5"), Some(-1500));
        assert_eq!(seconds_text_to_ms("1.0001"), None);
        assert_eq!(seconds_text_to_ms("1e9"), None);
    }

    #[test]
    fn point_display() {
        let mut p = Point {
            name: "x.y".into(),
            labels: BTreeMap::from([("host".into(), "h1".into())]),
            timestamp_ms: 1_795_307_019_000,
            value: "1.25".into(),
        };
        assert_eq!(p.to_string(), r#"x.y{host="h1"} 1795307019 1.25"#);
        p.timestamp_ms += 250;
        p.labels.clear();
        assert_eq!(p.to_string(), "x.y 1795307019.250 1.25");
        assert_eq!(p.value_f64(), 1.25);
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports: HashSet<u16> = (0..50).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 50);
    }
}

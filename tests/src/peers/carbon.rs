//! graphite's carbon-cache with whisper files (Debian `graphite-carbon`, `python3-whisper`),
//! the reference graphite server; points are read back from the `.wsp` files.
//!
//! It runs from a temporary `carbon.conf` instead of Debian's, which binds 0.0.0.0, runs
//! as `_graphite`, keeps 60 s points and creates at most 50 new metrics a minute (dropping
//! the rest). Here: loopback ports, no user switch, tags off (they make carbon call
//! HTTP on port 80 for every new metric), no rate limits, and one archive of 1-second
//! points for a day ([`RETENTIONS`]), sparse files so that creating one is cheap.
//!
//! A point reaches its `.wsp` file about a second after it was received; [`Carbon::wait_for`]
//! polls for it. Files are read with `/usr/bin/python3` (Debian's, which has the `whisper`
//! module; a `python3` earlier on `PATH` may not).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{
    enough, free_addr, now_s, poll, require_program, sorted, start_with_retries, tcp_open, Point,
    Server, StartError, TempDir, DATA_TIMEOUT,
};

/// The storage schema of every metric: 1-second points for a day.
pub const RETENTIONS: &str = "1s:1d";

/// Debian's Python, the one with the `whisper` module.
const PYTHON: &str = "/usr/bin/python3";

/// Prints `timestamp<TAB>repr(value)` for each non-empty slot of a whisper file in
/// `(from, until]`.
const FETCH_PY: &str = r#"
import sys, whisper
path, start, until = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = whisper.fetch(path, start, until)
if data:
    (first, _end, step), values = data
    for i, value in enumerate(values):
        if value is not None:
            print("%d\t%r" % (first + i * step, value))
"#;

/// A running carbon-cache.
#[derive(Debug)]
pub struct Carbon {
    /// Plaintext line receiver (TCP).
    pub line: SocketAddr,
    /// Pickle receiver.
    pub pickle: SocketAddr,
    /// Cache query port.
    pub cache_query: SocketAddr,
    whisper_dir: PathBuf,
    server: Server,
}

impl Carbon {
    /// Starts carbon-cache on free loopback ports in a fresh directory and waits for the
    /// line receiver to accept connections.
    ///
    /// # Panics
    /// With `peer not installed: graphite-carbon ...` (or `python3-whisper`) when missing, or
    /// with the server's log when it does not come up.
    pub fn start() -> Self {
        start_with_retries("carbon-cache", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let program = require_program("graphite-carbon", "carbon-cache")?;
        if !has_whisper_module() {
            return Err(StartError::NotInstalled(format!(
                "peer not installed: python3-whisper (`{PYTHON} -c 'import whisper'` fails); \
                 install the peers with `sudo scripts/peers.sh install`"
            )));
        }
        let dir = TempDir::new("carbon");
        let root = dir.path().to_path_buf();
        let (line, pickle, cache_query) = (free_addr(), free_addr(), free_addr());
        let conf = root.join("conf");
        let whisper_dir = root.join("whisper");
        for d in [&conf, &whisper_dir, &root.join("log"), &root.join("lists")] {
            std::fs::create_dir_all(d).map_err(|e| StartError::Failed(format!("{e}")))?;
        }
        let carbon_conf = format!(
            "[cache]\n\
             STORAGE_DIR = {root}/\n\
             LOCAL_DATA_DIR = {root}/whisper/\n\
             WHITELISTS_DIR = {root}/lists/\n\
             CONF_DIR = {root}/conf/\n\
             LOG_DIR = {root}/log/\n\
             PID_DIR = {root}/\n\
             USER =\n\
             DATABASE = whisper\n\
             ENABLE_TAGS = False\n\
             MAX_CACHE_SIZE = inf\n\
             MAX_UPDATES_PER_SECOND = inf\n\
             MAX_CREATES_PER_MINUTE = inf\n\
             WHISPER_SPARSE_CREATE = True\n\
             LINE_RECEIVER_INTERFACE = 127.0.0.1\n\
             LINE_RECEIVER_PORT = {line_port}\n\
             ENABLE_UDP_LISTENER = False\n\
             PICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
             PICKLE_RECEIVER_PORT = {pickle_port}\n\
             CACHE_QUERY_INTERFACE = 127.0.0.1\n\
             CACHE_QUERY_PORT = {query_port}\n\
             LOG_LISTENER_CONN_SUCCESS = False\n",
            root = root.display(),
            line_port = line.port(),
            pickle_port = pickle.port(),
            query_port = cache_query.port(),
        );
        let schemas = format!("[everything]\npattern = .*\nretentions = {RETENTIONS}\n");
        let aggregation =
            "[everything]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n";
        for (name, text) in [
            ("carbon.conf", carbon_conf.as_str()),
            ("storage-schemas.conf", schemas.as_str()),
            ("storage-aggregation.conf", aggregation),
        ] {
            std::fs::write(conf.join(name), text)
                .map_err(|e| StartError::Failed(format!("{e}")))?;
        }
        let args = vec![
            format!("--config={}", conf.join("carbon.conf").display()),
            format!("--pidfile={}", root.join("carbon.pid").display()),
            "--nodaemon".into(),
            "start".into(),
        ];
        // Twisted's CryptographyDeprecationWarning lines only clutter the log.
        let env = [("PYTHONWARNINGS", "ignore")];
        let mut server = Server::spawn("carbon-cache", &program, &args, &env, dir)?;
        server.wait_ready("line receiver", || tcp_open(line))?;
        Ok(Self {
            line,
            pickle,
            cache_query,
            whisper_dir,
            server,
        })
    }

    /// The whisper file of a metric: dots become directories.
    pub fn wsp_path(&self, metric: &str) -> PathBuf {
        let mut path = self.whisper_dir.clone();
        path.extend(metric.split('.'));
        path.set_extension("wsp");
        path
    }

    /// Every metric that has a whisper file, sorted.
    pub fn metrics(&self) -> Vec<String> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, &format!("{prefix}{name}."), out);
                } else if let Some(stem) = name.strip_suffix(".wsp") {
                    out.push(format!("{prefix}{stem}"));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.whisper_dir, "", &mut out);
        out.sort();
        out
    }

    fn try_fetch(&self, metric: &str, from_s: i64, until_s: i64) -> Result<Vec<Point>, String> {
        let path = self.wsp_path(metric);
        if !path.exists() {
            return Ok(Vec::new());
        }
        // whisper.fetch returns the slots in (from, until], and clamps `until` to now.
        let output = Command::new(PYTHON)
            .arg("-c")
            .arg(FETCH_PY)
            .arg(&path)
            .arg((from_s - 1).to_string())
            .arg(until_s.max(from_s).to_string())
            .env("PYTHONWARNINGS", "ignore")
            .output()
            .map_err(|e| format!("run {PYTHON}: {e}"))?;
        if !output.status.success() {
            // Also what a file still being created looks like: the caller polls again.
            return Err(format!(
                "whisper fetch {}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut points = Vec::new();
        for line in stdout.lines() {
            let (ts, value) = line
                .split_once('\t')
                .ok_or_else(|| format!("whisper fetch line {line:?}"))?;
            let ts: i64 = ts
                .parse()
                .map_err(|e| format!("whisper timestamp {ts:?}: {e}"))?;
            points.push(Point {
                name: metric.to_owned(),
                labels: Default::default(),
                timestamp_ms: ts * 1000,
                value: value.to_owned(),
            });
        }
        Ok(sorted(points))
    }

    /// The stored points of `metric` with timestamps in `from_s..=until_s` (empty while its
    /// file does not exist). Values are Python's `repr` of the stored doubles: `42.5`,
    /// `-1e-07`, `1234567.1234567`.
    ///
    /// # Panics
    /// If the file cannot be read.
    pub fn fetch(&self, metric: &str, from_s: i64, until_s: i64) -> Vec<Point> {
        self.try_fetch(metric, from_s, until_s)
            .unwrap_or_else(|e| panic!("carbon fetch {metric}: {e}\n{}", self.server.log_tail(20)))
    }

    /// Polls [`Carbon::fetch`] until at least `count` points are stored in
    /// `from_s..=until_s`, and returns them.
    ///
    /// # Panics
    /// After [`DATA_TIMEOUT`], with the points seen and the server's log.
    pub fn wait_for(&self, metric: &str, from_s: i64, until_s: i64, count: usize) -> Vec<Point> {
        poll(
            &format!("{count} points of {metric} in carbon"),
            DATA_TIMEOUT,
            || enough(self.try_fetch(metric, from_s, until_s)?, count),
            || {
                format!(
                    "metrics on disk: {:?}\n{}",
                    self.metrics(),
                    self.server.log_tail(20)
                )
            },
        )
    }

    /// Points of `metric` in the last day, up to now.
    pub fn fetch_recent(&self, metric: &str) -> Vec<Point> {
        let now = now_s();
        self.fetch(metric, now - 86_399, now)
    }

    /// The server process (log, directory, pid).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Kills the server now instead of at drop.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

fn has_whisper_module() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import whisper"])
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .is_ok_and(|o| o.status.success())
}

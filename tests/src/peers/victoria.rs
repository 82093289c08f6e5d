//! VictoriaMetrics (Debian `victoria-metrics`): graphite plaintext, OpenTSDB telnet and HTTP,
//! Prometheus remote write and JSON import, read back exactly with `/api/v1/export`.
//!
//! Started with every listener on its own free loopback port (each one is off unless its
//! flag is given, and binds all interfaces unless given `127.0.0.1:`), and with
//! `-search.latencyOffset=0s -search.disableCache -search.cacheTimestampOffset=0s`, so that
//! queries see the newest samples. New samples become readable after a
//! `/internal/force_flush`; [`VictoriaMetrics::export`] always flushes first.
//!
//! Gotchas: a sample older than `-retentionPeriod` (1 month) is dropped silently (the log
//! says `too small timestamp`); values are stored as decimals that share an exponent per
//! block, so one series mixing magnitudes far apart (`1e300` next to `0.1`) loses the
//! small ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    enough, free_addr, http_ok, http_post_form, ok_body, poll, require_program, sorted,
    start_with_retries, Point, Server, StartError, TempDir, DATA_TIMEOUT,
};

/// A running VictoriaMetrics single-node server.
#[derive(Debug)]
pub struct VictoriaMetrics {
    /// HTTP API: `/api/v1/write` (remote write), `/api/v1/import`, `/write` (Influx line
    /// protocol), queries.
    pub http: SocketAddr,
    /// Graphite plaintext (TCP and UDP).
    pub graphite: SocketAddr,
    /// OpenTSDB telnet `put` (TCP and UDP); it also answers HTTP `/api/put`.
    pub opentsdb: SocketAddr,
    /// OpenTSDB HTTP `/api/put` on its own port.
    pub opentsdb_http: SocketAddr,
    server: Server,
}

/// One line of `/api/v1/export`.
#[derive(Deserialize)]
struct ExportLine {
    metric: BTreeMap<String, String>,
    values: Vec<Box<RawValue>>,
    timestamps: Vec<i64>,
}

impl VictoriaMetrics {
    /// Starts a server on free loopback ports in a fresh directory and waits for `/health`.
    ///
    /// # Panics
    /// With `peer not installed: victoria-metrics ...` when the binary is missing, or with
    /// the server's log when it does not come up.
    pub fn start() -> Self {
        start_with_retries("victoria-metrics", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let program = require_program("victoria-metrics", "victoria-metrics")?;
        let dir = TempDir::new("victoria-metrics");
        let (http, graphite, opentsdb, opentsdb_http) =
            (free_addr(), free_addr(), free_addr(), free_addr());
        let args = vec![
            format!("-storageDataPath={}", dir.path().join("data").display()),
            format!("-httpListenAddr={http}"),
            format!("-graphiteListenAddr={graphite}"),
            format!("-opentsdbListenAddr={opentsdb}"),
            format!("-opentsdbHTTPListenAddr={opentsdb_http}"),
            "-search.latencyOffset=0s".into(),
            "-search.disableCache".into(),
            "-search.cacheTimestampOffset=0s".into(),
            "-loggerLevel=WARN".into(),
        ];
        let mut server = Server::spawn("victoria-metrics", &program, &args, &[], dir)?;
        let health = format!("http://{http}/health");
        // The ingest listeners open before the HTTP one.
        server.wait_ready("/health", || http_ok(&health))?;
        Ok(Self {
            http,
            graphite,
            opentsdb,
            opentsdb_http,
            server,
        })
    }

    /// `http://<http addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// The Prometheus remote-write endpoint.
    pub fn remote_write_url(&self) -> String {
        self.url("/api/v1/write")
    }

    /// Makes everything received so far readable.
    ///
    /// # Panics
    /// If the request fails.
    pub fn force_flush(&self) {
        if let Err(e) = ok_body(http_post_form(&self.url("/internal/force_flush"), &[])) {
            panic!(
                "victoria-metrics force_flush: {e}\n{}",
                self.server.log_tail(20)
            );
        }
    }

    fn try_export(&self, selector: &str) -> Result<Vec<Point>, String> {
        ok_body(http_post_form(&self.url("/internal/force_flush"), &[]))?;
        let body = ok_body(http_post_form(
            &self.url("/api/v1/export"),
            &[("match[]", selector)],
        ))?;
        let mut points = Vec::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let line: ExportLine =
                serde_json::from_str(line).map_err(|e| format!("export line {line:?}: {e}"))?;
            let mut labels = line.metric;
            let name = labels.remove("__name__").unwrap_or_default();
            if line.values.len() != line.timestamps.len() {
                return Err(format!(
                    "export: {} values, {} timestamps",
                    line.values.len(),
                    line.timestamps.len()
                ));
            }
            for (value, timestamp_ms) in line.values.iter().zip(line.timestamps) {
                points.push(Point {
                    name: name.clone(),
                    labels: labels.clone(),
                    timestamp_ms,
                    value: value.get().trim_matches('"').to_owned(),
                });
            }
        }
        Ok(sorted(points))
    }

    /// Flushes, then returns every sample of the series matching `selector` (a series
    /// selector such as `{__name__="a.b.c"}` or `{__name__=~"netdata\\..*"}`), sorted by
    /// series and time.
    ///
    /// # Panics
    /// If the query fails.
    pub fn export(&self, selector: &str) -> Vec<Point> {
        self.try_export(selector).unwrap_or_else(|e| {
            panic!(
                "victoria-metrics export {selector}: {e}\n{}",
                self.server.log_tail(20)
            )
        })
    }

    /// Polls [`VictoriaMetrics::export`] until it returns at least `count` samples, and
    /// returns them all.
    ///
    /// # Panics
    /// After [`DATA_TIMEOUT`], with the samples seen and the server's log.
    pub fn wait_for(&self, selector: &str, count: usize) -> Vec<Point> {
        poll(
            &format!("{count} samples of {selector} in victoria-metrics"),
            DATA_TIMEOUT,
            || enough(self.try_export(selector)?, count),
            || self.server.log_tail(20),
        )
    }

    /// The server process (log, directory, pid).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Kills the server now instead of at drop.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts the server again on the same ports with the same data, after [`stop`]
    /// (a restart after a crash), and waits for `/health`.
    ///
    /// # Panics
    /// With the server's log when it does not come back.
    ///
    /// [`stop`]: Self::stop
    pub fn restart(&mut self) {
        self.server.respawn();
        let health = format!("http://{}/health", self.http);
        if let Err(e) = self.server.wait_ready("/health", || http_ok(&health)) {
            panic!("victoria-metrics did not restart: {e:?}");
        }
    }
}

//! Prometheus 2.x (Debian `prometheus`) as a remote-write receiver
//! (`--web.enable-remote-write-receiver`), read back with the HTTP query API.
//!
//! It scrapes nothing. A remote write is answered `204` once the samples are queryable.
//! Prometheus is strict, which makes it a good check: a sample older than the series' last
//! one gets `400 out of order sample`, and one more than about an hour old on a new series
//! `400 out of bounds`. PromQL needs `{__name__="a.b"}` for names with dots.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    enough, free_addr, http_get, http_ok, ok_body, poll, require_program, seconds_text_to_ms,
    sorted, start_with_retries, Point, Server, StartError, TempDir, DATA_TIMEOUT,
};

/// A running Prometheus server.
#[derive(Debug)]
pub struct Prometheus {
    /// HTTP: `/api/v1/write` (remote write), `/api/v1/query`, `/-/ready`.
    pub http: SocketAddr,
    server: Server,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    error: Option<String>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<MatrixSeries>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(Box<RawValue>, String)>,
}

/// How far back [`Prometheus::samples`] looks, and how far ahead of now.
const LOOK_BACK_S: i64 = 2 * 86_400;
const LOOK_AHEAD_S: i64 = 3600;

impl Prometheus {
    /// Starts Prometheus on a free loopback port in a fresh directory and waits for
    /// `/-/ready`.
    ///
    /// # Panics
    /// With `peer not installed: prometheus ...` when the binary is missing, or with the
    /// server's log when it does not come up.
    pub fn start() -> Self {
        start_with_retries("prometheus", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let program = require_program("prometheus", "prometheus")?;
        let dir = TempDir::new("prometheus");
        let http = free_addr();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
        )
        .map_err(|e| StartError::Failed(format!("{e}")))?;
        let args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
            format!("--web.listen-address={http}"),
            "--web.enable-remote-write-receiver".into(),
            "--log.level=warn".into(),
        ];
        let mut server = Server::spawn("prometheus", &program, &args, &[], dir)?;
        let ready = format!("http://{http}/-/ready");
        server.wait_ready("/-/ready", || http_ok(&ready))?;
        Ok(Self { http, server })
    }

    /// `http://<http addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// The remote-write endpoint.
    pub fn remote_write_url(&self) -> String {
        self.url("/api/v1/write")
    }

    fn try_samples(&self, selector: &str) -> Result<Vec<Point>, String> {
        let at = super::now_s() + LOOK_AHEAD_S;
        let query = format!("{selector}[{}s]", LOOK_BACK_S + LOOK_AHEAD_S);
        let at = at.to_string();
        let body = ok_body(http_get(
            &self.url("/api/v1/query"),
            &[("query", query.as_str()), ("time", at.as_str())],
        ))?;
        let answer: Answer =
            serde_json::from_str(&body).map_err(|e| format!("answer {body:?}: {e}"))?;
        if answer.status != "success" {
            return Err(format!(
                "{}: {}",
                answer.status,
                answer.error.unwrap_or_default()
            ));
        }
        let data = answer.data.ok_or("answer without data")?;
        if data.result_type != "matrix" {
            return Err(format!(
                "result type {} instead of matrix",
                data.result_type
            ));
        }
        let mut points = Vec::new();
        for series in data.result {
            let mut labels = series.metric;
            let name = labels.remove("__name__").unwrap_or_default();
            for (time, value) in series.values {
                let timestamp_ms = seconds_text_to_ms(time.get())
                    .ok_or_else(|| format!("timestamp {}", time.get()))?;
                points.push(Point {
                    name: name.clone(),
                    labels: labels.clone(),
                    timestamp_ms,
                    value,
                });
            }
        }
        Ok(sorted(points))
    }

    /// Every raw sample of the series matching `selector` (`netdata_x{host="h1"}`,
    /// `{__name__="a.b"}`) from two days ago to an hour ahead, sorted by series and time;
    /// timestamps keep their milliseconds, values are Prometheus' text.
    ///
    /// # Panics
    /// If the query fails.
    pub fn samples(&self, selector: &str) -> Vec<Point> {
        self.try_samples(selector).unwrap_or_else(|e| {
            panic!(
                "prometheus query {selector}: {e}\n{}",
                self.server.log_tail(20)
            )
        })
    }

    /// Polls [`Prometheus::samples`] until there are at least `count`, and returns them.
    ///
    /// # Panics
    /// After [`DATA_TIMEOUT`], with the samples seen and the server's log.
    pub fn wait_for(&self, selector: &str, count: usize) -> Vec<Point> {
        poll(
            &format!("{count} samples of {selector} in prometheus"),
            DATA_TIMEOUT,
            || enough(self.try_samples(selector)?, count),
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
}

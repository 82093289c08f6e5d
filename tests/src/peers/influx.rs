//! InfluxDB 1.x (Debian `influxdb`) with a `[[graphite]]` and an `[[opentsdb]]` input,
//! read back with InfluxQL over HTTP `/query`.
//!
//! The graphite input has no templates: the measurement is the whole dotted name, with one
//! field, `value`, and no tags. The OpenTSDB input takes telnet `put` lines and HTTP
//! `/api/put` on the same port; the metric is the measurement, tags are tags, the field is
//! `value`. Both inputs batch for at most 100 ms. Their databases are created before
//! [`Influx::start`] returns: the inputs would create them only with their first batch, and
//! until then an HTTP `/api/put` fails with `database not found`.
//!
//! Gotchas: every listener binds all interfaces unless told otherwise (HTTP `:8086`);
//! without `epoch=` timestamps come back as RFC 3339 strings; values come back in Go's
//! shortest form (`-1e-7` for `-0.0000001`).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    enough, free_addr, http_get, http_ok, http_post_form, ok_body, poll, require_program, sorted,
    start_with_retries, tcp_open, Point, Server, StartError, TempDir, DATA_TIMEOUT,
};

/// The database of the graphite input.
pub const GRAPHITE_DB: &str = "graphite";
/// The database of the OpenTSDB input.
pub const OPENTSDB_DB: &str = "opentsdb";

/// A running `influxd`.
#[derive(Debug)]
pub struct Influx {
    /// HTTP API: `/query`, `/write`, `/ping`.
    pub http: SocketAddr,
    /// Graphite plaintext (TCP), into [`GRAPHITE_DB`].
    pub graphite: SocketAddr,
    /// OpenTSDB telnet `put` and HTTP `/api/put`, into [`OPENTSDB_DB`].
    pub opentsdb: SocketAddr,
    server: Server,
}

#[derive(Deserialize)]
struct QueryAnswer {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Series {
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    columns: Vec<String>,
    #[serde(default)]
    values: Vec<Vec<Box<RawValue>>>,
}

impl Influx {
    /// Starts `influxd` on free loopback ports in a fresh directory, waits for `/ping`,
    /// and creates the inputs' databases.
    ///
    /// # Panics
    /// With `peer not installed: influxdb ...` when the binary is missing, or with the
    /// server's log when it does not come up.
    pub fn start() -> Self {
        start_with_retries("influxd", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let program = require_program("influxdb", "influxd")?;
        let dir = TempDir::new("influxdb");
        let root = dir.path().display().to_string();
        let (http, rpc, graphite, opentsdb) = (free_addr(), free_addr(), free_addr(), free_addr());
        let config = format!(
            r#"reporting-disabled = true
bind-address = "{rpc}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "{http}"
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
[[graphite]]
  enabled = true
  bind-address = "{graphite}"
  database = "{GRAPHITE_DB}"
  protocol = "tcp"
  batch-size = 1000
  batch-timeout = "100ms"
[[opentsdb]]
  enabled = true
  bind-address = "{opentsdb}"
  database = "{OPENTSDB_DB}"
  batch-size = 1000
  batch-timeout = "100ms"
"#
        );
        let config_path = dir.path().join("influxdb.conf");
        std::fs::write(&config_path, config).map_err(|e| StartError::Failed(format!("{e}")))?;
        let args = vec![
            "run".into(),
            "-config".into(),
            config_path.display().to_string(),
        ];
        let mut server = Server::spawn("influxd", &program, &args, &[], dir)?;
        let ping = format!("http://{http}/ping");
        // The inputs open their ports after the HTTP service.
        server.wait_ready("/ping and the inputs", || {
            http_ok(&ping) && tcp_open(graphite) && tcp_open(opentsdb)
        })?;
        let influx = Self {
            http,
            graphite,
            opentsdb,
            server,
        };
        for db in [GRAPHITE_DB, OPENTSDB_DB] {
            influx
                .try_execute(&format!("CREATE DATABASE {db}"))
                .map_err(|e| StartError::Failed(format!("CREATE DATABASE {db}: {e}")))?;
        }
        Ok(influx)
    }

    /// `http://<http addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    fn try_execute(&self, statement: &str) -> Result<String, String> {
        let body = ok_body(http_post_form(&self.url("/query"), &[("q", statement)]))?;
        check_errors(&body)?;
        Ok(body)
    }

    /// Runs a statement that changes something (`CREATE DATABASE x`, `DROP ...`).
    ///
    /// # Panics
    /// If InfluxDB answers with an error.
    pub fn execute(&self, statement: &str) {
        if let Err(e) = self.try_execute(statement) {
            panic!("influx {statement}: {e}\n{}", self.server.log_tail(20));
        }
    }

    fn try_query(&self, db: &str, query: &str) -> Result<Vec<Point>, String> {
        let body = ok_body(http_get(
            &self.url("/query"),
            &[("db", db), ("epoch", "ms"), ("q", query)],
        ))?;
        let answer: QueryAnswer =
            serde_json::from_str(&body).map_err(|e| format!("answer {body:?}: {e}"))?;
        if let Some(e) = answer.error {
            return Err(e);
        }
        let mut points = Vec::new();
        for result in answer.results {
            if let Some(e) = result.error {
                return Err(e);
            }
            for series in result.series {
                points.extend(series_points(series)?);
            }
        }
        Ok(sorted(points))
    }

    /// The points of an InfluxQL query on `db`, timestamps in milliseconds. Each non-null
    /// field of a row is one point, named after the measurement; a field other than `value`
    /// gets the label `_field`. Tags come from `GROUP BY` (empty tags are left out) or from
    /// tag columns of `SELECT *`.
    ///
    /// # Panics
    /// If the query fails.
    pub fn query(&self, db: &str, query: &str) -> Vec<Point> {
        self.try_query(db, query).unwrap_or_else(|e| {
            panic!(
                "influx query {query:?} on {db}: {e}\n{}",
                self.server.log_tail(20)
            )
        })
    }

    /// Every point of every measurement in `db`, sorted by series and time.
    pub fn points(&self, db: &str) -> Vec<Point> {
        self.query(db, ALL)
    }

    /// Polls [`Influx::points`] until `db` holds at least `count` points, and returns them.
    ///
    /// # Panics
    /// After [`DATA_TIMEOUT`], with the points seen and the server's log.
    pub fn wait_for(&self, db: &str, count: usize) -> Vec<Point> {
        poll(
            &format!("{count} points in influx database {db}"),
            DATA_TIMEOUT,
            || enough(self.try_query(db, ALL)?, count),
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

/// Every series of a database, one series per tag set.
const ALL: &str = "SELECT * FROM /.*/ GROUP BY *";

fn check_errors(body: &str) -> Result<(), String> {
    let answer: QueryAnswer =
        serde_json::from_str(body).map_err(|e| format!("answer {body:?}: {e}"))?;
    if let Some(e) = answer.error {
        return Err(e);
    }
    match answer.results.into_iter().find_map(|r| r.error) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn series_points(series: Series) -> Result<Vec<Point>, String> {
    let time_col = series
        .columns
        .iter()
        .position(|c| c == "time")
        .ok_or_else(|| format!("series {} has no time column", series.name))?;
    let tags: BTreeMap<String, String> = series
        .tags
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let mut points = Vec::new();
    for row in &series.values {
        let time = row.get(time_col).map(|t| t.get()).unwrap_or("null");
        let timestamp_ms: i64 = time.parse().map_err(|e| format!("time {time:?}: {e}"))?;
        // String cells are tags (SELECT * without GROUP BY), numbers and booleans fields.
        let mut row_tags = tags.clone();
        let mut fields = Vec::new();
        for (i, cell) in row.iter().enumerate() {
            let text = cell.get();
            if i == time_col || text == "null" {
                continue;
            }
            let column = series.columns[i].clone();
            match serde_json::from_str::<String>(text) {
                Ok(s) if column != "value" => {
                    row_tags.insert(column, s);
                }
                Ok(s) => fields.push((column, s)),
                Err(_) => fields.push((column, text.to_owned())),
            }
        }
        for (column, value) in fields {
            let mut labels = row_tags.clone();
            if column != "value" {
                labels.insert("_field".into(), column);
            }
            points.push(Point {
                name: series.name.clone(),
                labels,
                timestamp_ms,
                value,
            });
        }
    }
    Ok(points)
}

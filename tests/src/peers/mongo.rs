//! nx-27017 (PyPI `nx-27017`): a MongoDB wire-protocol server (`OP_MSG`, document
//! sequences, `hello`) backed by SQLite, read back with pymongo.
//!
//! No real `mongod` can be installed on the project's machines (Debian does not package
//! it and every installer downloads it at run time), so nx-27017 stands in for it. Both
//! come from the Python venv that `scripts/peers.sh install` makes: the first of
//! `$BACKHAUL_PEERS_VENV`, `/opt/backhaul-peers/venv` and
//! `${XDG_CACHE_HOME:-$HOME/.cache}/backhaul-peers/venv` that holds `bin/nx-27017`.
//!
//! The server is started with `--data-dir` (one SQLite file per database, kept across a
//! [`Mongo::restart`]), and always with `--log-file` and `--pid-file` inside its own
//! directory (their defaults are fixed names shared by every instance in `/tmp`).
//!
//! Reading back runs a small pymongo script with the venv's Python; each document comes
//! back as canonical Extended JSON (so a double stays `{"$numberDouble": "…"}` and an
//! int32 `{"$numberInt": "…"}`), with its field names in stored order ([`StoredDocument`]).
//!
//! Gotchas: it is an emulator, not MongoDB. A small int64 comes back as an int32: compare
//! values, not integer types. Each document of an insert is its own SQLite insert, so a
//! server killed in the middle of a batch keeps the documents before the kill.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{free_addr, poll, start_with_retries, tcp_open, Server, StartError, TempDir};

/// Where `scripts/peers.sh` puts the venv when it runs as root.
pub const SYSTEM_VENV: &str = "/opt/backhaul-peers/venv";

/// The pymongo side of the harness: `URI COMMAND DATABASE COLLECTION [ARGS...]`.
const CLIENT: &str = r#"
import sys
from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from pymongo import MongoClient

uri, command, db, name = sys.argv[1:5]
client = MongoClient(uri, serverSelectionTimeoutMS=5000, directConnection=True)
collection = client[db][name]
if command == "find":
    for doc in collection.find({}, {"_id": 0}):
        keys = json_util.dumps(list(doc.keys()))
        body = json_util.dumps(doc, json_options=CANONICAL_JSON_OPTIONS)
        print('{"keys": %s, "doc": %s}' % (keys, body))
elif command == "count":
    print(collection.count_documents({}))
elif command == "insert":
    docs = [json_util.loads(line) for line in sys.stdin if line.strip()]
    print(len(collection.insert_many(docs).inserted_ids))
elif command == "unique-index":
    print(collection.create_index([(key, 1) for key in sys.argv[5:]], unique=True))
else:
    sys.exit("unknown command " + command)
"#;

/// One stored document: its fields in stored order, and its value as canonical Extended
/// JSON (without `_id`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StoredDocument {
    /// The field names, in the order the server keeps them.
    pub keys: Vec<String>,
    /// The document.
    pub doc: Map<String, Value>,
}

impl StoredDocument {
    /// A string field.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.doc.get(key).and_then(Value::as_str)
    }

    /// A number field, whatever its BSON type: `(type, value)` with the type `int`,
    /// `long` or `double` and the value as the canonical text (`"63945"`, `"2.3362763"`,
    /// `"-0.0"`).
    pub fn number(&self, key: &str) -> Option<(&'static str, &str)> {
        let object = self.doc.get(key)?.as_object()?;
        [
            ("$numberInt", "int"),
            ("$numberLong", "long"),
            ("$numberDouble", "double"),
        ]
        .into_iter()
        .find_map(|(tag, kind)| Some((kind, object.get(tag)?.as_str()?)))
    }
}

/// A running nx-27017 server.
#[derive(Debug)]
pub struct Mongo {
    /// Its address (MongoDB wire protocol).
    pub addr: SocketAddr,
    python: PathBuf,
    server: Server,
}

/// The venv holding nx-27017 and pymongo, if one is installed.
pub fn venv() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BACKHAUL_PEERS_VENV") {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")));
    let mut candidates = vec![PathBuf::from(SYSTEM_VENV)];
    candidates.extend(cache.map(|c| c.join("backhaul-peers/venv")));
    candidates
        .into_iter()
        .find(|v| v.join("bin/nx-27017").is_file())
}

impl Mongo {
    /// Starts nx-27017 on a free loopback port in a fresh directory and waits until it
    /// accepts connections.
    ///
    /// # Panics
    /// With `peer not installed: nx-27017 ...` when the venv is missing, or with the
    /// server's log when it does not come up.
    pub fn start() -> Self {
        start_with_retries("nx-27017", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let venv = venv()
            .filter(|v| v.join("bin/nx-27017").is_file())
            .ok_or_else(|| {
                StartError::NotInstalled(format!(
                    "peer not installed: nx-27017 and pymongo (no venv with bin/nx-27017 in \
                 $BACKHAUL_PEERS_VENV, {SYSTEM_VENV} or ~/.cache/backhaul-peers/venv); \
                 install the peers with `sudo scripts/peers.sh install`"
                ))
            })?;
        let dir = TempDir::new("nx-27017");
        let addr = free_addr();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let args = vec![
            "--data-dir".into(),
            path("db"),
            "--host".into(),
            addr.ip().to_string(),
            "-p".into(),
            addr.port().to_string(),
            "--log-file".into(),
            path("nx.log"),
            "--pid-file".into(),
            path("nx.pid"),
        ];
        let program = venv.join("bin/nx-27017");
        let mut server = Server::spawn("nx-27017", &program, &args, &[], dir)?;
        server.wait_ready("a TCP connection", || tcp_open(addr))?;
        Ok(Self {
            addr,
            python: venv.join("bin/python"),
            server,
        })
    }

    /// `mongodb://127.0.0.1:PORT/`.
    pub fn uri(&self) -> String {
        format!("mongodb://{}/", self.addr)
    }

    /// Runs the pymongo client: `command` on `db.collection`, `stdin` as its input.
    fn client(
        &self,
        command: &str,
        db: &str,
        collection: &str,
        args: &[&str],
        stdin: &str,
    ) -> Result<String, String> {
        use std::io::Write;
        let mut child = Command::new(&self.python)
            .arg("-c")
            .arg(CLIENT)
            .args([&self.uri(), command, db, collection])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.python.display()))?;
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin.as_bytes())
                .map_err(|e| format!("pymongo stdin: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("pymongo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pymongo {command} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| format!("pymongo output: {e}"))
    }

    fn must<T>(&self, what: &str, result: Result<T, String>) -> T {
        result.unwrap_or_else(|e| panic!("nx-27017 {what}: {e}\n{}", self.log_tail()))
    }

    fn log_tail(&self) -> String {
        let nx_log = std::fs::read_to_string(self.server.dir().join("nx.log")).unwrap_or_default();
        let lines: Vec<&str> = nx_log.lines().collect();
        format!(
            "{}\n--- last lines of nx.log ---\n{}",
            self.server.log_tail(20),
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }

    fn try_documents(&self, db: &str, collection: &str) -> Result<Vec<StoredDocument>, String> {
        self.client("find", db, collection, &[], "")?
            .lines()
            .map(|line| serde_json::from_str(line).map_err(|e| format!("{line:?}: {e}")))
            .collect()
    }

    /// Every document of `db.collection`, in insertion order.
    ///
    /// # Panics
    /// If pymongo fails.
    pub fn documents(&self, db: &str, collection: &str) -> Vec<StoredDocument> {
        self.must("find", self.try_documents(db, collection))
    }

    /// Polls [`Mongo::documents`] until there are at least `count`, and returns them all.
    ///
    /// # Panics
    /// After [`super::DATA_TIMEOUT`], with what was seen and the server's log.
    pub fn wait_for(&self, db: &str, collection: &str, count: usize) -> Vec<StoredDocument> {
        poll(
            &format!("{count} documents in {db}.{collection}"),
            super::DATA_TIMEOUT,
            || {
                let docs = self.try_documents(db, collection)?;
                if docs.len() >= count {
                    Ok(Some(docs))
                } else {
                    Err(format!("{} of {count} documents", docs.len()))
                }
            },
            || self.log_tail(),
        )
    }

    /// The number of documents in `db.collection`.
    ///
    /// # Panics
    /// If pymongo fails.
    pub fn count(&self, db: &str, collection: &str) -> usize {
        let out = self.client("count", db, collection, &[], "");
        let text = self.must("count", out);
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("count {text:?}: {e}"))
    }

    /// Inserts documents given as (canonical or relaxed) Extended JSON.
    ///
    /// # Panics
    /// If pymongo fails.
    pub fn insert(&self, db: &str, collection: &str, docs: &[Value]) {
        let lines: Vec<String> = docs.iter().map(Value::to_string).collect();
        let out = self.client("insert", db, collection, &[], &lines.join("\n"));
        self.must("insert", out);
    }

    /// Creates a unique index on `keys` (ascending).
    ///
    /// # Panics
    /// If pymongo fails.
    pub fn unique_index(&self, db: &str, collection: &str, keys: &[&str]) {
        let out = self.client("unique-index", db, collection, keys, "");
        self.must("create_index", out);
    }

    /// The server process (log, directory, pid).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Kills the server now instead of at drop.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts the server again on the same port with the same data, after
    /// [`Mongo::stop`], and waits until it accepts connections.
    ///
    /// # Panics
    /// With the server's log when it does not come back.
    pub fn restart(&mut self) {
        self.server.respawn();
        let addr = self.addr;
        if let Err(e) = self
            .server
            .wait_ready("a TCP connection", || tcp_open(addr))
        {
            panic!("nx-27017 did not restart: {e:?}");
        }
    }
}

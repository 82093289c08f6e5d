//! MongoDB: each batch of BSON documents becomes one `OP_MSG` `insert`, spoken directly
//! on the connection (no driver).
//!
//! * **Settings** ([`load`]): an instance section's `destination` (a `mongodb://` URI),
//!   `database` and `collection`, as in netdata's exporting engine; what they leave out
//!   comes from `mongodb.conf` next to the configuration file (netdata's file and grammar,
//!   spec §5.2; `conf.rs`), which is all `[backend]` reads. The URI gives the servers,
//!   tried in order, and the options of `uri.rs`.
//! * **Requests** (`wire.rs`): the engine hands over bare batches that are runs of BSON
//!   documents (`Wire::Bson`); each becomes `{insert: COLLECTION, ordered: false,
//!   $db: DATABASE}` with the batch as its `documents` sequence. `ordered: false` makes
//!   the server insert every document it can, so one refused document never costs the
//!   others.
//! * **Replies** ([`MongoCodec::feed`]): read in bounded memory and judged:
//!
//! | reply | verdict |
//! | --- | --- |
//! | `ok: 1`, no `writeErrors` | delivered |
//! | `ok: 1` with `writeErrors` | delivered, except one record lost (rejected) per write error; the first error is logged |
//! | `ok: 1` with a `writeConcernError` | delivered (the documents *were* written; sending them again would duplicate them); logged |
//! | `ok: 0`, a transient code (not primary, shutting down, network, time limit, rate limit) or a `RetryableWriteError` label | retried after a backoff; after "not primary" or a shutdown, on a new connection |
//! | `ok: 0`, any other code | the batch is dropped and its records counted as lost (rejected), with the code and message logged |
//! | not `OP_MSG`, over 16 MiB + 64 KiB, answering another request, malformed | the connection is closed and the batch sent again on the next one |
//!
//! # Batch size
//!
//! A batch body is at most [`MAX_BODY`] (16 MiB), so every request stays within what
//! every server since 3.6 accepts: a document is at most `bson::MAX_DOCUMENT_LEN`
//! (3,182 bytes, far below `maxBsonObjectSize`, 16 MiB); the whole message is 16 MiB
//! plus the command document, below `maxMessageSizeBytes` (48,000,000, checked for each
//! request all the same); and since the
//! smallest document the formatter writes is [`MIN_DOCUMENT_LEN`] bytes, a batch holds at
//! most 93,727 documents, below `maxWriteBatchSize` (100,000). So no `hello` handshake is
//! needed to learn the limits.

mod bson;
mod conf;
mod uri;
mod wire;

use std::path::Path;

use backhaul_core::engine::Outcome;

use crate::codec::{Codec, Verdict};
use crate::net::{Target, TargetKind};
use crate::tls::TlsOptions;

use self::bson::{Document, Value};

/// The largest batch body (BSON documents), within one `OP_MSG`.
pub const MAX_BODY: usize = 16 << 20;

/// The smallest document `bson::write_document` writes: every string field empty, no
/// host tags, an int32 value and timestamp.
pub const MIN_DOCUMENT_LEN: usize = 179;

const _: () = assert!(MAX_BODY / MIN_DOCUMENT_LEN <= wire::MAX_WRITE_BATCH);
const _: () = assert!(MAX_BODY + 1024 <= wire::MAX_MESSAGE_SIZE);

/// The database when neither the settings nor the URI name one.
pub const DEFAULT_DATABASE: &str = "netdata";

/// The acknowledgement asked of the server (`w`, `journal`, `wtimeoutMS` in the URI);
/// without any, the server's default write concern applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteConcern {
    /// `w`: a number of members or a tag such as `majority`.
    pub w: Option<W>,
    /// `journal` (`j`).
    pub journal: Option<bool>,
    /// `wtimeoutMS` (`wtimeout`).
    pub timeout_ms: Option<u64>,
}

/// The `w` of a [`WriteConcern`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum W {
    /// A number of members (at least 1).
    Number(i32),
    /// A tag: `majority` or a custom one.
    Tag(String),
}

/// A MongoDB destination's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MongoSpec {
    /// TLS settings (`None` without `tls=true` in the URI).
    pub tls: Option<TlsOptions>,
    /// The database (see [`load`] for where it comes from).
    pub database: String,
    /// The collection.
    pub collection: String,
    /// The write concern of the URI, if it sets one.
    pub write_concern: Option<WriteConcern>,
    /// The smallest of the URI's `socketTimeoutMS` and `connectTimeoutMS` that are set
    /// and not 0 (MongoDB's "no timeout").
    pub uri_timeout_ms: Option<u64>,
    /// `appName` (checked; not sent, as backhaul sends no handshake).
    pub app_name: Option<String>,
}

impl MongoSpec {
    /// The destination's timeout: `timeout ms`, lowered to the URI's timeouts if they
    /// are shorter.
    pub fn timeout_ms(&self, timeout_ms: u64) -> u64 {
        self.uri_timeout_ms
            .map_or(timeout_ms, |t| t.min(timeout_ms))
    }
}

/// Builds `OP_MSG` inserts and reads their replies.
#[derive(Debug)]
pub struct MongoCodec {
    spec: MongoSpec,
    /// The next request id (positive, wrapping).
    next_id: i32,
    /// The request on the wire: its id and how many documents it carries.
    pending: Option<(i32, usize)>,
    /// Reply bytes not yet judged.
    inbox: Vec<u8>,
}

impl MongoCodec {
    /// A codec for one destination.
    pub fn new(spec: MongoSpec) -> Self {
        Self {
            spec,
            next_id: 1,
            pending: None,
            inbox: Vec::new(),
        }
    }
}

impl Codec for MongoCodec {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        let count = wire::count_documents(body)?;
        let id = self.next_id;
        self.next_id = if id == i32::MAX { 1 } else { id + 1 };
        wire::encode_insert(
            id,
            &self.spec.collection,
            &self.spec.database,
            self.spec.write_concern.as_ref(),
            body,
            out,
        )?;
        self.pending = Some((id, count));
        Ok(())
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<Option<Verdict>, String> {
        // Never hold more than one reply's worth: `frame` refuses a longer one as soon as
        // its length is in.
        let room = wire::MAX_REPLY.saturating_sub(self.inbox.len());
        self.inbox
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        let Some(len) = wire::frame(&self.inbox)? else {
            return Ok(None);
        };
        let (id, count) = self
            .pending
            .take()
            .ok_or("the server sent a reply to no request")?;
        let verdict = {
            let doc = wire::reply_document(&self.inbox[..len], id)?;
            judge(doc, count)?
        };
        self.inbox.drain(..len);
        Ok(Some(verdict))
    }

    fn reset(&mut self) {
        self.inbox.clear();
        self.pending = None;
    }
}

/// Codes after which the same request may succeed later (MongoDB's retryable-writes
/// list, plus time limits, write conflicts and Cosmos DB's rate limiting).
const TRANSIENT: &[i64] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    50,    // MaxTimeMSExpired
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    112,   // WriteConflict
    189,   // PrimarySteppedDown
    202,   // NetworkInterfaceExceededTimeLimit
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
    16500, // RequestRateTooLarge (Azure Cosmos DB)
];

/// Codes after which this server cannot take writes: reconnect (starting again with the
/// first host of the list).
const NOT_PRIMARY: &[i64] = &[91, 189, 10107, 11600, 11602, 13435, 13436];

/// A server-supplied text, fit for one log line.
fn clean(text: &str) -> String {
    const MAX: usize = 300;
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// A server error, as a field of the reply or of a write error.
struct ServerError {
    code: Option<i64>,
    code_name: Option<String>,
    errmsg: Option<String>,
}

impl ServerError {
    fn of(doc: Document<'_>) -> Result<Self, String> {
        let e = |e: bson::Error| e.to_string();
        Ok(Self {
            code: doc.get("code").map_err(e)?.and_then(Value::as_i64),
            code_name: doc.get("codeName").map_err(e)?.and_then(Value::as_text),
            errmsg: doc.get("errmsg").map_err(e)?.and_then(Value::as_text),
        })
    }

    /// `code 11000 (DuplicateKey): E11000 duplicate key ...`.
    fn describe(&self) -> String {
        let mut out = match self.code {
            Some(code) => format!("code {code}"),
            None => "no code".to_owned(),
        };
        if let Some(name) = &self.code_name {
            out.push_str(&format!(" ({})", clean(name)));
        }
        out.push_str(": ");
        out.push_str(&clean(self.errmsg.as_deref().unwrap_or("no message")));
        out
    }

    fn not_primary(&self) -> bool {
        match self.code {
            Some(code) => NOT_PRIMARY.contains(&code),
            // Servers before 3.6 said it in words only; kept for proxies that still do.
            None => self.errmsg.as_deref().is_some_and(|m| {
                m.contains("not master") || m.contains("not primary") || m.contains("recovering")
            }),
        }
    }
}

/// Whether `labels` (an array of strings) holds `label`.
fn has_label(labels: Option<Value<'_>>, label: &str) -> Result<bool, String> {
    let Some(Value::Array(labels)) = labels else {
        return Ok(false);
    };
    for element in labels.elements() {
        let (_, value) = element.map_err(|e| e.to_string())?;
        if value == Value::String(label.as_bytes()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What the reply document `doc` to an insert of `count` documents means.
fn judge(doc: Document<'_>, count: usize) -> Result<Verdict, String> {
    let e = |e: bson::Error| e.to_string();
    let ok = doc
        .get("ok")
        .map_err(e)?
        .and_then(Value::as_i64)
        .ok_or("a reply without a numeric `ok`")?;
    let concern = match doc.get("writeConcernError").map_err(e)? {
        Some(Value::Document(wce)) => Some(ServerError::of(wce)?),
        _ => None,
    };
    if ok == 1 {
        let mut errors = 0usize;
        let mut first = None;
        if let Some(Value::Array(list)) = doc.get("writeErrors").map_err(e)? {
            for element in list.elements() {
                let (_, value) = element.map_err(e)?;
                if first.is_none() {
                    if let Value::Document(we) = value {
                        let index = we.get("index").map_err(e)?.and_then(Value::as_i64);
                        first = Some((index, ServerError::of(we)?));
                    }
                }
                errors += 1;
            }
        }
        let inserted = doc.get("n").map_err(e)?.and_then(Value::as_i64);
        // `n` counts the documents inserted; anything neither inserted nor refused by a
        // write error is unaccounted for, and counted as refused too.
        let unaccounted = inserted
            .and_then(|n| usize::try_from(n).ok())
            .map_or(0, |n| count.saturating_sub(n.saturating_add(errors)));
        let rejected = errors.saturating_add(unaccounted).min(count);
        let mut parts = Vec::new();
        if let Some((index, error)) = &first {
            let at = index.map_or_else(String::new, |i| format!(" (document {i})"));
            parts.push(format!(
                "{errors} of {count} documents refused; the first{at}: {}",
                error.describe()
            ));
        }
        if unaccounted > 0 {
            parts.push(format!(
                "the server inserted {} of {count} documents without saying why not the \
                 others; counted as refused",
                inserted.unwrap_or(0)
            ));
        }
        if let Some(concern) = &concern {
            parts.push(format!(
                "the write concern failed ({}); the documents were written, so they are \
                 not sent again",
                concern.describe()
            ));
        }
        return Ok(Verdict {
            outcome: Outcome::Delivered {
                rejected: rejected as u64,
            },
            message: (!parts.is_empty()).then(|| parts.join("; ")),
            close: false,
        });
    }
    if ok != 0 {
        return Err(format!("a reply with ok: {ok}"));
    }
    let error = ServerError::of(doc)?;
    let labelled = has_label(doc.get("errorLabels").map_err(e)?, "RetryableWriteError")?;
    let transient = error.code.is_some_and(|c| TRANSIENT.contains(&c));
    let not_primary = error.not_primary();
    if transient || labelled || not_primary || concern.is_some() {
        let then = if not_primary {
            "reconnecting and sending the batch again"
        } else {
            "sending the batch again after a pause"
        };
        return Ok(Verdict {
            outcome: Outcome::Retry { status: 0 },
            message: Some(format!("insert failed: {}; {then}", error.describe())),
            close: not_primary,
        });
    }
    Ok(Verdict {
        outcome: Outcome::Rejected { status: 0 },
        message: Some(format!(
            "insert refused: {}; the batch's {count} records are dropped",
            error.describe()
        )),
        close: false,
    })
}

/// Reads an instance's settings into the servers to connect to and the codec's settings.
///
/// Each setting comes from the first place that has it:
///
/// * the URI: an instance section's `destination` when it is a URI (`mongodb://…`, as
///   netdata's exporting engine takes it), else `uri` in `mongodb.conf`. `[backend]`
///   always reads `mongodb.conf` (netdata ignores its `destination`);
/// * the collection: the instance's `collection`, else `mongodb.conf`;
/// * the database: the instance's `database`, else `mongodb.conf`, else the URI's path,
///   else [`DEFAULT_DATABASE`].
///
/// `mongodb.conf` is in `config_dir`; it must exist when the URI or the collection has to
/// come from it, and is checked whenever it exists.
///
/// # Errors
///
/// A message naming the option, or the file, line and setting, that is wrong.
pub fn load(
    instance: &backhaul_core::config::InstanceConfig<'_>,
    config_dir: &Path,
) -> Result<(Vec<Target>, MongoSpec), String> {
    let destination_uri = (instance.name != "backend" && instance.destination.contains("://"))
        .then_some(instance.destination);
    let path = config_dir.join("mongodb.conf");
    let file = path.display();
    let needed = destination_uri.is_none() || instance.collection.is_none();
    let conf = match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| format!("{file}: not valid UTF-8"))?;
            conf::parse(&text).map_err(|e| format!("{file}:{e}"))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !needed => conf::MongoConf::default(),
        Err(e) => {
            let wanted = if destination_uri.is_none() {
                "the uri (or set `destination = mongodb://HOST:PORT/`)"
            } else {
                "the collection (or set `collection`)"
            };
            return Err(format!(
                "{file}: cannot read: {e}; type mongodb takes {wanted} from it"
            ));
        }
    };
    let at = |setting: &conf::Setting, name: &str, e: String| {
        format!("{file}:{}: {name}: {e}", setting.line)
    };
    let parsed = match (destination_uri, &conf.uri) {
        (Some(uri), _) => uri::parse(uri).map_err(|e| format!("destination: {e}"))?,
        (None, Some(setting)) => uri::parse(&setting.value).map_err(|e| at(setting, "uri", e))?,
        (None, None) => return Err(format!("{file}: uri: missing (uri = mongodb://HOST:PORT/)")),
    };
    let collection = match (instance.collection, &conf.collection) {
        (Some(name), _) => {
            check_collection(name).map_err(|e| format!("collection: {e}"))?;
            name.to_owned()
        }
        (None, Some(setting)) if !setting.value.is_empty() => {
            check_collection(&setting.value).map_err(|e| at(setting, "collection", e))?;
            setting.value.clone()
        }
        (None, _) => return Err(format!("{file}: collection: missing (collection = NAME)")),
    };
    let database = match (instance.database, &conf.database) {
        (Some(name), _) => {
            uri::check_database(name).map_err(|e| format!("database: {e}"))?;
            name.to_owned()
        }
        (None, Some(setting)) => {
            uri::check_database(&setting.value).map_err(|e| at(setting, "database", e))?;
            setting.value.clone()
        }
        (None, None) => parsed
            .database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
    };
    if let Some(tls) = &parsed.tls {
        // Certificates and keys are checked now, so that --check-config reports them.
        crate::tls::client_config(tls).map_err(|e| match (destination_uri, &conf.uri) {
            (None, Some(setting)) => at(setting, "uri", e),
            _ => format!("destination: {e}"),
        })?;
    }
    let targets = parsed
        .hosts
        .iter()
        .map(|host| Target {
            text: host.text(),
            kind: match host {
                uri::Host::Tcp { host, port } => TargetKind::Tcp {
                    host: host.clone(),
                    port: port.to_string(),
                },
                uri::Host::Unix(path) => TargetKind::Unix(path.clone()),
            },
        })
        .collect();
    let uri_timeout_ms = [parsed.socket_timeout_ms, parsed.connect_timeout_ms]
        .into_iter()
        .flatten()
        .filter(|&t| t > 0)
        .min();
    Ok((
        targets,
        MongoSpec {
            tls: parsed.tls,
            database,
            collection,
            write_concern: parsed.write_concern,
            uri_timeout_ms,
            app_name: parsed.app_name,
        },
    ))
}

/// Checks a collection name as MongoDB does.
fn check_collection(name: &str) -> Result<(), String> {
    if name.contains('\0') {
        return Err("a NUL byte cannot be in a collection name".to_owned());
    }
    if name.contains('$') {
        return Err(format!("collection name {name:?}: '$' cannot be in it"));
    }
    if name.starts_with("system.") {
        return Err(format!(
            "collection name {name:?}: the system. prefix is MongoDB's own"
        ));
    }
    if name.starts_with('.') || name.ends_with('.') {
        return Err(format!(
            "collection name {name:?}: cannot start or end with '.'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

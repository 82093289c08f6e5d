//! The real `backhaul` binary exporting to MongoDB's wire protocol: nx-27017 (an `OP_MSG`
//! server backed by SQLite, read back with pymongo; no real `mongod` can be installed on
//! the project's machines) and, for replies nx-27017 never sends, a scripted server in
//! this file.
//!
//! Every test runs the daemon with `--print json` next to its MongoDB destination: the
//! printed JSON lines are the records the engines format (same spans, same windows),
//! written by the JSON formatter, so each stored document is compared field by field
//! with the JSON line of the same chart, dimension and timestamp — two formatters, the
//! wire and a server in between.
//!
//! The server comes from `scripts/peers.sh install` (a Python venv with nx-27017 and
//! pymongo).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backhaul_tests::daemon::compare::assert_same_keys;
use backhaul_tests::daemon::{wait_until, Daemon, Launch};
use backhaul_tests::peers::mongo::StoredDocument;
use backhaul_tests::peers::{self, Mongo};
use serde_json::{Map, Value};

const DB: &str = "netdata_it";
const COLLECTION: &str = "metrics";

/// The fields of a document, in netdata's order (spec §4.4 and §4.8), without host tags.
const FIELDS: [&str; 12] = [
    "prefix",
    "hostname",
    "chart_id",
    "chart_name",
    "chart_family",
    "chart_context",
    "chart_type",
    "units",
    "id",
    "name",
    "value",
    "timestamp",
];

/// (chart id, dimension id, timestamp).
type Key = (String, String, i64);

/// Starts the daemon with one `[mongodb:mongo]` instance and `mongodb.conf` holding
/// `uri`, the database and the collection next to its configuration (netdata's file).
fn start(uri: &str) -> Daemon {
    let conf = format!(
        "# written by the test\nuri = \"{uri}\"\ndatabase = {DB}\ncollection = {COLLECTION}\n"
    );
    start_with("", Some(&conf))
}

/// The same, with everything in the instance section (netdata's exporting engine's
/// options) and no `mongodb.conf`.
fn start_in_section(uri: &str) -> Daemon {
    let section =
        format!("    destination = {uri}\n    database = {DB}\n    collection = {COLLECTION}\n");
    start_with(&section, None)
}

fn start_with(section: &str, mongodb_conf: Option<&str>) -> Daemon {
    let config = format!(
        "[mongodb:mongo]\n    update every = 1\n    data source = average\n    \
         timeout ms = 3000\n{section}"
    );
    let mut launch = Launch::new(env!("CARGO_BIN_EXE_backhaul"), "json", &config).args([
        "--synthetic-metrics",
        "10",
        "--history",
        "600",
    ]);
    if let Some(conf) = mongodb_conf {
        launch = launch.file("mongodb.conf", conf);
    }
    launch.start()
}

/// The printed JSON lines, by (chart id, dimension id, timestamp).
fn printed_records(backhaul: &Daemon) -> BTreeMap<Key, Map<String, Value>> {
    let mut map = BTreeMap::new();
    for line in backhaul.printed() {
        let record: Map<String, Value> = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("printed line {line:?} is not JSON: {e}"));
        let key = (
            record["chart_id"].as_str().unwrap().to_owned(),
            record["id"].as_str().unwrap().to_owned(),
            record["timestamp"].as_i64().unwrap(),
        );
        assert!(map.insert(key, record).is_none(), "printed twice: {line}");
    }
    map
}

/// The stored documents, by key; each key once.
fn stored(docs: &[StoredDocument]) -> BTreeMap<Key, &StoredDocument> {
    let mut map = BTreeMap::new();
    for doc in docs {
        let (_, ts) = doc.number("timestamp").expect("a numeric timestamp");
        let key = (
            doc.str("chart_id").unwrap().to_owned(),
            doc.str("id").unwrap().to_owned(),
            ts.parse().unwrap(),
        );
        assert!(map.insert(key, doc).is_none(), "stored twice: {doc:?}");
    }
    map
}

/// Every field of `doc` equals the field of the printed JSON line `record`: strings as
/// strings, the value as the same double (BSON double, as netdata's libbson parses
/// `%0.7Lf`), the timestamp as the same integer (nx-27017 may return any integer type).
fn assert_fields(key: &Key, record: &Map<String, Value>, doc: &StoredDocument) {
    assert_eq!(doc.keys, FIELDS, "{key:?}: field order");
    let printed: BTreeSet<&str> = record.keys().map(String::as_str).collect();
    assert_eq!(printed, FIELDS.iter().copied().collect(), "{key:?}");
    for field in &FIELDS[..10] {
        assert_eq!(
            doc.str(field),
            record[*field].as_str(),
            "{key:?}: field {field}"
        );
    }
    let (kind, value) = doc.number("value").expect("a numeric value");
    assert_eq!(kind, "double", "{key:?}: an average is a double");
    let want = record["value"].as_f64().unwrap();
    let got: f64 = value.parse().unwrap();
    assert_eq!(got.to_bits(), want.to_bits(), "{key:?}: value {value}");
    let (_, ts) = doc.number("timestamp").unwrap();
    assert_eq!(
        ts.parse::<i64>().ok(),
        record["timestamp"].as_i64(),
        "{key:?}"
    );
}

/// The stored documents are exactly the printed records: none missing, none extra, none
/// twice, every field equal.
fn assert_same(docs: &[StoredDocument], records: &BTreeMap<Key, Map<String, Value>>) {
    let got = stored(docs);
    assert_same_keys("MongoDB", &got, records);
    for (key, record) in records {
        assert_fields(key, record, got[key]);
    }
}

#[test]
fn documents_equal_the_printed_records_field_by_field() {
    let mongo = Mongo::start();
    // A dead first host: the second is used (failover), from the URI's host list.
    let dead = peers::free_addr();
    let uri = format!(
        "mongodb://{dead},{}/?appName=it&connectTimeoutMS=2000",
        mongo.addr
    );
    let mut backhaul = start(&uri);
    backhaul.wait_printed(150, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    backhaul.stop();
    let records = printed_records(&backhaul);
    assert!(records.len() >= 150, "{}", records.len());
    assert_eq!(backhaul.delivered("mongo"), (records.len() as u64, 0));
    let docs = mongo.wait_for(DB, COLLECTION, records.len());
    assert_same(&docs, &records);
    // Nothing else went anywhere else.
    assert_eq!(mongo.count("netdata", COLLECTION), 0);
    let log = backhaul.log();
    assert!(
        log.contains(&format!("mongo: cannot connect to {dead}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("mongo: connected to {}", mongo.addr)),
        "{log}"
    );
}

#[test]
fn a_server_restarted_mid_run_loses_nothing() {
    let mut mongo = Mongo::start();
    let mut backhaul = start_in_section(&mongo.uri());
    backhaul.wait_printed(60, Duration::from_secs(30));
    // Stop the server between two exports: right after records were printed (and the
    // same span sent), once the insert has had time to be answered, so that no request
    // is in flight when it dies (nx-27017 keeps the documents of a batch it was killed
    // in the middle of, and the batch would then be sent again: the test would see the
    // duplicates of an at-least-once resend, not a loss).
    let before = backhaul.printed_count();
    wait_until("the next export", Duration::from_secs(5), || {
        backhaul.printed_count() > before
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    mongo.stop();
    // An outage of several export intervals.
    std::thread::sleep(Duration::from_secs(4));
    let outage_printed = backhaul.printed_count();
    mongo.restart();
    backhaul.wait_log(
        &format!("mongo: connected to {}", mongo.addr),
        2,
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_secs(2));
    backhaul.stop();
    let records = printed_records(&backhaul);
    // Records were made before, during and after the outage.
    assert!(records.len() > outage_printed && outage_printed > before);
    assert_eq!(backhaul.delivered("mongo"), (records.len() as u64, 0));
    let docs = mongo.wait_for(DB, COLLECTION, records.len());
    assert_same(&docs, &records);
    let log = backhaul.log();
    assert!(log.contains("mongo: cannot connect to"), "{log}");
}

#[test]
fn refused_documents_are_counted_and_the_rest_of_their_batch_is_stored() {
    let mongo = Mongo::start();
    // Documents already there for one series, a few seconds ahead: the daemon's
    // documents for those points break the unique index and are refused one by one.
    mongo.unique_index(DB, COLLECTION, &["chart_id", "id", "timestamp"]);
    let now = peers::now_s();
    let taken: Vec<i64> = (now + 4..now + 10).collect();
    let squatters: Vec<Value> = taken
        .iter()
        .map(|ts| {
            serde_json::json!({
                "chart_id": "system.cpu", "id": "user", "timestamp": ts, "squatter": true
            })
        })
        .collect();
    mongo.insert(DB, COLLECTION, &squatters);
    let mut backhaul = start(&mongo.uri());
    let last_taken = taken[taken.len() - 1];
    wait_until(
        "the exports of the taken points",
        Duration::from_secs(30),
        || peers::now_s() > last_taken + 2,
    )
    .unwrap();
    backhaul.stop();
    let records = printed_records(&backhaul);
    let refused: Vec<Key> = records
        .keys()
        .filter(|(chart, dim, ts)| chart == "system.cpu" && dim == "user" && taken.contains(ts))
        .cloned()
        .collect();
    assert!(!refused.is_empty(), "no record collided");
    let (delivered, lost) = backhaul.delivered("mongo");
    assert_eq!(lost, refused.len() as u64, "{}", backhaul.log());
    assert_eq!(delivered + lost, records.len() as u64);
    let docs = mongo.wait_for(DB, COLLECTION, records.len());
    let (ours, theirs): (Vec<StoredDocument>, Vec<StoredDocument>) = docs
        .into_iter()
        .partition(|d| !d.doc.contains_key("squatter"));
    assert_eq!(theirs.len(), taken.len());
    let kept: BTreeMap<Key, Map<String, Value>> = records
        .into_iter()
        .filter(|(k, _)| !refused.contains(k))
        .collect();
    assert_same(&ours, &kept);
    let log = backhaul.log();
    assert!(
        log.contains("documents refused; the first (document ") && log.contains("code 11000"),
        "{log}"
    );
    assert!(
        log.contains("records lost: rejected by the server"),
        "{log}"
    );
    assert!(!log.contains("(HTTP 0)"), "{log}");
}

/// A scripted MongoDB server: it answers the first `refusals` inserts "not primary"
/// (code 10107) and closes nothing itself; every later insert is acknowledged. It counts
/// the documents it acknowledged and the connections it accepted.
struct Scripted {
    addr: std::net::SocketAddr,
    acknowledged: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).ok()?;
    let len = usize::try_from(i32::from_le_bytes(header)).ok()?;
    let mut msg = header.to_vec();
    msg.resize(len, 0);
    stream.read_exact(&mut msg[4..]).ok()?;
    Some(msg)
}

/// The number of documents of an `OP_MSG` insert's kind-1 section.
fn documents_in(msg: &[u8]) -> usize {
    let le = |at: usize| i32::from_le_bytes(msg[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(le(12), 2013, "not OP_MSG");
    let mut pos = 21; // header, flags, kind 0
    pos += le(pos); // the command document
    assert_eq!(msg[pos], 1, "no document sequence");
    let end = pos + 1 + le(pos + 1);
    pos += 5;
    assert_eq!(&msg[pos..pos + 10], b"documents\0");
    pos += 10;
    let mut count = 0;
    while pos < end {
        pos += le(pos);
        count += 1;
    }
    assert_eq!(pos, end);
    count
}

fn op_msg_reply(to: &[u8], doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((21 + doc.len()) as i32).to_le_bytes());
    out.extend_from_slice(&1i32.to_le_bytes());
    out.extend_from_slice(&to[4..8]);
    out.extend_from_slice(&2013i32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0]);
    out.extend_from_slice(doc);
    out
}

/// A BSON document from (key, element) pairs: type byte and value bytes.
fn bson(elements: &[(&str, u8, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, tag, value) in elements {
        body.push(*tag);
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value);
    }
    let mut doc = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    doc.extend_from_slice(&body);
    doc.push(0);
    doc
}

fn bson_string(s: &str) -> Vec<u8> {
    let mut v = ((s.len() + 1) as i32).to_le_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

impl Scripted {
    fn start(refusals: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (ack, conns) = (Arc::clone(&acknowledged), Arc::clone(&connections));
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                conns.fetch_add(1, Ordering::SeqCst);
                let (ack, refused) = (Arc::clone(&ack), Arc::clone(&refused));
                std::thread::spawn(move || {
                    while let Some(msg) = read_message(&mut stream) {
                        let count = documents_in(&msg);
                        let doc = if refused.fetch_add(1, Ordering::SeqCst) < refusals {
                            bson(&[
                                ("ok", 0x01, 0f64.to_le_bytes().to_vec()),
                                ("errmsg", 0x02, bson_string("not primary")),
                                ("code", 0x10, 10107i32.to_le_bytes().to_vec()),
                                ("codeName", 0x02, bson_string("NotWritablePrimary")),
                            ])
                        } else {
                            ack.fetch_add(count, Ordering::SeqCst);
                            bson(&[
                                ("n", 0x10, (count as i32).to_le_bytes().to_vec()),
                                ("ok", 0x01, 1f64.to_le_bytes().to_vec()),
                            ])
                        };
                        if stream.write_all(&op_msg_reply(&msg, &doc)).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            acknowledged,
            connections,
        }
    }
}

#[test]
fn not_primary_is_retried_on_a_new_connection_and_loses_nothing() {
    let server = Scripted::start(2);
    let mut backhaul = start(&format!("mongodb://{}/", server.addr));
    backhaul.wait_printed(60, Duration::from_secs(30));
    backhaul.wait_log(
        "reconnecting and sending the batch again",
        2,
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_secs(3));
    backhaul.stop();
    let records = printed_records(&backhaul);
    assert_eq!(backhaul.delivered("mongo"), (records.len() as u64, 0));
    assert_eq!(server.acknowledged.load(Ordering::SeqCst), records.len());
    assert!(server.connections.load(Ordering::SeqCst) >= 3);
    let log = backhaul.log();
    assert!(
        log.contains("insert failed: code 10107 (NotWritablePrimary): not primary"),
        "{log}"
    );
}

use std::path::PathBuf;

use backhaul_core::config::DaemonConfig;
use backhaul_core::format::bson::{write_document, BsonWriter};
use backhaul_core::format::{ChartMeta, DimensionMeta, HostMeta, Record};

use super::wire::tests::reply;
use super::*;

/// `{"a": 1}`: a one-document batch.
const A1: &[u8] = b"\x0c\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x00";

fn spec() -> MongoSpec {
    MongoSpec {
        tls: None,
        database: "netdata".into(),
        collection: "metrics".into(),
        write_concern: None,
        uri_timeout_ms: None,
        app_name: None,
    }
}

/// A reply document built with the core's writer.
fn doc(build: impl FnOnce(&mut BsonWriter<'_>)) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = BsonWriter::new(&mut buf);
    let start = w.document_start().unwrap();
    build(&mut w);
    w.document_end(start).unwrap();
    let len = w.position();
    buf.truncate(len);
    buf
}

/// Encodes a batch of `count` one-field documents and returns the codec and the
/// request's id.
fn sent(count: usize) -> (MongoCodec, i32) {
    let mut codec = MongoCodec::new(spec());
    let mut out = Vec::new();
    codec.encode(&A1.repeat(count), &mut out).unwrap();
    let id = i32::from_le_bytes(out[4..8].try_into().unwrap());
    (codec, id)
}

fn verdict_of(count: usize, reply_doc: &[u8]) -> Result<Option<Verdict>, String> {
    let (mut codec, id) = sent(count);
    codec.feed(&reply(id, 0, reply_doc))
}

fn write_error(w: &mut BsonWriter<'_>, key: &str, index: i32, code: i32, errmsg: &str) {
    let e = w.embedded_document_start(key).unwrap();
    w.write_int32("index", index).unwrap();
    w.write_int32("code", code).unwrap();
    w.write_string("errmsg", errmsg).unwrap();
    w.document_end(e).unwrap();
}

#[test]
fn the_smallest_document_is_min_document_len() {
    let record = Record {
        host: HostMeta {
            prefix: "",
            hostname: "",
            tags: "",
        },
        chart: ChartMeta {
            id: "",
            name: "",
            family: "",
            context: "",
            chart_type: "",
            units: "",
        },
        dimension: DimensionMeta { id: "", name: "" },
        names: true,
        value: backhaul_core::format::Value::Collected(0),
        timestamp: 0,
    };
    let mut out = [0u8; 512];
    assert_eq!(write_document(&record, &mut out), Ok(MIN_DOCUMENT_LEN));
}

#[test]
fn the_request_is_an_op_msg_insert_of_the_body() {
    let mut codec = MongoCodec::new(spec());
    let body = A1.repeat(3);
    let mut out = Vec::new();
    codec.encode(&body, &mut out).unwrap();
    assert_eq!(&out[..4], &i32::try_from(out.len()).unwrap().to_le_bytes());
    assert_eq!(&out[4..8], &1i32.to_le_bytes());
    assert_eq!(&out[8..12], &[0; 4]);
    assert_eq!(&out[12..16], &2013i32.to_le_bytes());
    assert!(out.ends_with(&body));
    let command = Document::parse(&out[21..21 + usize::from(out[21])]).unwrap();
    assert_eq!(
        command.get("insert").unwrap().and_then(Value::as_text),
        Some("metrics".to_owned())
    );
    assert_eq!(command.get("ordered").unwrap(), Some(Value::Bool(false)));
    assert_eq!(
        command.get("$db").unwrap().and_then(Value::as_text),
        Some("netdata".to_owned())
    );
    // Each request gets the next id, also when the same body is encoded again.
    codec.encode(&body, &mut out).unwrap();
    assert_eq!(&out[4..8], &2i32.to_le_bytes());
    codec.next_id = i32::MAX;
    codec.encode(&body, &mut out).unwrap();
    codec.encode(&body, &mut out).unwrap();
    assert_eq!(&out[4..8], &1i32.to_le_bytes(), "ids stay positive");
}

#[test]
fn a_body_that_is_not_documents_is_refused() {
    let mut codec = MongoCodec::new(spec());
    let mut out = vec![1, 2, 3];
    assert!(codec.encode(b"not bson", &mut out).is_err());
    assert!(out.is_empty());
    assert!(codec.encode(b"", &mut out).is_err());
}

#[test]
fn ok_is_delivered() {
    for ok in [
        doc(|w| {
            w.write_int32("n", 2).unwrap();
            w.write_double("ok", 1.0).unwrap();
        }),
        doc(|w| w.write_int32("ok", 1).unwrap()),
        doc(|w| {
            w.write_int64("n", 2).unwrap();
            w.write_bool("ok", true).unwrap();
        }),
    ] {
        let v = verdict_of(2, &ok).unwrap().unwrap();
        assert_eq!(
            v,
            Verdict {
                outcome: Outcome::Delivered { rejected: 0 },
                message: None,
                close: false,
            }
        );
    }
}

#[test]
fn a_reply_in_pieces() {
    let (mut codec, id) = sent(1);
    let msg = reply(
        id,
        0,
        &doc(|w| {
            w.write_int32("n", 1).unwrap();
            w.write_double("ok", 1.0).unwrap();
        }),
    );
    for &b in &msg[..msg.len() - 1] {
        assert_eq!(codec.feed(&[b]), Ok(None));
    }
    let v = codec.feed(&msg[msg.len() - 1..]).unwrap().unwrap();
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 0 });
    // The request is answered: another reply is one too many.
    assert!(codec
        .feed(&msg)
        .unwrap_err()
        .contains("a reply to no request"));
}

#[test]
fn write_errors_lose_only_their_documents() {
    let reply_doc = doc(|w| {
        w.write_int32("n", 3).unwrap();
        let list = w.array_start("writeErrors").unwrap();
        write_error(
            w,
            "0",
            1,
            11000,
            "E11000 duplicate key error\ncollection: x",
        );
        write_error(w, "1", 4, 11000, "E11000 again");
        w.document_end(list).unwrap();
        w.write_double("ok", 1.0).unwrap();
    });
    let v = verdict_of(5, &reply_doc).unwrap().unwrap();
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 2 });
    assert!(!v.close);
    let message = v.message.unwrap();
    assert_eq!(
        message,
        "2 of 5 documents refused; the first (document 1): code 11000: \
         E11000 duplicate key error collection: x"
    );
}

#[test]
fn documents_neither_inserted_nor_refused_count_as_refused() {
    let reply_doc = doc(|w| {
        w.write_int32("n", 1).unwrap();
        w.write_double("ok", 1.0).unwrap();
    });
    let v = verdict_of(3, &reply_doc).unwrap().unwrap();
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 2 });
    assert!(v.message.unwrap().contains("inserted 1 of 3 documents"));
}

#[test]
fn a_write_concern_error_is_logged_but_not_resent() {
    let reply_doc = doc(|w| {
        w.write_int32("n", 2).unwrap();
        let wce = w.embedded_document_start("writeConcernError").unwrap();
        w.write_int32("code", 64).unwrap();
        w.write_string("codeName", "WriteConcernFailed").unwrap();
        w.write_string("errmsg", "waiting for replication timed out")
            .unwrap();
        w.document_end(wce).unwrap();
        w.write_double("ok", 1.0).unwrap();
    });
    let v = verdict_of(2, &reply_doc).unwrap().unwrap();
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 0 });
    let message = v.message.unwrap();
    assert!(
        message.contains("code 64 (WriteConcernFailed): waiting for replication timed out"),
        "{message}"
    );
    assert!(message.contains("not sent again"), "{message}");
}

fn failure(code: Option<i32>, name: &str, errmsg: &str, label: Option<&str>) -> Vec<u8> {
    doc(|w| {
        w.write_double("ok", 0.0).unwrap();
        w.write_string("errmsg", errmsg).unwrap();
        if let Some(code) = code {
            w.write_int32("code", code).unwrap();
            w.write_string("codeName", name).unwrap();
        }
        if let Some(label) = label {
            let labels = w.array_start("errorLabels").unwrap();
            w.write_string("0", label).unwrap();
            w.document_end(labels).unwrap();
        }
    })
}

#[test]
fn not_primary_retries_on_a_new_connection() {
    for (code, name) in [
        (10107, "NotWritablePrimary"),
        (189, "PrimarySteppedDown"),
        (91, "ShutdownInProgress"),
        (13435, "NotPrimaryNoSecondaryOk"),
    ] {
        let v = verdict_of(4, &failure(Some(code), name, "not primary", None))
            .unwrap()
            .unwrap();
        assert_eq!(v.outcome, Outcome::Retry { status: 0 }, "{name}");
        assert!(v.close, "{name}");
        let message = v.message.unwrap();
        assert!(
            message.contains(&format!("code {code} ({name}): not primary")),
            "{message}"
        );
        assert!(message.contains("reconnecting"), "{message}");
    }
    // An old server's words, without a code.
    let v = verdict_of(1, &failure(None, "", "not master", None))
        .unwrap()
        .unwrap();
    assert_eq!(v.outcome, Outcome::Retry { status: 0 });
    assert!(v.close);
}

#[test]
fn transient_errors_retry_on_the_same_connection() {
    for reply_doc in [
        failure(Some(89), "NetworkTimeout", "timed out", None),
        failure(Some(16500), "RequestRateTooLarge", "slow down", None),
        failure(Some(12345), "Whatever", "odd", Some("RetryableWriteError")),
    ] {
        let v = verdict_of(1, &reply_doc).unwrap().unwrap();
        assert_eq!(v.outcome, Outcome::Retry { status: 0 });
        assert!(!v.close);
        assert!(v.message.unwrap().contains("after a pause"));
    }
}

#[test]
fn other_errors_reject_the_batch() {
    let reply_doc = failure(
        Some(13),
        "Unauthorized",
        "command insert requires authentication",
        Some("SomeOtherLabel"),
    );
    let v = verdict_of(7, &reply_doc).unwrap().unwrap();
    assert_eq!(v.outcome, Outcome::Rejected { status: 0 });
    assert!(!v.close);
    assert_eq!(
        v.message.unwrap(),
        "insert refused: code 13 (Unauthorized): command insert requires \
         authentication; the batch's 7 records are dropped"
    );
    let bare = doc(|w| w.write_int32("ok", 0).unwrap());
    let v = verdict_of(1, &bare).unwrap().unwrap();
    assert_eq!(v.outcome, Outcome::Rejected { status: 0 });
    assert!(v.message.unwrap().contains("no code: no message"));
}

#[test]
fn malformed_replies_are_errors() {
    // No `ok`, a string `ok`, an odd `ok`.
    for reply_doc in [
        doc(|w| w.write_int32("n", 1).unwrap()),
        doc(|w| w.write_string("ok", "1").unwrap()),
        doc(|w| w.write_int32("ok", 2).unwrap()),
    ] {
        assert!(verdict_of(1, &reply_doc).is_err());
    }
    // Garbage, a huge length, a wrong responseTo.
    let (mut codec, id) = sent(1);
    assert!(codec.feed(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    codec.reset();
    assert!(codec.feed(&i32::MAX.to_le_bytes()).is_err());
    codec.reset();
    let ok = doc(|w| w.write_int32("ok", 1).unwrap());
    let (mut codec, _) = sent(1);
    let err = codec.feed(&reply(id + 5, 0, &ok)).unwrap_err();
    assert!(err.contains("not to the request sent"), "{err}");
}

#[test]
fn reset_forgets_a_partial_reply_and_the_request() {
    let (mut codec, id) = sent(1);
    let ok = doc(|w| w.write_int32("ok", 1).unwrap());
    let msg = reply(id, 0, &ok);
    assert_eq!(codec.feed(&msg[..10]), Ok(None));
    codec.reset();
    // The request died with the connection: even a whole reply now answers nothing.
    assert!(codec.feed(&msg).is_err());
    // After the next request is written, its reply is read from its first byte.
    codec.reset();
    let mut out = Vec::new();
    codec.encode(A1, &mut out).unwrap();
    let id = i32::from_le_bytes(out[4..8].try_into().unwrap());
    let v = codec.feed(&reply(id, 0, &ok)).unwrap().unwrap();
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 0 });
}

/// A tiny deterministic generator for the no-panic test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn no_reply_bytes_make_the_codec_panic() {
    let good = reply(
        1,
        0,
        &doc(|w| {
            w.write_int32("n", 3).unwrap();
            let list = w.array_start("writeErrors").unwrap();
            write_error(w, "0", 1, 11000, "dup");
            w.document_end(list).unwrap();
            let wce = w.embedded_document_start("writeConcernError").unwrap();
            w.write_int32("code", 64).unwrap();
            w.document_end(wce).unwrap();
            let labels = w.array_start("errorLabels").unwrap();
            w.write_string("0", "RetryableWriteError").unwrap();
            w.document_end(labels).unwrap();
            w.write_double("ok", 1.0).unwrap();
        }),
    );
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 3];
    for round in 0..20_000 {
        let mut msg = good.clone();
        // Flip a few bytes (the length prefix stays plausible most of the time).
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % msg.len();
            msg[at] = rng.next() as u8;
        }
        if round % 7 == 0 {
            msg.truncate((rng.next() as usize) % msg.len());
        }
        let mut codec = MongoCodec::new(spec());
        let mut out = Vec::new();
        codec.encode(&A1.repeat(4), &mut out).unwrap();
        // Feed in random pieces.
        let mut rest = &msg[..];
        let mut result = Ok(None);
        while !rest.is_empty() && matches!(result, Ok(None)) {
            let n = 1 + (rng.next() as usize) % rest.len();
            result = codec.feed(&rest[..n]);
            rest = &rest[n..];
        }
        match result {
            Ok(None) => outcomes[0] += 1,
            Ok(Some(v)) => {
                if let Outcome::Delivered { rejected } = v.outcome {
                    assert!(rejected <= 4);
                }
                outcomes[1] += 1;
            }
            Err(_) => outcomes[2] += 1,
        }
    }
    // Every kind of result happened: the corruption reached every part of the parser.
    assert!(outcomes.iter().all(|&n| n > 100), "{outcomes:?}");
}

/// A configuration directory with `mongodb.conf` holding `text`.
struct ConfDir(PathBuf);

impl ConfDir {
    fn new(text: Option<&str>) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "backhaul-mongo-unit-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(text) = text {
            std::fs::write(dir.join("mongodb.conf"), text).unwrap();
        }
        Self(dir)
    }

    fn load(&self) -> Result<(Vec<Target>, MongoSpec), String> {
        self.load_with("[mongodb:m]\n")
    }

    /// Loads the first instance of the configuration `text`.
    fn load_with(&self, text: &str) -> Result<(Vec<Target>, MongoSpec), String> {
        let config = DaemonConfig::parse(text).unwrap();
        let instance = config.instances().next().unwrap();
        load(instance, &self.0)
    }

    fn err(&self) -> String {
        self.err_with("[mongodb:m]\n")
    }

    fn err_with(&self, text: &str) -> String {
        let err = self.load_with(text).unwrap_err();
        err.strip_prefix(&format!("{}/", self.0.display()))
            .unwrap_or(&err)
            .to_owned()
    }
}

impl Drop for ConfDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_reads_mongodb_conf() {
    let dir = ConfDir::new(Some(
        "uri = mongodb://db1.example:27018,[::1]/fromuri?socketTimeoutMS=1500&connectTimeoutMS=0\n\
         database = \"metricsdb\"\ncollection = 'points'\n",
    ));
    let (targets, spec) = dir.load().unwrap();
    assert_eq!(
        targets,
        [
            Target {
                text: "db1.example:27018".into(),
                kind: TargetKind::Tcp {
                    host: "db1.example".into(),
                    port: "27018".into()
                }
            },
            Target {
                text: "[::1]:27017".into(),
                kind: TargetKind::Tcp {
                    host: "::1".into(),
                    port: "27017".into()
                }
            }
        ]
    );
    assert_eq!(spec.database, "metricsdb");
    assert_eq!(spec.collection, "points");
    assert_eq!(spec.uri_timeout_ms, Some(1500));
    assert_eq!(spec.timeout_ms(20_000), 1500);
    assert_eq!(spec.timeout_ms(1000), 1000);
    assert_eq!(spec.tls, None);

    // The database: the URI's, else netdata.
    let dir = ConfDir::new(Some("uri = mongodb://h/fromuri\ncollection = c\n"));
    assert_eq!(dir.load().unwrap().1.database, "fromuri");
    let dir = ConfDir::new(Some("uri = mongodb://h\ncollection = c\n"));
    let spec = dir.load().unwrap().1;
    assert_eq!(spec.database, "netdata");
    assert_eq!(spec.uri_timeout_ms, None);
    assert_eq!(spec.timeout_ms(20_000), 20_000);
}

#[test]
fn load_errors_name_the_file_line_and_setting() {
    let missing = ConfDir::new(None).err();
    assert!(
        missing.starts_with("mongodb.conf: cannot read: No such file or directory"),
        "{missing}"
    );
    for (text, expected) in [
        ("collection = c\n", "mongodb.conf: uri: missing"),
        ("uri = mongodb://h/\n", "mongodb.conf: collection: missing"),
        (
            "uri = mongodb://h/\ncollection =\n",
            "mongodb.conf: collection: missing",
        ),
        (
            "collection = c\n\nuri = mongodb+srv://x/\n",
            "mongodb.conf:3: uri: mongodb+srv:// URIs need DNS SRV",
        ),
        (
            "uri = mongodb://h/\ncollection = system.x\n",
            "mongodb.conf:2: collection: collection name \"system.x\"",
        ),
        (
            "uri = mongodb://h/\ncollection = a$b\n",
            "mongodb.conf:2: collection: collection name \"a$b\": '$'",
        ),
        (
            "uri = mongodb://h/\ncollection = c\ndatabase = a.b\n",
            "mongodb.conf:3: database: database name \"a.b\"",
        ),
        (
            "uri = mongodb://h/?tls=true&tlsCAFile=/nonexistent/ca.pem\ncollection = c\n",
            "mongodb.conf:1: uri: CA file /nonexistent/ca.pem: cannot read",
        ),
        (
            "uri = x\nbogus = 1\n",
            "mongodb.conf:2: bogus: unknown setting",
        ),
    ] {
        let err = ConfDir::new(Some(text)).err();
        assert!(err.starts_with(expected), "{text:?}: {err}");
    }
}

#[test]
fn tls_options_reach_the_spec() {
    let dir = ConfDir::new(Some(
        "uri = mongodb://h/?tls=true&tlsAllowInvalidCertificates=true\ncollection = c\n",
    ));
    let spec = dir.load().unwrap().1;
    let tls = spec.tls.unwrap();
    assert!(tls.skip_verification);
    assert!(tls.insecure_warning().is_some());
}

#[test]
fn an_instance_section_gives_its_own_uri_database_and_collection() {
    // No mongodb.conf needed: the section has everything (netdata's exporting engine).
    let dir = ConfDir::new(None);
    let section = "[mongodb:m]\ndestination = mongodb://db:27018/fromuri\n\
                   database = d\ncollection = c\n";
    let (targets, spec) = dir.load_with(section).unwrap();
    assert_eq!(targets[0].text, "db:27018");
    assert_eq!(
        (spec.database.as_str(), spec.collection.as_str()),
        ("d", "c")
    );
    // The database of the URI when the section has none.
    let section = "[mongodb:m]\ndestination = mongodb://db/fromuri\ncollection = c\n";
    assert_eq!(dir.load_with(section).unwrap().1.database, "fromuri");
    // The collection missing from the section and no file: the file is named.
    let err = dir.err_with("[mongodb:m]\ndestination = mongodb://db/\n");
    assert!(
        err.starts_with("mongodb.conf: cannot read: ") && err.contains("the collection"),
        "{err}"
    );
    // A bad URI in the destination, or a bad name in the section.
    let err = dir.err_with("[mongodb:m]\ndestination = mongodb://db:0/\ncollection = c\n");
    assert!(
        err.starts_with("destination: host db:0: \"0\" is not a port"),
        "{err}"
    );
    let err = dir.err_with("[mongodb:m]\ndestination = mongodb://db/\ncollection = a$\n");
    assert!(
        err.starts_with("collection: collection name \"a$\""),
        "{err}"
    );
    let err =
        dir.err_with("[mongodb:m]\ndestination = mongodb://db/\ncollection = c\ndatabase = a b\n");
    assert!(err.starts_with("database: database name \"a b\""), "{err}");
}

#[test]
fn the_section_wins_over_mongodb_conf_which_wins_over_the_uri() {
    let dir = ConfDir::new(Some(
        "uri = mongodb://file-host/fileuri\ndatabase = filedb\ncollection = filecoll\n",
    ));
    let spec = dir.load().unwrap().1;
    assert_eq!(
        (spec.database.as_str(), spec.collection.as_str()),
        ("filedb", "filecoll")
    );
    let (targets, spec) = dir
        .load_with("[mongodb:m]\ndestination = mongodb://section-host/\ncollection = c\n")
        .unwrap();
    assert_eq!(targets[0].text, "section-host:27017");
    assert_eq!(
        (spec.database.as_str(), spec.collection.as_str()),
        ("filedb", "c")
    );
    // A destination that is not a URI (the default `localhost`) leaves the URI to the file.
    let (targets, _) = dir
        .load_with("[mongodb:m]\ndestination = localhost\n")
        .unwrap();
    assert_eq!(targets[0].text, "file-host:27017");
    // [backend] reads only the file, whatever its destination says (as netdata).
    let (targets, spec) = dir
        .load_with("[backend]\nenabled = yes\ntype = mongodb\ndestination = mongodb://x/\n")
        .unwrap();
    assert_eq!(targets[0].text, "file-host:27017");
    assert_eq!(spec.collection, "filecoll");
    // An existing file is checked even when the section does not need it.
    let broken = ConfDir::new(Some("uri mongodb://h/\n"));
    let err = broken.err_with("[mongodb:m]\ndestination = mongodb://db/\ncollection = c\n");
    assert!(err.starts_with("mongodb.conf:1: "), "{err}");
}

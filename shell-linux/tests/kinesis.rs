//! The real `backhaul` binary exporting to AWS Kinesis as moto emulates it, with moto
//! checking every request's AWS Signature Version 4 (see `backhaul_tests::peers::moto`).
//!
//! The daemon runs with `--print json` next to its Kinesis destination: both format the
//! same spans with the same JSON formatter, so the printed lines are exactly what the
//! stream must hold. Each test reads the stream back with boto3 (GetShardIterator from
//! TRIM_HORIZON, then GetRecords, signed by botocore), decodes the records and compares
//! their lines with the printed ones, byte for byte and in order.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use backhaul_tests::daemon::{Daemon, Launch, HOST};
use backhaul_tests::peers::moto::{KinesisRecord, REGION};
use backhaul_tests::peers::Moto;

const STREAM: &str = "netdata";

/// Runs the daemon with a `[kinesis:aws]` section (plus the lines `extra`),
/// `aws_kinesis.conf` holding `conf` (if any), and the Kinesis endpoint `endpoint`; with
/// none of the test's own AWS settings.
fn start(extra: &str, conf: Option<&str>, endpoint: &str) -> Daemon {
    let config = format!(
        "[kinesis:aws]\n    destination = {REGION}\n    update every = 1\n    \
         data source = average\n    timeout ms = 3000\n{extra}"
    );
    let mut launch = Launch::new(env!("CARGO_BIN_EXE_backhaul"), "json", &config)
        .args(["--synthetic-metrics", "30"]);
    if let Some(conf) = conf {
        launch = launch.file("aws_kinesis.conf", conf);
    }
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_CA_BUNDLE",
    ] {
        launch = launch.env_remove(name);
    }
    launch.env("AWS_ENDPOINT_URL_KINESIS", endpoint).start()
}

fn conf(key: &str, secret: &str, stream: &str) -> String {
    format!(
        "# written by the test\naws_access_key_id = {key}\naws_secret_access_key = \"{secret}\"\n\
         stream name = {stream}\n"
    )
}

/// The lines of the records, in order; checks that every record is whole lines and that
/// the partition keys are `netdata_0`, `netdata_1`, … in order.
fn lines_of(records: &[KinesisRecord]) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.partition_key, format!("netdata_{i}"), "{record:?}");
        assert_eq!(record.data.last(), Some(&b'\n'), "record {i} ends a line");
        let text = std::str::from_utf8(&record.data).expect("UTF-8 records");
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

/// Lines equal, in order; on failure, says where they first differ.
fn assert_same_lines(got: &[String], want: &[String]) {
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{} lines in the stream, {} printed; first difference at line {i}:\n  stream:  {:?}\n  printed: {:?}",
            got.len(),
            want.len(),
            got.get(i),
            want.get(i)
        );
    }
}

/// Checks a run that delivered everything: the stream holds exactly the printed lines.
fn assert_delivered_exactly(backhaul: &Daemon, moto: &Moto) -> usize {
    let printed = backhaul.printed();
    assert!(!printed.is_empty());
    for line in &printed {
        let value: serde_json::Value = serde_json::from_str(line).expect("printed JSON");
        assert_eq!(value["hostname"], HOST, "{line}");
    }
    assert_eq!(
        backhaul.delivered("aws"),
        (printed.len() as u64, 0),
        "log:\n{}",
        backhaul.log()
    );
    let records = moto.wait_for_lines(STREAM, printed.len());
    assert_same_lines(&lines_of(&records), &printed);
    records.len()
}

#[test]
fn json_lines_reach_kinesis_byte_for_byte_with_checked_signatures() {
    let moto = Moto::start();
    moto.create_stream(STREAM, 1);
    let mut backhaul = start(
        "",
        Some(&conf(&moto.access_key_id, &moto.secret_access_key, STREAM)),
        &moto.endpoint(),
    );
    backhaul.wait_printed(300, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    backhaul.stop();
    let records = assert_delivered_exactly(&backhaul, &moto);
    // One request per export at least: several records, each its own key.
    assert!(records >= 3, "{records} records");
    let log = backhaul.log();
    assert!(!log.contains("HTTP 4"), "{log}");
    assert!(
        log.contains(&format!("aws: connected to http://{}", moto.addr)),
        "{log}"
    );
}

#[test]
fn a_wrong_secret_is_refused_and_counted_as_lost() {
    let moto = Moto::start();
    moto.create_stream(STREAM, 1);
    let mut backhaul = start(
        "",
        Some(&conf(&moto.access_key_id, "not-the-secret", STREAM)),
        &moto.endpoint(),
    );
    backhaul.wait_printed(100, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    backhaul.stop();
    let printed = backhaul.printed();
    let log = backhaul.log();
    // Every record was refused, counted as lost, and none is left over; nothing crashed
    // (stop() checked the exit status).
    assert_eq!(
        backhaul.delivered("aws"),
        (0, printed.len() as u64),
        "{log}"
    );
    assert!(
        log.contains(
            "HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match"
        ),
        "{log}"
    );
    assert!(
        log.contains("records lost: rejected by the server (HTTP 403)"),
        "{log}"
    );
    assert!(
        !log.contains("not-the-secret"),
        "the secret reached the log:\n{log}"
    );
    assert!(moto.records(STREAM).is_empty());
}

#[test]
fn an_unknown_key_or_stream_is_refused_with_the_aws_error() {
    let moto = Moto::start();
    moto.create_stream(STREAM, 1);
    for (conf, error) in [
        (
            conf("AKIAUNKNOWNKEY000000", "x", STREAM),
            "HTTP 403 InvalidClientTokenId",
        ),
        (
            conf(
                &moto.access_key_id,
                &moto.secret_access_key,
                "no-such-stream",
            ),
            "HTTP 400 ResourceNotFoundException",
        ),
    ] {
        let mut backhaul = start("", Some(&conf), &moto.endpoint());
        backhaul.wait_printed(50, Duration::from_secs(20));
        backhaul.stop();
        let log = backhaul.log();
        assert!(log.contains(error), "{error}:\n{log}");
        let (delivered, lost) = backhaul.delivered("aws");
        assert_eq!(
            (delivered, lost),
            (0, backhaul.printed().len() as u64),
            "{log}"
        );
    }
    assert!(moto.records(STREAM).is_empty());
}

/// Reads one HTTP request (head and `Content-Length` body) from `stream`.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if request.len() >= end + 4 + length {
                return request;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return request,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
}

/// A proxy in front of `upstream`: its first connections get `answers` (one each, after
/// the whole request), the later ones are forwarded as they are.
fn flaky_proxy(upstream: SocketAddr, answers: Vec<String>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut answers = answers.into_iter();
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            if let Some(answer) = answers.next() {
                read_request(&mut client);
                let _ = client.write_all(answer.as_bytes());
                continue;
            }
            let Ok(mut server) = TcpStream::connect(upstream) else {
                continue;
            };
            let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone())
            else {
                continue;
            };
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_r, &mut server_w);
                let _ = server_w.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

fn answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn throttling_and_server_errors_are_retried_until_everything_is_in() {
    let moto = Moto::start();
    moto.create_stream(STREAM, 1);
    // Three refusals in a row, then moto: the first batch waits for 1 + 2 + 4 s of
    // backoff, is signed again every time, and everything gets through in order.
    let proxy = flaky_proxy(
        moto.addr,
        vec![
            answer("503 Service Unavailable", ""),
            answer(
                "400 Bad Request",
                r#"{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard shardId-000000000000"}"#,
            ),
            answer(
                "200 OK",
                r#"{"FailedRecordCount":1,"Records":[{"ErrorCode":"InternalFailure","ErrorMessage":"Internal service failure."}]}"#,
            ),
        ],
    );
    // Everything in the section this time, and no aws_kinesis.conf.
    let section = format!(
        "    stream name = {STREAM}\n    aws_access_key_id = {}\n    aws_secret_access_key = {}\n",
        moto.access_key_id, moto.secret_access_key
    );
    let mut backhaul = start(&section, None, &format!("http://{proxy}"));
    // The backoffs: 1 s, 2 s, then 4 s before the last retry, then the backlog.
    backhaul.wait_log("retrying them (attempt 3)", 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(6));
    backhaul.stop();
    let log = backhaul.log();
    assert!(log.contains("HTTP 503; retrying"), "{log}");
    assert!(
        log.contains("HTTP 400 ProvisionedThroughputExceededException: Rate exceeded for shard shardId-000000000000; retrying"),
        "{log}"
    );
    assert!(
        log.contains("PutRecords: 1 of 1 records failed (1 × InternalFailure: Internal service failure.); retrying them"),
        "{log}"
    );
    assert_delivered_exactly(&backhaul, &moto);
}

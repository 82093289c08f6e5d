//! The codec against crafted replies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn spec() -> KinesisSpec {
    KinesisSpec {
        tls: Some(TlsOptions::default()),
        region: "us-east-1".to_owned(),
        stream: "netdata".to_owned(),
        host_header: "kinesis.us-east-1.amazonaws.com".to_owned(),
        credentials: Credentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: SECRET.to_owned(),
            session_token: None,
        },
    }
}

fn at_2015_08_30() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

fn codec() -> KinesisCodec {
    let mut c = KinesisCodec::new(spec());
    c.clock = at_2015_08_30;
    c
}

/// Records of at most 10 data bytes (keys count 2).
fn small_codec() -> KinesisCodec {
    let mut c = codec();
    c.limits = Limits {
        record_bytes: 12,
        key_bytes: 2,
        batch_records: 500,
        batch_bytes: 1 << 20,
    };
    c
}

/// A test-side base64 decoder, independent of the encoder under test.
fn unbase64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    let mut bits = 0u32;
    let mut n = 0;
    for &c in text.as_bytes().iter().filter(|&&c| c != b'=') {
        bits = bits << 6 | u32::from(value(c));
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// A request, taken apart: its head lines and its JSON body.
struct Sent {
    head: Vec<String>,
    body: Value,
    raw_body: Vec<u8>,
}

impl Sent {
    fn parse(request: &[u8]) -> Self {
        let split = request
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        let head: Vec<String> = std::str::from_utf8(&request[..split])
            .unwrap()
            .split("\r\n")
            .map(str::to_owned)
            .collect();
        let raw_body = request[split + 4..].to_vec();
        let body = serde_json::from_slice(&raw_body).expect("a JSON body");
        let sent = Self {
            head,
            body,
            raw_body,
        };
        assert_eq!(
            sent.header("Content-Length"),
            Some(sent.raw_body.len().to_string().as_str())
        );
        sent
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().find_map(|line| {
            let (n, v) = line.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    /// (data, partition key) of every record.
    fn records(&self) -> Vec<(String, String)> {
        assert_eq!(self.body["StreamName"], "netdata");
        self.body["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let data = unbase64(r["Data"].as_str().unwrap());
                (
                    String::from_utf8(data).unwrap(),
                    r["PartitionKey"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn encode(codec: &mut KinesisCodec, body: &[u8]) -> Sent {
    let mut out = Vec::new();
    codec.encode(body, &mut out).unwrap();
    Sent::parse(&out)
}

fn reply(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ok_reply(entries: &[Option<&str>]) -> Vec<u8> {
    let failed = entries.iter().filter(|e| e.is_some()).count();
    let records: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            None => format!(r#"{{"SequenceNumber":"4959{i}","ShardId":"shardId-000000000000"}}"#),
            Some(code) => {
                format!(r#"{{"ErrorCode":"{code}","ErrorMessage":"{code} for shard 0"}}"#)
            }
        })
        .collect();
    reply(
        "200 OK",
        &format!(
            r#"{{"FailedRecordCount":{failed},"Records":[{}]}}"#,
            records.join(",")
        ),
    )
}

fn verdict(codec: &mut KinesisCodec, bytes: &[u8]) -> Verdict {
    codec.feed(bytes).unwrap().expect("a verdict")
}

#[test]
fn a_request_is_signed_as_botocore_signs_it() {
    let body = b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n";
    let mut c = codec();
    let mut out = Vec::new();
    c.encode(body, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let expected_body = r#"{"StreamName":"netdata","Records":[{"Data":"eyJpZCI6ImEifQp7ImlkIjoiYiJ9Cg==","PartitionKey":"netdata_0"}]}"#;
    // The signature was computed independently, with botocore's SigV4Auth on the same
    // request (method, path, the four signed headers, this body, this time).
    let expected = format!(
        "POST / HTTP/1.1\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Host: kinesis.us-east-1.amazonaws.com\r\n\
         X-Amz-Date: 20150830T123600Z\r\n\
         X-Amz-Target: Kinesis_20131202.PutRecords\r\n\
         Content-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 \
         Credential=AKIDEXAMPLE/20150830/us-east-1/kinesis/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
         Signature=dd8d564da7336706c19a5a932a4c5182c29770b030e189d1dc69ea10687790a2\r\n\
         User-Agent: backhaul/{}\r\n\
         \r\n\
         {expected_body}",
        expected_body.len(),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(text, expected);
}

#[test]
fn all_records_in() {
    let mut c = codec();
    let body = b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n";
    let sent = encode(&mut c, body);
    assert_eq!(sent.head[0], "POST / HTTP/1.1");
    assert_eq!(sent.header("X-Amz-Target"), Some(TARGET));
    assert_eq!(sent.header("Content-Type"), Some(CONTENT_TYPE));
    assert_eq!(sent.header("X-Amz-Security-Token"), None);
    assert_eq!(
        sent.records(),
        [(
            String::from_utf8(body.to_vec()).unwrap(),
            "netdata_0".into()
        )]
    );
    // The reply, a byte at a time: a verdict only once it is whole.
    let answer = ok_reply(&[None]);
    for &b in &answer[..answer.len() - 1] {
        assert_eq!(c.feed(&[b]).unwrap(), None);
    }
    let v = verdict(&mut c, &answer[answer.len() - 1..]);
    assert_eq!(
        v,
        Verdict {
            outcome: Outcome::Delivered { rejected: 0 },
            message: None,
            close: false
        }
    );
    // Keys go on counting with the next batch.
    let sent = encode(&mut c, b"{\"id\":\"c\"}\n");
    assert_eq!(sent.records()[0].1, "netdata_1");
}

#[test]
fn a_partial_failure_resends_exactly_the_failed_records() {
    let mut c = small_codec();
    let body = b"aaaa\nbbbb\ncccc\ndddd\neeee\n";
    let sent = encode(&mut c, body);
    assert_eq!(
        sent.records(),
        [
            ("aaaa\nbbbb\n".into(), "netdata_0".into()),
            ("cccc\ndddd\n".into(), "netdata_1".into()),
            ("eeee\n".into(), "netdata_2".into()),
        ]
    );
    let v = verdict(
        &mut c,
        &ok_reply(&[
            None,
            Some("ProvisionedThroughputExceededException"),
            Some("InternalFailure"),
        ]),
    );
    assert_eq!(v.outcome, Outcome::Retry { status: 0 });
    let message = v.message.unwrap();
    assert!(message.contains("2 of 3 records failed"), "{message}");
    assert!(
        message.contains("1 × ProvisionedThroughputExceededException: ProvisionedThroughputExceededException for shard 0"),
        "{message}"
    );
    assert!(message.contains("1 × InternalFailure"), "{message}");

    // The engine offers the same batch again: only the two failed records, same keys,
    // signed again.
    let again = encode(&mut c, body);
    assert_eq!(
        again.records(),
        [
            ("cccc\ndddd\n".into(), "netdata_1".into()),
            ("eeee\n".into(), "netdata_2".into()),
        ]
    );
    assert!(again
        .header("Authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 "));
    assert_ne!(again.header("Authorization"), sent.header("Authorization"));
    let v = verdict(&mut c, &ok_reply(&[Some("InternalFailure"), None]));
    assert_eq!(v.outcome, Outcome::Retry { status: 0 });
    assert!(v.message.unwrap().contains("1 of 2 records failed"));

    let third = encode(&mut c, body);
    assert_eq!(
        third.records(),
        [("cccc\ndddd\n".into(), "netdata_1".into())]
    );
    let v = verdict(&mut c, &ok_reply(&[None]));
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 0 });

    // Done: the same bytes again are a new batch, all of it, with new keys.
    let fresh = encode(&mut c, body);
    let keys: Vec<String> = fresh.records().into_iter().map(|r| r.1).collect();
    assert_eq!(keys, ["netdata_3", "netdata_4", "netdata_5"]);
}

#[test]
fn another_batch_after_a_retry_starts_afresh() {
    let mut c = small_codec();
    encode(&mut c, b"aaaa\nbbbb\ncccc\n");
    let v = verdict(&mut c, &ok_reply(&[None, Some("InternalFailure")]));
    assert_eq!(v.outcome, Outcome::Retry { status: 0 });
    let other = encode(&mut c, b"xxxx\nyyyy\nzzzz\n");
    assert_eq!(
        other.records(),
        [
            ("xxxx\nyyyy\n".into(), "netdata_2".into()),
            ("zzzz\n".into(), "netdata_3".into())
        ]
    );
}

#[test]
fn throttling_and_server_errors_are_retried_whole() {
    let mut c = codec();
    let body = b"{\"x\":1}\n";
    for (status, answer, kind) in [
        (
            400,
            reply(
                "400 Bad Request",
                r#"{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for stream netdata"}"#,
            ),
            "ProvisionedThroughputExceededException: Rate exceeded for stream netdata",
        ),
        (
            400,
            reply(
                "400 Bad Request",
                r#"{"__type":"com.amazon.coral.availability#LimitExceededException","Message":"slow down"}"#,
            ),
            "LimitExceededException: slow down",
        ),
        (429, reply("429 Too Many Requests", ""), "HTTP 429"),
        (
            503,
            reply("503 Service Unavailable", "<html>busy\n</html>"),
            "HTTP 503: <html>busy </html>",
        ),
        (
            500,
            reply(
                "500 Internal Server Error",
                r#"{"__type":"InternalFailure"}"#,
            ),
            "HTTP 500 InternalFailure",
        ),
    ] {
        let sent = encode(&mut c, body);
        assert_eq!(
            sent.records()[0].1,
            "netdata_0",
            "the same record every time"
        );
        let v = verdict(&mut c, &answer);
        assert_eq!(v.outcome, Outcome::Retry { status }, "{kind}");
        assert!(v.message.as_ref().unwrap().contains(kind), "{v:?}");
    }
    let sent = encode(&mut c, body);
    assert_eq!(sent.records()[0].1, "netdata_0");
    assert_eq!(
        verdict(&mut c, &ok_reply(&[None])).outcome,
        Outcome::Delivered { rejected: 0 }
    );
}

#[test]
fn refusals_drop_the_batch_with_the_aws_error() {
    let mut c = codec();
    encode(&mut c, b"{\"x\":1}\n");
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error>\
               <Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated \
               does not match the signature you provided.</Message><Type>Sender</Type></Error>\
               </Errors></ErrorResponse>";
    let answer = format!(
        "HTTP/1.1 403 FORBIDDEN\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
        xml.len()
    );
    let v = verdict(&mut c, answer.as_bytes());
    assert_eq!(v.outcome, Outcome::Rejected { status: 403 });
    assert!(v.close);
    assert_eq!(
        v.message.unwrap(),
        "HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match \
         the signature you provided.; dropping the batch"
    );

    encode(&mut c, b"{\"x\":2}\n");
    let v = verdict(
        &mut c,
        &reply(
            "400 Bad Request",
            r#"{"__type":"ResourceNotFoundException","message":"Stream nope under account 123456789012 not found."}"#,
        ),
    );
    assert_eq!(v.outcome, Outcome::Rejected { status: 400 });
    assert!(v.message.unwrap().contains(
        "HTTP 400 ResourceNotFoundException: Stream nope under account 123456789012 not found."
    ));

    encode(&mut c, b"{\"x\":3}\n");
    let v = verdict(
        &mut c,
        &reply(
            "403 Forbidden",
            r#"{"__type":"UnrecognizedClientException"}"#,
        ),
    );
    assert_eq!(v.outcome, Outcome::Rejected { status: 403 });
}

#[test]
fn a_refusal_after_a_partial_success_counts_only_what_is_missing() {
    let mut c = small_codec();
    let body = b"aaaa\nbbbb\ncccc\ndddd\neeee\n";
    encode(&mut c, body);
    verdict(&mut c, &ok_reply(&[None, Some("InternalFailure"), None]));
    let again = encode(&mut c, body);
    assert_eq!(again.records().len(), 1);
    let v = verdict(
        &mut c,
        &reply("400 Bad Request", r#"{"__type":"AccessDeniedException"}"#),
    );
    // Two lines (`cccc`, `dddd`) are lost; the other three went in.
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 2 });
    assert!(v.message.unwrap().contains("AccessDeniedException"));
}

#[test]
fn lines_longer_than_a_record_are_left_out_and_counted() {
    let mut c = small_codec();
    let sent = encode(&mut c, b"aaaa\nthis line is too long\nbbbb\n");
    assert_eq!(
        sent.records(),
        [
            ("aaaa\n".into(), "netdata_0".into()),
            ("bbbb\n".into(), "netdata_1".into())
        ]
    );
    let v = verdict(&mut c, &ok_reply(&[None, None]));
    assert_eq!(v.outcome, Outcome::Delivered { rejected: 1 });
    assert!(v
        .message
        .unwrap()
        .starts_with("1 lines longer than a Kinesis record"));
    // Nothing but long lines: nothing to send.
    let mut out = Vec::new();
    let err = c
        .encode(b"this line is too long\nand this one too\n", &mut out)
        .unwrap_err();
    assert!(
        err.starts_with("2 lines longer than a Kinesis record"),
        "{err}"
    );
    assert!(c.encode(b"", &mut out).is_err());
}

#[test]
fn bad_replies_are_errors_or_bounded_verdicts() {
    // Not HTTP.
    let mut c = codec();
    encode(&mut c, b"{\"x\":1}\n");
    assert!(c.feed(b"garbage\r\n\r\n").is_err());

    // A 2xx that is not a PutRecords reply: retried, the connection closed.
    for body in [
        "<html>",
        "{}",
        r#"{"FailedRecordCount":0,"Records":[]}"#,
        r#"{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1"}]}"#,
        r#"{"FailedRecordCount":"x","Records":[{"SequenceNumber":"1"}]}"#,
        r#"{"FailedRecordCount":0,"Records":[{}]}"#,
        r#"{"Records":[{"SequenceNumber":"1"}]"#,
    ] {
        let mut c = codec();
        encode(&mut c, b"{\"x\":1}\n");
        let v = verdict(&mut c, &reply("200 OK", body));
        assert_eq!(v.outcome, Outcome::Retry { status: 200 }, "{body}");
        assert!(v.close, "{body}");
        assert!(
            v.message
                .unwrap()
                .starts_with("unreadable PutRecords reply"),
            "{body}"
        );
    }

    // A huge reply: an error once past the bound, never a huge buffer.
    let mut c = codec();
    encode(&mut c, b"{\"x\":1}\n");
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", 64 << 20);
    assert_eq!(c.feed(head.as_bytes()).unwrap(), None);
    let chunk = vec![b'x'; 64 * 1024];
    let mut result = Ok(None);
    for _ in 0..(MAX_REPLY / chunk.len() + 1) {
        result = c.feed(&chunk);
        if result.is_err() {
            break;
        }
    }
    assert!(result.unwrap_err().contains("longer than"));

    // A reply cut by the connection: nothing; after the reconnect the same records go
    // again and a whole reply counts.
    let mut c = codec();
    let first = encode(&mut c, b"{\"x\":1}\n");
    let answer = ok_reply(&[None]);
    assert_eq!(c.feed(&answer[..answer.len() / 2]).unwrap(), None);
    c.reset();
    let again = encode(&mut c, b"{\"x\":1}\n");
    assert_eq!(again.records(), first.records());
    assert_eq!(
        verdict(&mut c, &answer).outcome,
        Outcome::Delivered { rejected: 0 }
    );
    // A reply nobody asked for.
    assert!(c.feed(&answer).is_err());
    // Random bytes never panic.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..200 {
        let mut c = codec();
        encode(&mut c, b"{\"x\":1}\n");
        let mut bytes = ok_reply(&[None]);
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % bytes.len() as u64) as usize;
            bytes[i] = (seed >> 32) as u8;
        }
        let _ = c.feed(&bytes);
    }
}

#[test]
fn interim_replies_are_skipped() {
    let mut c = codec();
    encode(&mut c, b"{\"x\":1}\n");
    let mut bytes = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    bytes.extend(ok_reply(&[None]));
    assert_eq!(
        verdict(&mut c, &bytes).outcome,
        Outcome::Delivered { rejected: 0 }
    );
}

#[test]
fn a_session_token_is_sent_and_signed() {
    let mut s = spec();
    s.credentials.session_token = Some("FQoGZXIvYXdzEXAMPLETOKEN".to_owned());
    let mut c = KinesisCodec::new(s);
    c.clock = at_2015_08_30;
    let sent = encode(&mut c, b"{\"x\":1}\n");
    assert_eq!(
        sent.header("X-Amz-Security-Token"),
        Some("FQoGZXIvYXdzEXAMPLETOKEN")
    );
    assert!(sent.header("Authorization").unwrap().contains(
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
    ));
    assert!(!format!("{c:?}").contains("FQoGZXIvYXdzEXAMPLETOKEN"));
    assert!(!format!("{c:?}").contains(SECRET));
}

#[test]
fn every_encode_is_signed_with_the_current_time() {
    let mut c = codec();
    let first = encode(&mut c, b"{\"x\":1}\n");
    c.clock = || UNIX_EPOCH + Duration::from_secs(1_440_938_160 + 86_400 + 61);
    let second = encode(&mut c, b"{\"x\":1}\n");
    assert_eq!(first.header("X-Amz-Date"), Some("20150830T123600Z"));
    assert_eq!(second.header("X-Amz-Date"), Some("20150831T123701Z"));
    assert!(second
        .header("Authorization")
        .unwrap()
        .contains("Credential=AKIDEXAMPLE/20150831/us-east-1/kinesis/aws4_request"));
}

#[test]
fn base64_vectors() {
    // RFC 4648, section 10.
    for (plain, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        let mut out = Vec::new();
        base64_into(&mut out, plain.as_bytes());
        assert_eq!(out, encoded.as_bytes());
    }
    let all: Vec<u8> = (0..=255).collect();
    let mut out = Vec::new();
    base64_into(&mut out, &all);
    assert_eq!(unbase64(std::str::from_utf8(&out).unwrap()), all);
}

#[test]
fn stream_names_are_json_escaped() {
    let mut out = Vec::new();
    json_string(&mut out, "a\"b\\c\u{1}é");
    assert_eq!(out, "\"a\\\"b\\\\c\\u0001é\"".as_bytes());
}

#[test]
fn error_texts_are_cleaned_and_bounded() {
    assert_eq!(clean("  a\r\n\tb\u{1b}[31m  c "), "a b [31m c");
    let long = "x".repeat(1000);
    assert_eq!(clean(&long).chars().count(), 301);
    assert_eq!(aws_error(b"", ""), (String::new(), String::new()));
    assert_eq!(
        aws_error(b"<Error><Code>X</Code></Error>", ""),
        ("X".to_owned(), String::new())
    );
    assert_eq!(
        aws_error(b"{\"other\":1}", "{\"other\":1}"),
        (String::new(), "{\"other\":1}".to_owned())
    );
}

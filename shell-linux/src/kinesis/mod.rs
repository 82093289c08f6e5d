//! AWS Kinesis `PutRecords` (spec §4.7), spoken directly over HTTP/1.1, signed with AWS
//! Signature Version 4 ([`sigv4`]); no AWS SDK.
//!
//! The engine hands over batches of newline-terminated JSON lines (§4.4). [`KinesisCodec`]
//! cuts each batch into Kinesis records at line boundaries with core's [`Batches`] (a
//! record is one or more whole lines, at most 1 MiB with its key), gives every record a
//! partition key `netdata_N` from a counter that runs for the destination's lifetime, and
//! sends them all in one `PutRecords` request:
//!
//! ```text
//! POST / HTTP/1.1
//! Content-Type: application/x-amz-json-1.1
//! Host: kinesis.us-east-1.amazonaws.com
//! X-Amz-Date: 20260101T000000Z
//! X-Amz-Target: Kinesis_20131202.PutRecords
//! Content-Length: …
//! Authorization: AWS4-HMAC-SHA256 Credential=…/20260101/us-east-1/kinesis/aws4_request, …
//!
//! {"StreamName":"netdata","Records":[{"Data":"<base64>","PartitionKey":"netdata_0"},…]}
//! ```
//!
//! Every request is signed when it is built, with the current time, so a retry an hour
//! later carries a fresh signature. `X-Amz-Security-Token` is sent (and signed) with
//! temporary credentials.
//!
//! # Replies
//!
//! * **2xx**: the reply lists every record, in order, with a sequence number or an
//!   `ErrorCode`. The codec remembers, per batch, which records went in. If any failed
//!   (throttled, an internal failure), the verdict is `Retry` (after the engine's
//!   backoff), with a log line counting the failures by error code; the engine then
//!   offers the same batch again and the codec sends **only the records that failed**,
//!   each with the partition key it had the first time (so it goes to the same shard).
//!   Once every record is in, the batch is `Delivered`.
//! * **429, 5xx**, and a 400 whose error is throttling
//!   (`ProvisionedThroughputExceededException`, `LimitExceededException`,
//!   `ThrottlingException`, …): `Retry`, the same records again.
//! * **Any other status** (`403 SignatureDoesNotMatch`, `400 ResourceNotFoundException`,
//!   …): the batch is given up and its records not yet in are counted as lost, with the
//!   AWS error type and message in the log: `Rejected` when none had gone in, else
//!   `Delivered` with those records' lines counted as rejected.
//! * A 2xx reply that cannot be read (not JSON, an entry count that does not match):
//!   `Retry` and the connection is closed; whether the records went in is unknown, so
//!   they are sent again (a possible duplicate rather than a silent loss).
//! * A reply that is not HTTP, or a body longer than [`MAX_REPLY`]: an error; the daemon
//!   closes the connection and the request is sent again on the next one.
//!
//! A line longer than a record (about 1 MiB, possible only with enormous host tags) cannot
//! be sent: it is left out of the request and counted as rejected when the batch is
//! delivered (a batch made only of such lines is dropped by `encode`, its lines counted as
//! lost). netdata loops forever on such a line (§8.8).
//!
//! A reply lost with its connection makes the engine send the batch again: delivery is
//! at least once, as with every AWS client.

pub mod conf;
pub mod json;
pub mod sigv4;

use std::hash::Hasher as _;
use std::io::Write as _;
use std::ops::Range;
use std::time::SystemTime;

use backhaul_core::engine::Outcome;
use backhaul_core::format::kinesis::{
    Batches, Group, Limits, PartitionKey, PartitionKeys, MAX_BATCH_BYTES, MAX_BATCH_RECORDS,
    MAX_DATA_BYTES, MAX_KEY_LEN,
};

use crate::codec::{Codec, Verdict};
use crate::http::ResponseReader;
use crate::tls::TlsOptions;

pub use sigv4::Credentials;

/// The largest batch body (JSON lines before base64), within one `PutRecords` request.
pub const MAX_BODY: usize = 4 << 20;

// A whole batch always fits one request, keys included, so no batch is ever split.
const _: () = assert!(MAX_BODY + MAX_BATCH_RECORDS * MAX_KEY_LEN <= MAX_BATCH_BYTES);

/// The largest reply read; a longer one is an error.
pub const MAX_REPLY: usize = 1 << 20;

/// The `X-Amz-Target` of the call.
pub const TARGET: &str = "Kinesis_20131202.PutRecords";

/// The request's `Content-Type`.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The signing name of the service.
pub const SERVICE: &str = "kinesis";

/// Errors that a 400 reply carries when the request was only throttled: retried.
const THROTTLING: [&str; 7] = [
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "KMSThrottlingException",
];

/// A Kinesis destination's settings. `Debug` never shows the secret key or token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KinesisSpec {
    /// TLS settings (`None` for a plain-HTTP endpoint).
    pub tls: Option<TlsOptions>,
    /// The AWS region (the instance's `destination`), for the signature's scope.
    pub region: String,
    /// The stream (`stream name` of `aws_kinesis.conf`).
    pub stream: String,
    /// The `Host` header: the endpoint's host, and its port unless the default.
    pub host_header: String,
    /// The credentials to sign with.
    pub credentials: Credentials,
}

/// What the codec remembers of the batch it is sending, until the batch is done.
#[derive(Debug)]
struct BatchState {
    /// The batch's length and hash: a different body is a different batch.
    fingerprint: (usize, u64),
    /// Each record's partition key, given the first time it was sent.
    keys: Vec<PartitionKey>,
    /// Each record's number of lines (engine records).
    lines: Vec<u64>,
    /// Which records went in.
    accepted: Vec<bool>,
    /// Lines too long for a record, left out.
    oversized: u64,
    /// Requests sent for this batch.
    attempts: u32,
}

impl BatchState {
    /// Lines of the records not accepted (yet).
    fn pending_lines(&self) -> u64 {
        self.accepted
            .iter()
            .zip(&self.lines)
            .filter(|(ok, _)| !**ok)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Builds `PutRecords` requests and reads their replies.
#[derive(Debug)]
pub struct KinesisCodec {
    spec: KinesisSpec,
    limits: Limits,
    keys: PartitionKeys,
    batch: Option<BatchState>,
    /// The records (indices into the batch's) of the request on the wire, in order.
    in_flight: Option<Vec<usize>>,
    responses: ResponseReader,
    /// Scratch: the batch's records, and the JSON payload being built.
    records: Vec<Range<usize>>,
    payload: Vec<u8>,
    clock: fn() -> SystemTime,
}

impl KinesisCodec {
    /// A codec for one destination.
    pub fn new(spec: KinesisSpec) -> Self {
        Self {
            spec,
            limits: Limits::KINESIS,
            keys: PartitionKeys::new(),
            batch: None,
            in_flight: None,
            responses: ResponseReader::with_full_body(MAX_REPLY),
            records: Vec::new(),
            payload: Vec::new(),
            clock: SystemTime::now,
        }
    }

    /// Cuts `body` into records (in `self.records`); returns the oversized lines.
    fn split(&mut self, body: &[u8]) -> u64 {
        self.records.clear();
        let mut oversized = 0;
        for group in Batches::with_limits(body, self.limits) {
            match group {
                Group::Batch(batch) => {
                    let mut start = batch.range().start;
                    for record in batch.records() {
                        self.records.push(start..start + record.len());
                        start += record.len();
                    }
                }
                Group::Oversized(_) => oversized += 1,
            }
        }
        oversized
    }

    /// The JSON payload for the records not accepted yet (in `self.payload`); returns
    /// their indices.
    fn build_payload(&mut self, body: &[u8], state: &BatchState) -> Vec<usize> {
        let p = &mut self.payload;
        p.clear();
        p.extend_from_slice(b"{\"StreamName\":");
        json_string(p, &self.spec.stream);
        p.extend_from_slice(b",\"Records\":[");
        let mut sent = Vec::new();
        for (i, range) in self.records.iter().enumerate() {
            if state.accepted.get(i).copied().unwrap_or(false) {
                continue;
            }
            if !sent.is_empty() {
                p.push(b',');
            }
            p.extend_from_slice(b"{\"Data\":\"");
            base64_into(p, body.get(range.clone()).unwrap_or_default());
            p.extend_from_slice(b"\",\"PartitionKey\":");
            let key = state.keys.get(i).map_or("netdata", PartitionKey::as_str);
            json_string(p, key);
            p.push(b'}');
            sent.push(i);
        }
        p.extend_from_slice(b"]}");
        sent
    }

    /// The verdict on a whole reply to the request of `sent` records.
    fn judge(&mut self, status: u16, body: &[u8], body_start: &str, close: bool) -> Verdict {
        let sent = self.in_flight.take().unwrap_or_default();
        if (200..300).contains(&status) {
            return match read_put_records(body, sent.len()) {
                Ok(entries) => self.record_results(&sent, &entries, close),
                Err(e) => Verdict {
                    outcome: Outcome::Retry { status },
                    message: Some(format!(
                        "unreadable PutRecords reply (HTTP {status}): {e}; sending the {} records again",
                        sent.len()
                    )),
                    close: true,
                },
            };
        }
        let (kind, text) = aws_error(body, body_start);
        let what = match (kind.is_empty(), text.is_empty()) {
            (true, true) => format!("HTTP {status}"),
            (true, false) => format!("HTTP {status}: {text}"),
            (false, true) => format!("HTTP {status} {kind}"),
            (false, false) => format!("HTTP {status} {kind}: {text}"),
        };
        let retry = status == 429
            || (500..600).contains(&status)
            || (status == 400 && THROTTLING.contains(&kind.as_str()));
        if retry {
            return Verdict {
                outcome: Outcome::Retry { status },
                message: Some(format!("{what}; retrying")),
                close,
            };
        }
        let state = self.batch.take();
        let (outcome, message) = match state {
            Some(state) if state.accepted.iter().any(|&ok| ok) => {
                let lost = state.pending_lines() + state.oversized;
                (
                    Outcome::Delivered { rejected: lost },
                    format!(
                        "{what}; giving up the {lost} lines not yet in (the stream took {} of \
                         the batch's {} records before)",
                        state.accepted.iter().filter(|&&ok| ok).count(),
                        state.accepted.len()
                    ),
                )
            }
            _ => (
                Outcome::Rejected { status },
                format!("{what}; dropping the batch"),
            ),
        };
        Verdict {
            outcome,
            message: Some(message),
            close,
        }
    }

    /// A readable 2xx reply: which of the `sent` records went in.
    fn record_results(
        &mut self,
        sent: &[usize],
        entries: &[Option<(String, String)>],
        close: bool,
    ) -> Verdict {
        let Some(state) = self.batch.as_mut() else {
            // Nothing to account for (cannot happen: a request is always of a batch).
            return Verdict {
                outcome: Outcome::Delivered { rejected: 0 },
                message: None,
                close,
            };
        };
        let mut failures: Vec<(&str, usize, &str)> = Vec::new();
        for (&i, entry) in sent.iter().zip(entries) {
            match entry {
                None => {
                    if let Some(ok) = state.accepted.get_mut(i) {
                        *ok = true;
                    }
                }
                Some((code, message)) => match failures.iter_mut().find(|f| f.0 == code) {
                    Some(f) => f.1 += 1,
                    None => failures.push((code, 1, message)),
                },
            }
        }
        if failures.is_empty() {
            let oversized = state.oversized;
            self.batch = None;
            return Verdict {
                outcome: Outcome::Delivered {
                    rejected: oversized,
                },
                message: (oversized > 0).then(|| {
                    format!(
                        "{oversized} lines longer than a Kinesis record ({MAX_DATA_BYTES} \
                         bytes) could not be sent"
                    )
                }),
                close,
            };
        }
        let failed: usize = failures.iter().map(|f| f.1).sum();
        let detail: Vec<String> = failures
            .iter()
            .map(|(code, n, message)| {
                let message = clean(message);
                if message.is_empty() {
                    format!("{n} × {code}")
                } else {
                    format!("{n} × {code}: {message}")
                }
            })
            .collect();
        Verdict {
            outcome: Outcome::Retry { status: 0 },
            message: Some(format!(
                "PutRecords: {failed} of {} records failed ({}); retrying them (attempt {})",
                sent.len(),
                detail.join("; "),
                state.attempts
            )),
            close,
        }
    }
}

impl Codec for KinesisCodec {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        self.in_flight = None;
        let fingerprint = fingerprint(body);
        if self
            .batch
            .as_ref()
            .is_some_and(|b| b.fingerprint != fingerprint)
        {
            self.batch = None;
        }
        let oversized = self.split(body);
        if self.records.is_empty() {
            self.batch = None;
            return Err(if oversized > 0 {
                format!(
                    "{oversized} lines longer than a Kinesis record ({MAX_DATA_BYTES} bytes) \
                     cannot be sent"
                )
            } else {
                "an empty batch".to_owned()
            });
        }
        let cost = body.len() + self.records.len() * MAX_KEY_LEN;
        if self.records.len() > MAX_BATCH_RECORDS || cost > MAX_BATCH_BYTES {
            self.batch = None;
            return Err(format!(
                "a batch of {} records and {cost} bytes is over the PutRecords limits",
                self.records.len()
            ));
        }
        let (keys, records) = (&mut self.keys, &self.records);
        let mut state = self.batch.take().unwrap_or_else(|| BatchState {
            fingerprint,
            keys: records.iter().map(|_| keys.next_key()).collect(),
            lines: records
                .iter()
                .map(|r| {
                    let record = body.get(r.clone()).unwrap_or_default();
                    let newlines = record.iter().filter(|&&b| b == b'\n').count() as u64;
                    newlines + u64::from(record.last().is_some_and(|&b| b != b'\n'))
                })
                .collect(),
            accepted: vec![false; records.len()],
            oversized,
            attempts: 0,
        });
        if state.accepted.iter().all(|&ok| ok) {
            // Cannot happen (a batch whose records are all in is done); send it all.
            state.accepted.fill(false);
        }
        state.attempts += 1;
        let sent = self.build_payload(body, &state);
        self.batch = Some(state);
        self.write_request(out);
        self.in_flight = Some(sent);
        Ok(())
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<Option<Verdict>, String> {
        let mut replies = Vec::new();
        self.responses.feed(bytes, |r| {
            // An interim 1xx reply is not the answer.
            if !(100..200).contains(&r.status) {
                replies.push(r);
            }
        })?;
        // One request is outstanding at a time: anything after its reply is ignored.
        let Some(reply) = replies.into_iter().next() else {
            return Ok(None);
        };
        if self.in_flight.is_none() {
            return Err(format!(
                "HTTP {} reply without a request outstanding",
                reply.status
            ));
        }
        Ok(Some(self.judge(
            reply.status,
            &reply.body,
            &reply.body_start,
            reply.close,
        )))
    }

    fn reset(&mut self) {
        // The batch's progress stays: the engine sends the same batch again on the new
        // connection.
        self.responses.reset();
        self.in_flight = None;
    }
}

impl KinesisCodec {
    /// Writes the signed request for `self.payload` into `out`.
    fn write_request(&self, out: &mut Vec<u8>) {
        let spec = &self.spec;
        let amz_date = sigv4::amz_date((self.clock)());
        let mut headers: Vec<(&str, &str)> = vec![
            ("Content-Type", CONTENT_TYPE),
            ("Host", &spec.host_header),
            ("X-Amz-Date", &amz_date),
            ("X-Amz-Target", TARGET),
        ];
        if let Some(token) = &spec.credentials.session_token {
            headers.push(("X-Amz-Security-Token", token));
        }
        let scope = sigv4::Scope {
            amz_date: &amz_date,
            region: &spec.region,
            service: SERVICE,
        };
        let request = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload: &self.payload,
        };
        let authorization = sigv4::authorization(&spec.credentials, &scope, &request);
        out.reserve(self.payload.len() + 1024);
        out.extend_from_slice(b"POST / HTTP/1.1\r\n");
        for (name, value) in &headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(
            out,
            "Content-Length: {}\r\nAuthorization: {authorization}\r\nUser-Agent: backhaul/{}\r\n\r\n",
            self.payload.len(),
            env!("CARGO_PKG_VERSION")
        );
        out.extend_from_slice(&self.payload);
    }
}

/// A cheap identity of a batch body: its length and a fixed-key hash.
fn fingerprint(body: &[u8]) -> (usize, u64) {
    let mut h = std::hash::DefaultHasher::new();
    h.write(body);
    (body.len(), h.finish())
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Appends the standard base64 (with padding) of `data`.
fn base64_into(out: &mut Vec<u8>, data: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |n: u32| ALPHABET[(n & 63) as usize];
    out.reserve(data.len().div_ceil(3) * 4);
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[sym(n >> 18), sym(n >> 12), sym(n >> 6), sym(n)]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[sym(n >> 18), sym(n >> 12), b'=', b'=']);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sym(n >> 18), sym(n >> 12), sym(n >> 6), b'=']);
        }
        _ => {}
    }
}

/// Reads a `PutRecords` reply: one entry per record sent, `None` for a record that went
/// in, else its error code and message.
fn read_put_records(body: &[u8], sent: usize) -> Result<Vec<Option<(String, String)>>, String> {
    let reply = json::parse(body)?;
    let records = reply
        .get("Records")
        .and_then(json::Value::as_array)
        .ok_or("no Records array")?;
    if records.len() != sent {
        return Err(format!("{} entries for {sent} records", records.len()));
    }
    let mut entries = Vec::with_capacity(records.len());
    for r in records {
        let code = r.get("ErrorCode").and_then(json::Value::as_str);
        let sequence = r.get("SequenceNumber").and_then(json::Value::as_str);
        entries.push(match (code, sequence) {
            (Some(code), _) => {
                let message = r.get("ErrorMessage").and_then(json::Value::as_str);
                Some((code.to_owned(), message.unwrap_or_default().to_owned()))
            }
            (None, Some(_)) => None,
            (None, None) => return Err("an entry with neither SequenceNumber nor ErrorCode".into()),
        });
    }
    let failed = entries.iter().filter(|e| e.is_some()).count() as u64;
    match reply.get("FailedRecordCount").map(json::Value::as_u64) {
        Some(Some(n)) if n == failed => Ok(entries),
        Some(Some(n)) => Err(format!(
            "FailedRecordCount {n} but {failed} entries with an ErrorCode"
        )),
        Some(None) => Err("FailedRecordCount is not a count".to_owned()),
        // Absent: the entries say it all.
        None => Ok(entries),
    }
}

/// The AWS error type and message of an error reply: JSON (`__type`, `message`) or XML
/// (`<Code>`, `<Message>`); else no type and the start of the body.
fn aws_error(body: &[u8], body_start: &str) -> (String, String) {
    if let Ok(value) = json::parse(body) {
        let kind = value.get("__type").and_then(json::Value::as_str);
        let message = ["message", "Message"]
            .iter()
            .find_map(|m| value.get(m).and_then(json::Value::as_str));
        if kind.is_some() || message.is_some() {
            // `com.amazon.coral.service#UnrecognizedClientException` → the part after `#`.
            let kind = kind.unwrap_or_default();
            let kind = kind.rsplit('#').next().unwrap_or(kind);
            return (clean(kind), clean(message.unwrap_or_default()));
        }
    }
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let len = text.get(start..)?.find(&format!("</{name}>"))?;
        text.get(start..start + len).map(clean)
    };
    if let Some(code) = tag("Code") {
        return (code, tag("Message").unwrap_or_default());
    }
    (String::new(), clean(body_start))
}

/// Server text made safe for one log line: control characters become spaces, runs of
/// spaces one, at most 300 characters.
fn clean(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > 300 {
            out = out.chars().take(300).collect();
            out.push('…');
            break;
        }
    }
    out
}

/// Reads an instance's settings (and the protocol's own configuration file in
/// `config_dir`) into the servers to connect to and the codec's settings; the AWS
/// environment variables are read here (see [`conf`]).
///
/// # Errors
///
/// A message naming the option, file or variable that is wrong.
pub fn load(
    instance: &backhaul_core::config::InstanceConfig<'_>,
    config_dir: &std::path::Path,
) -> Result<(Vec<crate::net::Target>, KinesisSpec), String> {
    conf::load_with(instance, config_dir, &|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests;

//! moto (`moto_server`, PyPI `moto`): an AWS emulator, here for Kinesis, with AWS
//! Signature Version 4 **checked**.
//!
//! moto ignores signatures unless `INITIAL_NO_AUTH_ACTION_COUNT=N` is in its environment:
//! then it takes the first N service actions (IAM, Kinesis, …, not its own `/moto-api/`)
//! without authentication and checks every later one as AWS does: the access key must
//! belong to an IAM user of its own, the signature must match (a wrong secret gets
//! `403 SignatureDoesNotMatch`, an unknown key `403 InvalidClientTokenId`), and the user's
//! policies must allow the action. [`Moto::start`] starts it with N = 3 and spends the
//! three actions at once on creating an IAM user, its access key and an allow-all policy;
//! from then on every request, the harness's own included, must be correctly signed.
//!
//! The harness talks to moto with boto3, through the small script `moto_helper.py`
//! (embedded, written into the server's directory): creating streams and reading records
//! back are signed by botocore, so they do not depend on the project's signer.
//!
//! Gotchas: without an `Authorization` header naming the `kinesis` scope, moto routes a
//! request to S3; it answers `Connection: close` to every request; error bodies of the
//! signature check are XML even for the JSON protocol.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

use super::{
    free_addr, http_ok, poll, require_program, start_with_retries, Server, StartError, TempDir,
    DATA_TIMEOUT,
};

/// The region streams are created in.
pub const REGION: &str = "us-east-1";

/// How many unauthenticated actions moto allows: the harness's setup spends them all.
const NO_AUTH_ACTIONS: &str = "3";

/// The helper script.
const HELPER: &str = include_str!("moto_helper.py");

/// A running moto server that checks signatures, and the credentials of its IAM user.
#[derive(Debug)]
pub struct Moto {
    /// The HTTP endpoint's address (every AWS service on one port).
    pub addr: SocketAddr,
    /// The IAM user's access key id.
    pub access_key_id: String,
    /// The IAM user's secret access key.
    pub secret_access_key: String,
    python: PathBuf,
    helper: PathBuf,
    server: Server,
}

/// One Kinesis record, as `GetRecords` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KinesisRecord {
    /// The shard it is in.
    pub shard: String,
    /// Its sequence number (decimal text).
    pub sequence: String,
    /// The partition key it was sent with.
    pub partition_key: String,
    /// Its data, decoded from base64.
    pub data: Vec<u8>,
}

#[derive(Deserialize)]
struct Keys {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
}

#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "ShardId")]
    shard: String,
    #[serde(rename = "SequenceNumber")]
    sequence: String,
    #[serde(rename = "PartitionKey")]
    partition_key: String,
    #[serde(rename = "Data")]
    data: String,
}

impl Moto {
    /// Starts `moto_server` on a free loopback port with signature checking, creates the
    /// IAM user and returns once moto answers.
    ///
    /// # Panics
    /// With `peer not installed: moto ...` when `moto_server` or boto3 is missing, or with
    /// the server's log when it does not come up.
    pub fn start() -> Self {
        start_with_retries("moto", Self::try_start)
    }

    fn try_start() -> Result<Self, StartError> {
        let program = require_program("moto (pip install moto flask flask-cors)", "moto_server")?;
        let python = require_program("python3 with boto3", "python3")?;
        let dir = TempDir::new("moto");
        let helper = dir.path().join("moto_helper.py");
        std::fs::write(&helper, HELPER)
            .map_err(|e| StartError::Failed(format!("write {}: {e}", helper.display())))?;
        let addr = free_addr();
        let args = vec![
            "-H".to_owned(),
            addr.ip().to_string(),
            "-p".to_owned(),
            addr.port().to_string(),
        ];
        let envs = [("INITIAL_NO_AUTH_ACTION_COUNT", NO_AUTH_ACTIONS)];
        let mut server = Server::spawn("moto", &program, &args, &envs, dir)?;
        let ready = format!("http://{addr}/moto-api/");
        server.wait_ready("/moto-api/", || http_ok(&ready))?;
        let mut moto = Self {
            addr,
            access_key_id: String::new(),
            secret_access_key: String::new(),
            python,
            helper,
            server,
        };
        let out = moto.helper(&["setup", &moto.endpoint(), REGION], false)?;
        let keys: Keys = serde_json::from_str(&out)
            .map_err(|e| StartError::Failed(format!("moto setup printed {out:?}: {e}")))?;
        moto.access_key_id = keys.access_key_id;
        moto.secret_access_key = keys.secret_access_key;
        Ok(moto)
    }

    /// Runs the helper script; its standard output, or why it failed.
    fn helper(&self, args: &[&str], signed: bool) -> Result<String, StartError> {
        let mut command = Command::new(&self.python);
        command.arg(&self.helper).args(args);
        for name in [
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_KINESIS",
            "AWS_ENDPOINT_URL_IAM",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        ] {
            command.env_remove(name);
        }
        if signed {
            command
                .env("AWS_ACCESS_KEY_ID", &self.access_key_id)
                .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key);
        }
        let out = command
            .output()
            .map_err(|e| StartError::Failed(format!("run {}: {e}", self.python.display())))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(3) {
            return Err(StartError::NotInstalled(stderr.trim().to_owned()));
        }
        if !out.status.success() {
            return Err(StartError::Failed(format!(
                "moto_helper.py {} failed ({}):\n{stderr}\n{}",
                args.first().unwrap_or(&""),
                out.status,
                self.server.log_tail(20)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        self.helper(args, true).map_err(|e| match e {
            StartError::NotInstalled(m) | StartError::Failed(m) => m,
        })
    }

    /// `http://ADDR`, for `AWS_ENDPOINT_URL_KINESIS`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates a stream of `shards` shards (active at once).
    ///
    /// # Panics
    /// If moto refuses.
    pub fn create_stream(&self, stream: &str, shards: u32) {
        let endpoint = self.endpoint();
        let shards = shards.to_string();
        if let Err(e) = self.run(&["create-stream", &endpoint, REGION, stream, &shards]) {
            panic!("moto create-stream {stream}: {e}");
        }
    }

    fn try_records(&self, stream: &str) -> Result<Vec<KinesisRecord>, String> {
        let out = self.run(&["records", &self.endpoint(), REGION, stream])?;
        let raw: Vec<RawRecord> =
            serde_json::from_str(&out).map_err(|e| format!("records {out:?}: {e}"))?;
        raw.into_iter()
            .map(|r| {
                Ok(KinesisRecord {
                    data: unbase64(&r.data).ok_or_else(|| format!("bad base64 {:?}", r.data))?,
                    shard: r.shard,
                    sequence: r.sequence,
                    partition_key: r.partition_key,
                })
            })
            .collect()
    }

    /// Every record of the stream, shard by shard, in sequence order.
    ///
    /// # Panics
    /// If reading fails.
    pub fn records(&self, stream: &str) -> Vec<KinesisRecord> {
        self.try_records(stream)
            .unwrap_or_else(|e| panic!("moto records of {stream}: {e}"))
    }

    /// Polls [`Moto::records`] until the records hold at least `lines` newline-terminated
    /// lines, and returns them all.
    ///
    /// # Panics
    /// After [`DATA_TIMEOUT`], with what was there and the server's log.
    pub fn wait_for_lines(&self, stream: &str, lines: usize) -> Vec<KinesisRecord> {
        poll(
            &format!("{lines} lines in kinesis stream {stream}"),
            DATA_TIMEOUT,
            || {
                let records = self.try_records(stream)?;
                let n: usize = records
                    .iter()
                    .map(|r| r.data.iter().filter(|&&b| b == b'\n').count())
                    .sum();
                if n >= lines {
                    Ok(Some(records))
                } else {
                    Err(format!("{n} lines in {} records", records.len()))
                }
            },
            || self.server.log_tail(20),
        )
    }

    /// The server process (log, directory, pid).
    pub fn server(&self) -> &Server {
        &self.server
    }
}

/// Standard base64 with padding; `None` if malformed.
fn unbase64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut n) = (0u32, 0);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6 | u32::from(v)) & 0xFF_FFFF;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::unbase64;

    #[test]
    fn base64() {
        assert_eq!(unbase64("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(unbase64("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(unbase64("Zm8=").unwrap(), b"fo");
        assert_eq!(unbase64("").unwrap(), b"");
        assert!(unbase64("Zm9v!").is_none());
    }
}

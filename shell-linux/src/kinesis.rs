//! AWS Kinesis `PutRecords` (placeholder: being written).

use backhaul_core::engine::Outcome;

use crate::codec::{Codec, Verdict};
use crate::tls::TlsOptions;

/// The largest batch body (JSON lines before base64), within one `PutRecords` request.
pub const MAX_BODY: usize = 4 << 20;

/// A Kinesis destination's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KinesisSpec {
    /// TLS settings (`None` for a plain-HTTP endpoint).
    pub tls: Option<TlsOptions>,
}

/// Builds `PutRecords` requests and reads their replies.
#[derive(Debug)]
pub struct KinesisCodec {
    spec: KinesisSpec,
}

impl KinesisCodec {
    /// A codec for one destination.
    pub fn new(spec: KinesisSpec) -> Self {
        Self { spec }
    }
}

impl Codec for KinesisCodec {
    fn encode(&mut self, _body: &[u8], _out: &mut Vec<u8>) -> Result<(), String> {
        let _ = &self.spec;
        Err("kinesis is not written yet".to_owned())
    }

    fn feed(&mut self, _bytes: &[u8]) -> Result<Option<Verdict>, String> {
        Ok(Some(Verdict {
            outcome: Outcome::Rejected { status: 0 },
            message: None,
            close: false,
        }))
    }

    fn reset(&mut self) {}
}

/// Reads an instance's settings (and the protocol's own configuration file in
/// `config_dir`) into the servers to connect to and the codec's settings.
///
/// # Errors
///
/// A message naming the option or file that is wrong.
pub fn load(
    instance: &backhaul_core::config::InstanceConfig<'_>,
    config_dir: &std::path::Path,
) -> Result<(Vec<crate::net::Target>, KinesisSpec), String> {
    let _ = (instance, config_dir);
    Err("type kinesis is not supported by this build yet".to_owned())
}

//! MongoDB `OP_MSG` insert (placeholder: being written).

use backhaul_core::engine::Outcome;

use crate::codec::{Codec, Verdict};
use crate::tls::TlsOptions;

/// The largest batch body (BSON documents), within one `OP_MSG`.
pub const MAX_BODY: usize = 16 << 20;

/// A MongoDB destination's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MongoSpec {
    /// TLS settings (`None` without `tls=true` in the URI).
    pub tls: Option<TlsOptions>,
}

/// Builds `OP_MSG` inserts and reads their replies.
#[derive(Debug)]
pub struct MongoCodec {
    spec: MongoSpec,
}

impl MongoCodec {
    /// A codec for one destination.
    pub fn new(spec: MongoSpec) -> Self {
        Self { spec }
    }
}

impl Codec for MongoCodec {
    fn encode(&mut self, _body: &[u8], _out: &mut Vec<u8>) -> Result<(), String> {
        let _ = &self.spec;
        Err("mongodb is not written yet".to_owned())
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
) -> Result<(Vec<crate::net::Target>, MongoSpec), String> {
    let _ = (instance, config_dir);
    Err("type mongodb is not supported by this build yet".to_owned())
}

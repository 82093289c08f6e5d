//! Destinations whose requests the shell builds itself: Kinesis `PutRecords` calls and
//! MongoDB `OP_MSG` inserts.
//!
//! Their engines run [`HttpFraming::bodies`](backhaul_core::engine::HttpFraming::bodies):
//! the engine fills bounded batches of records (JSON lines for Kinesis, BSON documents for
//! MongoDB) and hands each one over bare. A [`Codec`] wraps a batch into the bytes of one
//! request, and reads the replies into [`Verdict`]s that the daemon passes back to the
//! engine. Everything else (the ring as the retry buffer, failover, backoff, stall
//! timeouts, loss counting) is the engine's, exactly as for every other destination.

use backhaul_core::engine::Outcome;

use crate::tls::TlsOptions;

/// One protocol's request builder and reply reader, for one connection at a time.
pub trait Codec: Send {
    /// Builds the request for one batch `body` into `out` (which it clears first).
    ///
    /// Called again for the same body when a request has to be rebuilt: after a
    /// reconnect, or after [`Outcome::Retry`] (a Kinesis codec then leaves out the
    /// records that already went in).
    ///
    /// # Errors
    ///
    /// The body cannot be sent at all; the daemon logs the message and drops the batch,
    /// counting its records as lost.
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), String>;

    /// Reply bytes as they arrive. Returns the verdict once a whole reply is in.
    ///
    /// # Errors
    ///
    /// The reply is malformed or too large; the daemon logs it and closes the
    /// connection, and the request is sent again on the next one.
    fn feed(&mut self, bytes: &[u8]) -> Result<Option<Verdict>, String>;

    /// The connection is new: forget any partial reply.
    fn reset(&mut self);
}

/// What a whole reply means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What the engine makes of it.
    pub outcome: Outcome,
    /// A line for the log (failed records, a server error), if anything went wrong.
    pub message: Option<String>,
    /// The server asked to close the connection (or its reply makes it unusable).
    pub close: bool,
}

/// The settings of a codec destination, as loaded from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecSpec {
    /// AWS Kinesis `PutRecords`.
    Kinesis(crate::kinesis::KinesisSpec),
    /// MongoDB `OP_MSG` insert.
    Mongo(crate::mongo::MongoSpec),
}

impl CodecSpec {
    /// A codec for a new destination.
    pub fn codec(&self) -> Box<dyn Codec> {
        match self {
            Self::Kinesis(spec) => Box::new(crate::kinesis::KinesisCodec::new(spec.clone())),
            Self::Mongo(spec) => Box::new(crate::mongo::MongoCodec::new(spec.clone())),
        }
    }

    /// TLS settings, when the connection is encrypted.
    pub fn tls(&self) -> Option<&TlsOptions> {
        match self {
            Self::Kinesis(spec) => spec.tls.as_ref(),
            Self::Mongo(spec) => spec.tls.as_ref(),
        }
    }

    /// The destination's timeout for a configured `timeout ms`: a MongoDB URI's
    /// `socketTimeoutMS`/`connectTimeoutMS` can lower it.
    pub fn timeout_ms(&self, configured: u64) -> u64 {
        match self {
            Self::Kinesis(_) => configured,
            Self::Mongo(spec) => spec.timeout_ms(configured),
        }
    }

    /// The largest batch body, in bytes, for a send buffer of `buffer_size` bytes.
    pub fn max_body(&self, buffer_size: usize) -> usize {
        let protocol_limit = match self {
            Self::Kinesis(_) => crate::kinesis::MAX_BODY,
            Self::Mongo(_) => crate::mongo::MAX_BODY,
        };
        (buffer_size / 4).clamp(4096, protocol_limit)
    }
}

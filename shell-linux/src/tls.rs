//! TLS for the `:https` destinations, over non-blocking sockets, with rustls.
//!
//! netdata's TLS is insecure: it verifies no certificate and no host name, and when the
//! handshake fails it silently goes on in plain text on the same socket (see the
//! reference specification, 7.7 and 8.6). backhaul does the opposite:
//!
//! * the server's certificate is **verified by default**: against the system's
//!   certificate authorities (`/etc/ssl/certs`, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when
//!   set), or, when `CA file` is set, against the certificates of that file **only**;
//! * the certificate must name the host of the destination item (a DNS name, or for an IP
//!   address item an IP address subject alternative name);
//! * a failed handshake is an error that says why ([`TlsFailure`]), and the connection is
//!   dropped: there is **no** fallback to plain text, ever;
//! * `skip certificate verification = yes` accepts any certificate (the handshake
//!   signatures are still checked). The caller must log a loud warning when it is set
//!   ([`TlsOptions::insecure_warning`]);
//! * `client certificate` and `client key` authenticate backhaul to the server.
//!
//! TLS 1.2 and 1.3 are offered, with rustls's default cipher suites and the *ring*
//! provider. PEM files only (`-----BEGIN CERTIFICATE-----`, `-----BEGIN PRIVATE KEY-----`,
//! `RSA PRIVATE KEY`, `EC PRIVATE KEY`); encrypted keys are not supported.
//!
//! # Using [`TlsStream`] in the event loop
//!
//! Create it once the TCP connection is up; it does no I/O until called. Keep the socket
//! registered for `READABLE | WRITABLE` (mio is edge-triggered): on every event call
//! [`TlsStream::read`] until it returns `WouldBlock` (it also answers the handshake and
//! flushes what the handshake produced), then write or [`TlsStream::flush_tls`]. Only
//! `read` reads the socket, so no readable edge is consumed without the caller seeing the
//! data. Plaintext written during the handshake is buffered (up to [`BUFFER_LIMIT`]) and
//! sent when the handshake completes; the caller may prefer to report the connection as
//! up only once [`TlsStream::is_handshaking`] turns false, so that a handshake failure
//! counts as a failed connection attempt and the next destination is tried.
//!
//! # Byte accounting
//!
//! The engine counts the *plaintext* bytes `write` accepted. The kernel's count of
//! unacknowledged bytes (`SIOCOUTQ`) is of TLS record bytes (plus the bytes rustls still
//! buffers), which do not map back to plaintext bytes, so a TLS connection reports the
//! unacknowledged count as unknown ([`TlsStream::unacknowledged`] is always `None`).
//! That is sound because only HTTP destinations use TLS: for them the HTTP status of the
//! response marks delivery, and the engine ignores transport acknowledgements (configure
//! such destinations with `transport_acks = false`).

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use backhaul_core::config::TlsConfig;
use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct,
    RootCertStore, SignatureScheme,
};

/// The most bytes rustls buffers for sending: plaintext written before the handshake
/// completes, and TLS records the socket has not taken yet. [`TlsStream::write`] accepts
/// no more plaintext while this much is waiting.
pub const BUFFER_LIMIT: usize = 64 * 1024;

/// The TLS options of a destination, owned (see [`TlsConfig`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `CA file`: PEM certificates of the authorities to trust *instead of* the system's.
    pub ca_file: Option<PathBuf>,
    /// `client certificate`: PEM certificate chain to authenticate with (needs the key).
    pub client_certificate: Option<PathBuf>,
    /// `client key`: the PEM private key of `client certificate`.
    pub client_key: Option<PathBuf>,
    /// `skip certificate verification`: accept any server certificate. Insecure.
    pub skip_verification: bool,
}

impl TlsOptions {
    /// The options of an instance's `TlsConfig`.
    pub fn from_config(config: &TlsConfig<'_>) -> Self {
        Self {
            ca_file: config.ca_file.map(PathBuf::from),
            client_certificate: config.client_certificate.map(PathBuf::from),
            client_key: config.client_key.map(PathBuf::from),
            skip_verification: config.skip_certificate_verification,
        }
    }

    /// The warning the caller must log (at warning level or above, once per destination)
    /// when these options disable certificate verification; `None` when they do not.
    pub fn insecure_warning(&self) -> Option<&'static str> {
        self.skip_verification.then_some(
            "TLS certificate verification is DISABLED (skip certificate verification = yes): \
             the connection is encrypted but the server is not authenticated, so anyone on \
             the path can impersonate it and read the metrics",
        )
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts no certificate authority: every handshake fails
/// (used when a destination's certificates cannot be loaded any more, so that it never
/// falls back to anything weaker).
///
/// # Panics
///
/// Never: the default protocol versions are always supported by the ring provider.
pub fn refusing_config() -> ClientConfig {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth()
}

/// Builds the client configuration of a destination.
///
/// Server certificates are verified against the certificates of `ca_file` when it is set
/// (and then only those), else against the system's certificate authorities; with
/// `skip_verification` any certificate is accepted (`ca_file` is then not read), and the
/// caller must log [`TlsOptions::insecure_warning`].
///
/// # Errors
///
/// A message naming the file and what is wrong with it: unreadable, no certificate in
/// it, no or a bad private key, a key that does not match the certificate, a client
/// certificate without a key (or the reverse); or no system certificate authority found.
pub fn client_config(tls: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = if tls.skip_verification {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        let roots = match &tls.ca_file {
            Some(path) => ca_file_roots(path).map_err(|e| format!("CA file {e}"))?,
            None => system_roots()?,
        };
        builder.with_root_certificates(roots)
    };
    let config = match (&tls.client_certificate, &tls.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert_path), Some(key_path)) => {
            let chain =
                read_certificates(cert_path).map_err(|e| format!("client certificate {e}"))?;
            let key = read_key(key_path).map_err(|e| format!("client key {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                        format!(
                            "client key {}: the key does not match the certificate in {}",
                            key_path.display(),
                            cert_path.display()
                        )
                    }
                    e => format!(
                        "client certificate {} and client key {}: unusable: {e}",
                        cert_path.display(),
                        key_path.display()
                    ),
                })?
        }
        (Some(cert_path), None) => {
            return Err(format!(
                "`client certificate` {} is set without a `client key`",
                cert_path.display()
            ))
        }
        (None, Some(key_path)) => {
            return Err(format!(
                "`client key` {} is set without a `client certificate`",
                key_path.display()
            ))
        }
    };
    Ok(Arc::new(config))
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

fn pem_error(path: &Path, e: &rustls::pki_types::pem::Error) -> String {
    format!("{}: not a valid PEM file: {e}", path.display())
}

/// All the certificates of a PEM file; at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, &e))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it (expected PEM \"-----BEGIN CERTIFICATE-----\")",
            path.display()
        ));
    }
    Ok(certs)
}

/// The first private key of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read_file(path)?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Ok(key),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            let encrypted = pem.windows(9).any(|w| w == b"ENCRYPTED");
            Err(if encrypted {
                format!(
                    "{}: the private key is encrypted; backhaul needs an unencrypted key",
                    path.display()
                )
            } else {
                format!(
                    "{}: no private key in it (expected PEM \"-----BEGIN PRIVATE KEY-----\", \
                     \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")",
                    path.display()
                )
            })
        }
        Err(e) => Err(pem_error(path, &e)),
    }
}

fn ca_file_roots(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in read_certificates(path)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            format!(
                "{}: certificate #{} cannot be used as a certificate authority: {e}",
                path.display(),
                i + 1
            )
        })?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(format!(
            "no system certificate authority found (install ca-certificates, or set `CA file`){}",
            if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            }
        ));
    }
    Ok(roots)
}

/// The verifier of `skip certificate verification`: any certificate, any name, any date.
/// The handshake's signatures are still verified (proof that the server holds the key of
/// the certificate it sent, whatever that certificate is).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a TLS session failed: carried inside the `io::Error` (kind `InvalidData`) that
/// [`TlsStream`]'s methods return, whose message is this one's, e.g. `TLS: certificate
/// for wrong.name is not valid for example.host`.
#[derive(Debug)]
pub struct TlsFailure {
    message: String,
    error: rustls::Error,
}

impl TlsFailure {
    /// rustls's error.
    pub fn error(&self) -> &rustls::Error {
        &self.error
    }

    /// The TLS failure inside `e`, if it is one.
    pub fn of(e: &io::Error) -> Option<&Self> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Self>())
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS: {}", self.message)
    }
}

impl std::error::Error for TlsFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A subject alternative name as webpki prints it (`DnsName("x")`, `IpAddress(1.2.3.4)`),
/// made plain.
fn plain_name(name: &str) -> &str {
    name.strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(name)
}

/// A UNIX time as a UTC date, `YYYY-MM-DD`.
fn utc_date(secs: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = i64::try_from(secs / 86_400).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// A sentence saying why `error` ended the session with `server`.
fn explain(error: &rustls::Error, server: &str) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => format!(
                "the certificate of {server} is not trusted: it is not issued by a trusted \
                 certificate authority (unknown issuer; `CA file` sets the authorities to trust)"
            ),
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => {
                if presented.is_empty() {
                    format!(
                        "the certificate names no host (no subject alternative name) and is \
                         not valid for {}",
                        expected.to_str()
                    )
                } else {
                    let names = presented
                        .iter()
                        .map(|n| plain_name(n))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!(
                        "certificate for {names} is not valid for {}",
                        expected.to_str()
                    )
                }
            }
            CertificateError::NotValidForName => {
                format!("the certificate is not valid for {server}")
            }
            CertificateError::ExpiredContext { not_after, .. } => format!(
                "the certificate of {server} expired on {} (UTC)",
                utc_date(not_after.as_secs())
            ),
            CertificateError::Expired => format!("the certificate of {server} has expired"),
            CertificateError::NotValidYetContext { not_before, .. } => format!(
                "the certificate of {server} is not valid before {} (UTC; is the clock right?)",
                utc_date(not_before.as_secs())
            ),
            CertificateError::NotValidYet => {
                format!("the certificate of {server} is not valid yet (is the clock right?)")
            }
            CertificateError::Revoked => format!("the certificate of {server} is revoked"),
            CertificateError::BadSignature => {
                format!("the certificate of {server} has a bad signature")
            }
            CertificateError::BadEncoding => {
                format!("the certificate of {server} is malformed")
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                format!("the certificate of {server} is not for TLS servers: {c}")
            }
            other => format!("the certificate of {server} is not valid: {other}"),
        },
        E::AlertReceived(alert) => match alert {
            AlertDescription::CertificateRequired => format!(
                "{server} requires a client certificate (`client certificate` and `client \
                 key`) (alert {alert:?})"
            ),
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied => {
                format!("{server} rejected the client certificate (alert {alert:?})")
            }
            AlertDescription::HandshakeFailure => format!(
                "{server} refused the handshake (alert HandshakeFailure: no common cipher \
                 suite or signature scheme, or a client certificate is required)"
            ),
            AlertDescription::ProtocolVersion => {
                format!("{server} supports neither TLS 1.2 nor TLS 1.3 (alert ProtocolVersion)")
            }
            AlertDescription::UnrecognisedName => {
                format!("{server} does not serve that name (alert UnrecognisedName)")
            }
            other => format!("{server} ended the session with alert {other:?}"),
        },
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => {
            format!("protocol error ({error}): does {server} speak TLS on this port?")
        }
        E::NoCertificatesPresented => format!("{server} presented no certificate"),
        E::PeerIncompatible(_) => format!("{server} is incompatible: {error}"),
        E::PeerMisbehaved(_) => format!("{server} misbehaved: {error}"),
        other => other.to_string(),
    }
}

/// A TLS client session over a non-blocking socket (a `mio` TCP stream by default).
///
/// It never blocks and never falls back to plain text: every TLS failure is an error
/// carrying a [`TlsFailure`].
#[derive(Debug)]
pub struct TlsStream<S = TcpStream> {
    conn: ClientConnection,
    sock: S,
    server: String,
}

impl<S: Read + Write> TlsStream<S> {
    /// Starts a session with `server` over the connected `sock`; does no I/O (the first
    /// [`write`](Self::write), [`flush_tls`](Self::flush_tls) or [`read`](Self::read)
    /// sends the `ClientHello`).
    ///
    /// `server` is the host of the destination item: a DNS name (sent as SNI and checked
    /// against the certificate) or an IP address (checked against the certificate's IP
    /// addresses; no SNI is sent). Brackets around an IPv6 address are ignored.
    ///
    /// # Errors
    ///
    /// `server` is not a valid DNS name or IP address.
    pub fn new(config: Arc<ClientConfig>, server: &str, sock: S) -> Result<Self, String> {
        let host = server
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(server);
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("TLS: {host:?} is not a valid server name: {e}"))?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        Ok(Self {
            conn,
            sock,
            server: host.to_owned(),
        })
    }

    /// Encrypts as much of `plaintext` as rustls's buffer takes (see [`BUFFER_LIMIT`]) and
    /// sends TLS records as far as the socket accepts. Returns how many plaintext bytes
    /// were accepted (they are rustls's to deliver from then on), or `WouldBlock` when
    /// none could be. During the handshake the plaintext is buffered and sent once it
    /// completes.
    ///
    /// # Errors
    ///
    /// `WouldBlock`; a socket error; a TLS failure (an alert from the server found while
    /// reporting a broken connection).
    pub fn write(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        if plaintext.is_empty() {
            return Ok(0);
        }
        self.flush_tls()?;
        let mut accepted = 0;
        while accepted < plaintext.len() {
            let n = self.conn.writer().write(&plaintext[accepted..])?;
            if n == 0 {
                break; // rustls's buffer is full
            }
            accepted += n;
            if self.flush_tls().is_err() {
                break; // the bytes are accepted; the error shows again on the next call
            }
            if self.conn.wants_write() {
                break; // the socket is full
            }
        }
        if accepted == 0 {
            Err(ErrorKind::WouldBlock.into())
        } else {
            Ok(accepted)
        }
    }

    /// Sends the TLS records rustls holds, as far as the socket accepts; a full socket is
    /// not an error ([`wants_write`](Self::wants_write) stays true).
    ///
    /// # Errors
    ///
    /// A socket error, or a TLS failure explaining it.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.explain_io(e)),
            }
        }
        Ok(())
    }

    /// Reads TLS records from the socket, processes them (the handshake, alerts) and
    /// returns decrypted bytes; `Ok(0)` when the server closed the session (with or
    /// without `close_notify`, after the handshake) or `out` is empty. Also sends what
    /// the records called for. Call it until `WouldBlock` on every readiness event.
    ///
    /// # Errors
    ///
    /// `WouldBlock`; a socket error; a TLS failure ([`TlsFailure`]: the certificate is not
    /// trusted, names another host, has expired, the server sent an alert, ...); the
    /// server closed the connection during the handshake (`UnexpectedEof`).
    pub fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.conn.reader().read(out) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    return if self.conn.is_handshaking() {
                        Err(io::Error::new(
                            ErrorKind::UnexpectedEof,
                            format!(
                                "TLS: {} closed the connection during the handshake",
                                self.server
                            ),
                        ))
                    } else {
                        Ok(0)
                    };
                }
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(_) => {} // 0: end of stream, which rustls notes
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.flush_tls()?;
                    return Err(e);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                return Err(self.failure(e));
            }
            self.flush_tls()?;
        }
    }

    /// Whether the handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether TLS records wait for the socket to accept them (keep `WRITABLE` interest).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// The protocol version and cipher suite, once the handshake is done (for logs).
    pub fn session(&self) -> Option<String> {
        let version = self.conn.protocol_version()?;
        let suite = self.conn.negotiated_cipher_suite()?;
        Some(format!("{version:?}, {:?}", suite.suite()))
    }

    /// Always `None`: the kernel's unacknowledged byte count is of TLS records, not of the
    /// plaintext the engine counts (see the module documentation, "Byte accounting").
    pub fn unacknowledged(&self) -> Option<usize> {
        None
    }

    /// Sends `close_notify` (as far as the socket takes it) before the caller closes the
    /// socket.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_tls();
    }

    /// The socket (to register it with mio, for instance).
    pub fn get_ref(&self) -> &S {
        &self.sock
    }

    /// The socket, mutably (to register or deregister it with mio).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.sock
    }

    /// The socket, ending the session (without `close_notify`: see [`close`](Self::close)).
    pub fn into_inner(self) -> S {
        self.sock
    }

    /// An `io::Error` carrying the explanation of `error`, after trying to send the alert
    /// rustls queued for the server.
    fn failure(&mut self, error: rustls::Error) -> io::Error {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        io::Error::new(
            ErrorKind::InvalidData,
            TlsFailure {
                message: explain(&error, &self.server),
                error,
            },
        )
    }

    /// A write failed (the server reset or closed the connection): if the server said why
    /// with an alert before, that is the better error.
    fn explain_io(&mut self, e: io::Error) -> io::Error {
        if matches!(self.conn.read_tls(&mut self.sock), Ok(n) if n > 0) {
            if let Err(tls) = self.conn.process_new_packets() {
                return self.failure(tls);
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use mio::{Events, Interest, Poll, Token};
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    use rustls::server::WebPkiClientVerifier;
    use rustls::{ServerConfig, ServerConnection, StreamOwned};

    /// A temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "backhaul-tls-{}-{name}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    }

    /// A certificate (PEM) and its key (PEM) signed by `issuer`.
    fn leaf(
        issuer: &CertifiedIssuer<'static, KeyPair>,
        names: &[&str],
        client: bool,
        expired: bool,
    ) -> (String, String) {
        let names: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, if client { "client" } else { "server" });
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 2);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A test PKI: a CA, a server certificate for `localhost` and `127.0.0.1`, a client
    /// certificate, and another CA.
    struct Pki {
        dir: TempDir,
        ca: CertifiedIssuer<'static, KeyPair>,
        ca_file: PathBuf,
        other_ca_file: PathBuf,
        server: (String, String),
        client_cert: PathBuf,
        client_key: PathBuf,
    }

    fn pki(name: &str) -> Pki {
        let dir = TempDir::new(name);
        let ca = ca("backhaul test CA");
        let other = ca_other();
        let server = leaf(&ca, &["localhost", "127.0.0.1"], false, false);
        let (client_pem, client_key_pem) = leaf(&ca, &["client.example"], true, false);
        Pki {
            ca_file: dir.file("ca.pem", &ca.pem()),
            other_ca_file: dir.file("other-ca.pem", &other.pem()),
            client_cert: dir.file("client.pem", &client_pem),
            client_key: dir.file("client.key", &client_key_pem),
            server,
            ca,
            dir,
        }
    }

    fn ca_other() -> CertifiedIssuer<'static, KeyPair> {
        ca("another CA")
    }

    fn trusting(ca_file: &Path) -> TlsOptions {
        TlsOptions {
            ca_file: Some(ca_file.to_owned()),
            ..TlsOptions::default()
        }
    }

    fn server_config(
        server: &(String, String),
        client_ca: Option<&CertifiedIssuer<'static, KeyPair>>,
    ) -> Arc<ServerConfig> {
        server_config_with(server, client_ca, rustls::DEFAULT_VERSIONS)
    }

    fn server_config_with(
        (cert_pem, key_pem): &(String, String),
        client_ca: Option<&CertifiedIssuer<'static, KeyPair>>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<ServerConfig> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .unwrap();
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca.der().clone()).unwrap();
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        Arc::new(builder.with_single_cert(chain, key).unwrap())
    }

    /// A blocking TLS server for one connection: reads one HTTP request with a
    /// `Content-Length` body and answers `200` with "LENGTH SUM" of the body's bytes.
    fn serve(config: Arc<ServerConfig>) -> (SocketAddr, JoinHandle<Result<String, String>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            sock.set_write_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let conn = ServerConnection::new(config).map_err(|e| e.to_string())?;
            let mut tls = StreamOwned::new(conn, sock);
            let result = answer(&mut tls);
            if result.is_err() {
                // Let the client read the alert: no reset from unread data.
                let _ = tls.sock.shutdown(std::net::Shutdown::Write);
                tls.sock
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let mut sink = [0u8; 4096];
                while matches!(tls.sock.read(&mut sink), Ok(n) if n > 0) {}
            }
            result
        });
        (addr, handle)
    }

    fn answer(
        tls: &mut StreamOwned<ServerConnection, std::net::TcpStream>,
    ) -> Result<String, String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let header_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match tls.read(&mut chunk).map_err(|e| e.to_string())? {
                0 => return Err("end of stream in the request".to_owned()),
                n => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .ok_or("no Content-Length")?
            .trim()
            .parse()
            .map_err(|_| "bad Content-Length")?;
        while buf.len() < header_end + length {
            match tls.read(&mut chunk).map_err(|e| e.to_string())? {
                0 => return Err("end of stream in the body".to_owned()),
                n => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = &buf[header_end..header_end + length];
        let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
        let reply = format!("{length} {sum}");
        write!(
            tls,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .map_err(|e| e.to_string())?;
        tls.conn.send_close_notify();
        tls.flush().map_err(|e| e.to_string())?;
        Ok(reply)
    }

    /// Connects to `addr` as `name`, sends a POST of `body` through the non-blocking
    /// stream driven by a mio poll loop, and returns the whole response.
    fn exchange(
        config: Arc<ClientConfig>,
        name: &str,
        addr: SocketAddr,
        body: &[u8],
    ) -> io::Result<String> {
        let sock = std::net::TcpStream::connect(addr)?;
        sock.set_nonblocking(true)?;
        let mut tls =
            TlsStream::new(config, name, TcpStream::from_std(sock)).map_err(io::Error::other)?;
        assert!(tls.is_handshaking());
        let mut poll = Poll::new()?;
        let mut events = Events::with_capacity(8);
        poll.registry().register(
            tls.get_mut(),
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: {name}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let (mut sent, mut response, mut buf) = (0, Vec::new(), [0u8; 4096]);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "the exchange timed out");
            poll.poll(&mut events, Some(Duration::from_millis(100)))?;
            loop {
                match tls.read(&mut buf) {
                    Ok(0) => {
                        let session = tls.session().unwrap();
                        assert!(session.starts_with("TLSv1_"), "{session}");
                        assert_eq!(tls.unacknowledged(), None);
                        return Ok(String::from_utf8_lossy(&response).into_owned());
                    }
                    Ok(n) => response.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            while sent < request.len() {
                match tls.write(&request[sent..]) {
                    Ok(n) => {
                        assert!(n > 0 && n <= request.len() - sent);
                        sent += n;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            tls.flush_tls()?;
        }
    }

    fn expect_ok(response: &str, body: &[u8]) {
        let sum: u64 = body.iter().map(|&b| u64::from(b)).sum();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(
            response.ends_with(&format!("\r\n\r\n{} {sum}", body.len())),
            "{response}"
        );
    }

    fn message(e: &io::Error) -> String {
        e.to_string()
    }

    #[test]
    fn trusted_ca_file_exchanges_data() {
        let pki = pki("trusted");
        let config = client_config(&trusting(&pki.ca_file)).unwrap();
        for name in ["localhost", "127.0.0.1"] {
            let (addr, server) = serve(server_config(&pki.server, None));
            // A body larger than the buffer limit and the socket buffers: partial writes.
            let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
            let response = exchange(Arc::clone(&config), name, addr, &body).unwrap();
            expect_ok(&response, &body);
            server.join().unwrap().unwrap();
        }
    }

    #[test]
    fn tls12_server_works_with_client_certificate() {
        let pki = pki("tls12");
        let options = TlsOptions {
            client_certificate: Some(pki.client_cert.clone()),
            client_key: Some(pki.client_key.clone()),
            ..trusting(&pki.ca_file)
        };
        let config = client_config(&options).unwrap();
        let versions = &[&rustls::version::TLS12];
        let (addr, server) = serve(server_config_with(&pki.server, Some(&pki.ca), versions));
        let body = vec![7u8; 200_000];
        let response = exchange(config, "localhost", addr, &body).unwrap();
        expect_ok(&response, &body);
        server.join().unwrap().unwrap();

        // Without the client certificate, TLS 1.2 fails in the handshake itself.
        let config = client_config(&trusting(&pki.ca_file)).unwrap();
        let (addr, server) = serve(server_config_with(&pki.server, Some(&pki.ca), versions));
        let text = message(&exchange(config, "localhost", addr, b"x").unwrap_err());
        assert!(text.starts_with("TLS: localhost "), "{text}");
        assert!(text.contains("client certificate"), "{text}");
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn other_ca_is_not_trusted() {
        let pki = pki("untrusted");
        let config = client_config(&trusting(&pki.other_ca_file)).unwrap();
        let (addr, server) = serve(server_config(&pki.server, None));
        let e = exchange(config, "localhost", addr, b"x").unwrap_err();
        let text = message(&e);
        assert!(text.starts_with("TLS: "), "{text}");
        assert!(text.contains("not trusted"), "{text}");
        let failure = TlsFailure::of(&e).expect("a TLS failure");
        assert!(matches!(
            failure.error(),
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ));
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn wrong_name_is_refused() {
        let pki = pki("name");
        let config = client_config(&trusting(&pki.ca_file)).unwrap();
        let (addr, server) = serve(server_config(&pki.server, None));
        let e = exchange(config, "example.host", addr, b"x").unwrap_err();
        assert_eq!(
            message(&e),
            "TLS: certificate for localhost, 127.0.0.1 is not valid for example.host"
        );
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn expired_certificate_is_refused() {
        let pki = pki("expired");
        let expired = leaf(&pki.ca, &["localhost"], false, true);
        let config = client_config(&trusting(&pki.ca_file)).unwrap();
        let (addr, server) = serve(server_config(&expired, None));
        let text = message(&exchange(config, "localhost", addr, b"x").unwrap_err());
        assert_eq!(
            text,
            "TLS: the certificate of localhost expired on 2020-01-02 (UTC)"
        );
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn skip_verification_accepts_an_untrusted_server() {
        let pki = pki("skip");
        let options = TlsOptions {
            skip_verification: true,
            ..trusting(&pki.other_ca_file)
        };
        assert!(options.insecure_warning().unwrap().contains("DISABLED"));
        let config = client_config(&options).unwrap();
        let (addr, server) = serve(server_config(&pki.server, None));
        // Neither the issuer nor the name matches.
        let response = exchange(config, "example.host", addr, b"hello").unwrap();
        expect_ok(&response, b"hello");
        server.join().unwrap().unwrap();
        assert_eq!(TlsOptions::default().insecure_warning(), None);
    }

    #[test]
    fn client_certificate_authenticates() {
        let pki = pki("client");
        let with_cert = TlsOptions {
            client_certificate: Some(pki.client_cert.clone()),
            client_key: Some(pki.client_key.clone()),
            ..trusting(&pki.ca_file)
        };
        let config = client_config(&with_cert).unwrap();
        let (addr, server) = serve(server_config(&pki.server, Some(&pki.ca)));
        let response = exchange(config, "localhost", addr, b"authenticated").unwrap();
        expect_ok(&response, b"authenticated");
        server.join().unwrap().unwrap();

        // Without a client certificate the server refuses, and the error says so.
        let config = client_config(&trusting(&pki.ca_file)).unwrap();
        let (addr, server) = serve(server_config(&pki.server, Some(&pki.ca)));
        let text = message(&exchange(config, "localhost", addr, b"x").unwrap_err());
        assert!(text.contains("requires a client certificate"), "{text}");
        assert!(server.join().unwrap().is_err());

        // A client certificate from another CA is rejected.
        let other = ca_other();
        let (cert, key) = leaf(&other, &["client.example"], true, false);
        let options = TlsOptions {
            client_certificate: Some(pki.dir.file("other-client.pem", &cert)),
            client_key: Some(pki.dir.file("other-client.key", &key)),
            ..trusting(&pki.ca_file)
        };
        let (addr, server) = serve(server_config(&pki.server, Some(&pki.ca)));
        let text = message(
            &exchange(client_config(&options).unwrap(), "localhost", addr, b"x").unwrap_err(),
        );
        assert!(text.contains("rejected the client certificate"), "{text}");
        assert!(server.join().unwrap().is_err());
    }

    #[test]
    fn plain_text_server_is_an_error_not_a_fallback() {
        let pki = pki("plain");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf);
            let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            let _ = sock.shutdown(std::net::Shutdown::Write);
            while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
        });
        let config = client_config(&trusting(&pki.ca_file)).unwrap();
        let text = message(&exchange(config, "localhost", addr, b"x").unwrap_err());
        assert!(text.starts_with("TLS: protocol error"), "{text}");
        assert!(text.contains("does localhost speak TLS"), "{text}");
        server.join().unwrap();
    }

    #[test]
    fn server_closing_during_handshake_is_an_error() {
        let pki = pki("eof");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf); // the ClientHello
            let _ = sock.shutdown(std::net::Shutdown::Write);
            while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
        });
        let config = client_config(&trusting(&pki.ca_file)).unwrap();
        let e = exchange(config, "localhost", addr, b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(
            message(&e),
            "TLS: localhost closed the connection during the handshake"
        );
        server.join().unwrap();
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let pki = pki("files");
        let missing = pki.dir.0.join("missing.pem");
        let garbage = pki.dir.file("garbage.pem", "this is not PEM\n");
        let broken = pki.dir.file(
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n",
        );
        let encrypted = pki.dir.file(
            "encrypted.key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        let (_, other_key) = leaf(&pki.ca, &["x.example"], true, false);
        let other_key = pki.dir.file("other.key", &other_key);
        let err = |options: TlsOptions| client_config(&options).unwrap_err();

        let text = err(trusting(&missing));
        assert!(
            text.starts_with(&format!("CA file {}: cannot read: ", missing.display())),
            "{text}"
        );
        let text = err(trusting(&garbage));
        assert_eq!(
            text,
            format!(
                "CA file {}: no certificate in it (expected PEM \"-----BEGIN CERTIFICATE-----\")",
                garbage.display()
            )
        );
        let text = err(trusting(&broken));
        assert!(
            text.starts_with(&format!(
                "CA file {}: not a valid PEM file: ",
                broken.display()
            )),
            "{text}"
        );

        let client = |cert: &Path, key: &Path| TlsOptions {
            client_certificate: Some(cert.to_owned()),
            client_key: Some(key.to_owned()),
            ..trusting(&pki.ca_file)
        };
        let text = err(client(&pki.client_cert, &garbage));
        assert!(
            text.starts_with(&format!(
                "client key {}: no private key in it",
                garbage.display()
            )),
            "{text}"
        );
        let text = err(client(&pki.client_cert, &encrypted));
        assert!(text.contains("the private key is encrypted"), "{text}");
        let text = err(client(&pki.client_cert, &missing));
        assert!(
            text.starts_with(&format!("client key {}: cannot read", missing.display())),
            "{text}"
        );
        let text = err(client(&garbage, &pki.client_key));
        assert!(
            text.starts_with(&format!(
                "client certificate {}: no certificate in it",
                garbage.display()
            )),
            "{text}"
        );
        let text = err(client(&pki.client_cert, &other_key));
        assert_eq!(
            text,
            format!(
                "client key {}: the key does not match the certificate in {}",
                other_key.display(),
                pki.client_cert.display()
            )
        );
        let text = err(TlsOptions {
            client_certificate: Some(pki.client_cert.clone()),
            ..TlsOptions::default()
        });
        assert!(text.contains("without a `client key`"), "{text}");
        let text = err(TlsOptions {
            client_key: Some(pki.client_key.clone()),
            ..TlsOptions::default()
        });
        assert!(text.contains("without a `client certificate`"), "{text}");
    }

    #[test]
    fn system_roots_load() {
        // Debian's ca-certificates fills /etc/ssl/certs; without it the error says so.
        match client_config(&TlsOptions::default()) {
            Ok(_) => {}
            Err(e) => assert!(e.contains("no system certificate authority"), "{e}"),
        }
    }

    #[test]
    fn server_names() {
        let config = client_config(&TlsOptions {
            skip_verification: true,
            ..TlsOptions::default()
        })
        .unwrap();
        let sock = || io::Cursor::new(Vec::new());
        for ok in ["example.com", "127.0.0.1", "::1", "[::1]", "localhost"] {
            assert!(
                TlsStream::new(Arc::clone(&config), ok, sock()).is_ok(),
                "{ok}"
            );
        }
        let e = TlsStream::new(config, "bad name!", sock()).unwrap_err();
        assert!(
            e.starts_with("TLS: \"bad name!\" is not a valid server name"),
            "{e}"
        );
    }

    #[test]
    fn options_from_config() {
        let mut config = TlsConfig::default();
        config.ca_file = Some("/etc/ca.pem");
        config.skip_certificate_verification = true;
        let options = TlsOptions::from_config(&config);
        assert_eq!(options.ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert!(options.skip_verification);
        assert_eq!(options.client_certificate, None);
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(1_577_923_200), "2020-01-02");
    }
}

//! Connections to a destination list, without ever blocking the event loop.
//!
//! The engine chooses *which* item of the list to connect to; this module does the rest:
//! it resolves the item's host name on a short-lived helper thread (getaddrinfo blocks,
//! and the list is resolved again on every reconnect, as netdata does), connects to each
//! resolved address in turn with a non-blocking socket, and reports the outcome through
//! the event loop. Once connected it writes at most 64 KiB per `write` call and reads
//! (and counts) whatever the server sends back.
//!
//! On Linux it also asks the kernel how many written bytes the peer has not acknowledged
//! yet (`SIOCOUTQ`), so that after a connection drops the engine resends exactly the
//! records that may not have arrived.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::sync::Arc;

use backhaul_core::destination::{Destination, Port, Protocol};
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token, Waker};

use crate::tls::TlsStream;

/// The most bytes handed to one `write` call.
pub const MAX_WRITE: usize = 64 * 1024;

/// One item of a destination list, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The item as written in the configuration.
    pub text: String,
    /// How to reach it.
    pub kind: TargetKind,
}

/// Where an item points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// A TCP server: host name or address, and port (a number or a service name).
    Tcp {
        /// Host name or IP address (without brackets).
        host: String,
        /// Port number or service name.
        port: String,
    },
    /// A Unix stream socket.
    Unix(String),
}

impl Target {
    /// Converts a parsed destination item.
    ///
    /// # Errors
    ///
    /// UDP items, which this build does not support yet.
    pub fn from_destination(d: &Destination<'_>) -> Result<Self, String> {
        let kind = match d.protocol() {
            Protocol::Tcp => TargetKind::Tcp {
                host: d.host().to_owned(),
                port: match d.port() {
                    Some(Port::Number(n) | Port::Default(n)) => n.to_string(),
                    Some(Port::Service(s)) => s.to_owned(),
                    None => return Err(format!("{}: no port", d.as_str())),
                },
            },
            Protocol::Unix => TargetKind::Unix(d.path().unwrap_or(d.host()).to_owned()),
            _ => {
                return Err(format!(
                    "{}: only tcp: and unix: destinations are supported",
                    d.as_str()
                ))
            }
        };
        Ok(Self {
            text: d.as_str().to_owned(),
            kind,
        })
    }
}

/// A stream to a destination: TCP, TLS over TCP, or Unix.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// TLS over TCP (HTTPS destinations).
    Tls(Box<TlsStream<TcpStream>>),
    /// Unix stream socket.
    Unix(UnixStream),
}

impl Stream {
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Self::Tcp(s) => s,
            Self::Tls(s) => s.get_mut(),
            Self::Unix(s) => s,
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Tls(s) => {
                let n = s.write(buf)?;
                s.flush_tls()?;
                Ok(n)
            }
            Self::Unix(s) => s.write(buf),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Self::Tcp(s) => s.take_error(),
            Self::Tls(s) => s.get_ref().take_error(),
            Self::Unix(s) => s.take_error(),
        }
    }

    fn is_connected(&self) -> bool {
        match self {
            Self::Tcp(s) => s.peer_addr().is_ok(),
            Self::Tls(s) => s.get_ref().peer_addr().is_ok(),
            Self::Unix(s) => s.peer_addr().is_ok(),
        }
    }

    /// Makes closing this TCP stream a reset when the peer has not acknowledged all that
    /// was written (`SO_LINGER` 0): the engine sends those bytes again on the next
    /// connection, so the kernel must drop them, not deliver them after the close (a
    /// stalled server that reads again would otherwise get them twice). Returns whether
    /// it did.
    fn discard_unacknowledged_on_close(&self) -> bool {
        let fd = match self {
            Self::Tcp(s) => s.as_raw_fd(),
            Self::Tls(s) => s.get_ref().as_raw_fd(),
            Self::Unix(_) => return false,
        };
        let mut queued: libc::c_int = 0;
        // SAFETY: as in `unacknowledged`.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
        if rc != 0 || queued <= 0 {
            return false;
        }
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt reads one `linger` through the pointer, which points to a
        // live value of that size; the descriptor is owned by `self`.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                std::ptr::from_ref(&linger).cast(),
                size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        rc == 0
    }

    /// Bytes written but not yet acknowledged by the peer (Linux `SIOCOUTQ`), if the
    /// kernel says.
    pub fn unacknowledged(&self) -> Option<usize> {
        let fd = match self {
            Self::Tcp(s) => s.as_raw_fd(),
            // The kernel counts TLS record bytes, not the plaintext the engine wrote.
            Self::Tls(_) => return None,
            Self::Unix(s) => s.as_raw_fd(),
        };
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer, which points to
        // a live, properly aligned c_int; the descriptor is owned by `self`.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
        (rc == 0).then(|| usize::try_from(queued).unwrap_or(0))
    }
}

/// The result of resolving an item, sent back from the resolver thread.
#[derive(Debug)]
pub struct Resolved {
    /// Which request this answers.
    pub generation: u64,
    /// The addresses, or why there are none.
    pub result: Result<Vec<SocketAddr>, String>,
}

/// What happened on a link, for the caller to tell the engine.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// Nothing the engine needs to know.
    None,
    /// The connection is up.
    Connected,
    /// Every address of the item failed.
    ConnectFailed(String),
    /// The connection closed; `unacknowledged` as for the engine.
    Disconnected {
        /// Bytes the peer may not have received.
        unacknowledged: Option<usize>,
        /// Why.
        reason: String,
    },
}

#[derive(Debug)]
enum State {
    Idle,
    Resolving,
    Connecting {
        stream: Stream,
        rest: Vec<SocketAddr>,
        last_error: String,
    },
    /// TCP is up and TLS is shaking hands.
    Handshaking(Stream),
    Up(Stream),
}

/// One destination list's connection.
#[derive(Debug)]
pub struct Link {
    targets: Vec<Target>,
    token: Token,
    state: State,
    generation: u64,
    waker: Arc<Waker>,
    results: mpsc::Sender<(Token, Resolved)>,
    current: usize,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Link {
    /// A link for `targets`, reporting resolver results through `results` and `waker`.
    pub fn new(
        targets: Vec<Target>,
        token: Token,
        waker: Arc<Waker>,
        results: mpsc::Sender<(Token, Resolved)>,
    ) -> Self {
        Self {
            targets,
            token,
            state: State::Idle,
            generation: 0,
            waker,
            results,
            current: 0,
            tls: None,
        }
    }

    /// Makes every connection TLS, with this client configuration (certificates are
    /// verified against the item's host name; there is no plaintext fallback).
    #[must_use]
    pub fn with_tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The item being connected to or used.
    pub fn current(&self) -> Option<&Target> {
        self.targets.get(self.current)
    }

    /// How many items the list has.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Whether a connection is up.
    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Up(_))
    }

    /// Starts connecting to item `index`: resolution happens off the loop.
    pub fn connect(&mut self, registry: &Registry, index: usize) -> LinkEvent {
        self.close(registry);
        self.current = index.min(self.targets.len().saturating_sub(1));
        self.generation += 1;
        let Some(target) = self.targets.get(self.current).cloned() else {
            return LinkEvent::ConnectFailed("empty destination list".to_owned());
        };
        match target.kind {
            TargetKind::Unix(path) => match std::os::unix::net::UnixStream::connect(&path) {
                Ok(s) => {
                    if let Err(e) = s.set_nonblocking(true) {
                        return LinkEvent::ConnectFailed(format!("{path}: {e}"));
                    }
                    let mut stream = Stream::Unix(UnixStream::from_std(s));
                    if let Err(e) = registry.register(
                        stream.source(),
                        self.token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        return LinkEvent::ConnectFailed(format!("{path}: {e}"));
                    }
                    self.state = State::Up(stream);
                    LinkEvent::Connected
                }
                Err(e) => LinkEvent::ConnectFailed(format!("{path}: {e}")),
            },
            TargetKind::Tcp { host, port } => {
                self.state = State::Resolving;
                let (generation, token) = (self.generation, self.token);
                let (results, waker) = (self.results.clone(), Arc::clone(&self.waker));
                let spawned = std::thread::Builder::new()
                    .name("backhaul-resolve".to_owned())
                    .spawn(move || {
                        let result = resolve(&host, &port);
                        if results
                            .send((token, Resolved { generation, result }))
                            .is_ok()
                        {
                            let _ = waker.wake();
                        }
                    });
                match spawned {
                    Ok(_) => LinkEvent::None,
                    Err(e) => {
                        self.state = State::Idle;
                        LinkEvent::ConnectFailed(format!("cannot start the resolver: {e}"))
                    }
                }
            }
        }
    }

    /// Handles the resolver's answer.
    pub fn resolved(&mut self, registry: &Registry, resolved: Resolved) -> LinkEvent {
        if resolved.generation != self.generation || !matches!(self.state, State::Resolving) {
            return LinkEvent::None; // an answer for an attempt that was given up
        }
        match resolved.result {
            Ok(addrs) => self.try_addresses(registry, addrs, String::new()),
            Err(e) => {
                self.state = State::Idle;
                LinkEvent::ConnectFailed(e)
            }
        }
    }

    fn try_addresses(
        &mut self,
        registry: &Registry,
        mut addrs: Vec<SocketAddr>,
        mut last_error: String,
    ) -> LinkEvent {
        while !addrs.is_empty() {
            let addr = addrs.remove(0);
            match TcpStream::connect(addr) {
                Ok(s) => {
                    let mut stream = Stream::Tcp(s);
                    match registry.register(
                        stream.source(),
                        self.token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        Ok(()) => {
                            self.state = State::Connecting {
                                stream,
                                rest: addrs,
                                last_error,
                            };
                            return LinkEvent::None;
                        }
                        Err(e) => last_error = format!("{addr}: {e}"),
                    }
                }
                Err(e) => last_error = format!("{addr}: {e}"),
            }
        }
        self.state = State::Idle;
        LinkEvent::ConnectFailed(if last_error.is_empty() {
            "no address".to_owned()
        } else {
            last_error
        })
    }

    /// Handles readiness of the socket: finishes a connect, or reads what the server
    /// sent and hands it to `received`.
    pub fn ready(&mut self, registry: &Registry, received: &mut dyn FnMut(&[u8])) -> LinkEvent {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Connecting {
                mut stream,
                rest,
                last_error,
            } => {
                match stream.take_error() {
                    Ok(None) if stream.is_connected() => self.start_tls(registry, stream),
                    Ok(None) => {
                        // Not finished yet (spurious wake-up).
                        self.state = State::Connecting {
                            stream,
                            rest,
                            last_error,
                        };
                        LinkEvent::None
                    }
                    Ok(Some(e)) | Err(e) => {
                        let _ = registry.deregister(stream.source());
                        let error = format!("{}: {e}", self.describe());
                        self.try_addresses(registry, rest, error)
                    }
                }
            }
            State::Handshaking(mut stream) => {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => {
                            let _ = registry.deregister(stream.source());
                            return LinkEvent::ConnectFailed(format!(
                                "{}: closed during the TLS handshake",
                                self.describe()
                            ));
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = registry.deregister(stream.source());
                            return LinkEvent::ConnectFailed(format!("{}: {e}", self.describe()));
                        }
                    }
                }
                let done = matches!(&stream, Stream::Tls(t) if !t.is_handshaking());
                if done {
                    self.state = State::Up(stream);
                    LinkEvent::Connected
                } else {
                    self.state = State::Handshaking(stream);
                    LinkEvent::None
                }
            }
            State::Up(mut stream) => {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => {
                            let unacknowledged =
                                Some(stream.unacknowledged().unwrap_or(usize::MAX));
                            stream.discard_unacknowledged_on_close();
                            let _ = registry.deregister(stream.source());
                            return LinkEvent::Disconnected {
                                unacknowledged,
                                reason: "closed by the server".to_owned(),
                            };
                        }
                        Ok(n) => received(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            // A reset: the kernel still knows what the peer acknowledged
                            // before it, so only the rest is sent again.
                            let unacknowledged =
                                Some(stream.unacknowledged().unwrap_or(usize::MAX));
                            let _ = registry.deregister(stream.source());
                            return LinkEvent::Disconnected {
                                unacknowledged,
                                reason: e.to_string(),
                            };
                        }
                    }
                }
                self.state = State::Up(stream);
                LinkEvent::None
            }
            other => {
                self.state = other;
                LinkEvent::None
            }
        }
    }

    fn start_tls(&mut self, registry: &Registry, stream: Stream) -> LinkEvent {
        let (config, tcp) = match (self.tls.clone(), stream) {
            (Some(config), Stream::Tcp(tcp)) => (config, tcp),
            (_, plain) => {
                self.state = State::Up(plain);
                return LinkEvent::Connected;
            }
        };
        let host = match self.current().map(|t| &t.kind) {
            Some(TargetKind::Tcp { host, .. }) => host.clone(),
            _ => String::new(),
        };
        match TlsStream::new(config, &host, tcp) {
            Ok(tls) => {
                self.state = State::Handshaking(Stream::Tls(Box::new(tls)));
                // Drive the handshake now: the first flight goes out on the next call.
                let mut ignored = |_: &[u8]| {};
                self.ready(registry, &mut ignored)
            }
            Err(e) => LinkEvent::ConnectFailed(format!("{}: TLS: {e}", self.describe())),
        }
    }

    /// Writes as much of `bytes` as the socket takes, at most [`MAX_WRITE`] per call.
    /// Returns how many bytes were written, or the failure.
    pub fn write(&mut self, bytes: &[u8]) -> Result<usize, LinkEvent> {
        let State::Up(stream) = &mut self.state else {
            return Ok(0);
        };
        let mut done = 0;
        while done < bytes.len() {
            let end = bytes.len().min(done + MAX_WRITE);
            match stream.write(&bytes[done..end]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    if done > 0 {
                        return Ok(done);
                    }
                    return Err(LinkEvent::Disconnected {
                        unacknowledged: Some(stream.unacknowledged().unwrap_or(usize::MAX)),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(done)
    }

    /// Bytes the peer has not acknowledged yet, if connected and the kernel says.
    pub fn unacknowledged(&self) -> Option<usize> {
        match &self.state {
            State::Up(s) => s.unacknowledged(),
            _ => None,
        }
    }

    /// Closes the connection or abandons the attempt; returns the unacknowledged byte
    /// count of a connection that was up.
    pub fn close(&mut self, registry: &Registry) -> Option<usize> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Up(mut s) => {
                let outq = s.unacknowledged();
                let reset = s.discard_unacknowledged_on_close();
                if let Stream::Tls(t) = &mut s {
                    if !reset {
                        t.close();
                    }
                }
                let _ = registry.deregister(s.source());
                Some(outq.unwrap_or(usize::MAX))
            }
            State::Connecting { mut stream, .. } | State::Handshaking(mut stream) => {
                let _ = registry.deregister(stream.source());
                None
            }
            _ => None,
        }
    }

    fn describe(&self) -> String {
        self.current()
            .map_or_else(|| "?".to_owned(), |t| t.text.clone())
    }
}

fn resolve(host: &str, port: &str) -> Result<Vec<SocketAddr>, String> {
    let port_number: u16 = match port.parse() {
        Ok(p) => p,
        Err(_) => service_port(port).ok_or_else(|| format!("{host}: unknown service {port:?}"))?,
    };
    (host, port_number)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| format!("{host}: {e}"))
}

/// Looks a service name up in `/etc/services` (TCP).
fn service_port(name: &str) -> Option<u16> {
    let text = std::fs::read_to_string("/etc/services").ok()?;
    text.lines().find_map(|line| {
        let line = line.split('#').next()?;
        let mut words = line.split_whitespace();
        let service = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        (proto == "tcp" && (service == name || words.any(|alias| alias == name)))
            .then(|| port.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_resolve() {
        // /etc/services exists on Debian; if it does not, the lookup just fails.
        if std::path::Path::new("/etc/services").exists() {
            assert_eq!(service_port("http"), Some(80));
        }
        assert_eq!(service_port("no-such-service-xyz"), None);
        assert_eq!(resolve("127.0.0.1", "2003").unwrap()[0].port(), 2003);
        assert!(resolve("127.0.0.1", "no-such-service-xyz").is_err());
    }
}

//! A byte-level fault-injecting TCP proxy, to put between a sender under test and a real
//! server.
//!
//! [`FaultProxy::start`] listens on a free loopback port and forwards every connection it
//! accepts to the upstream server, each over an upstream connection of its own. On
//! command it does what networks and servers do to senders:
//!
//! | fault | method | what the sender sees |
//! |---|---|---|
//! | a connection cut in the middle of a record | [`FaultProxy::cut_mid_record`] | a reset, with the last record it wrote only partly acknowledged |
//! | a server that stops reading | [`FaultProxy::stall`], then [`FaultProxy::resume`] | connections accepted, windows that close, nothing read |
//! | a server that reads slowly | [`FaultProxy::slow`] | at most N bytes read per interval |
//! | an outage | [`FaultProxy::go_down`], then [`FaultProxy::come_back`] | its connections reset, new ones refused |
//! | a crash (`SIGKILL`) | [`FaultProxy::kill`], then [`FaultProxy::come_back`] | the same, and what the kernel had acknowledged but the server not read is gone |
//! | broken HTTP replies | [`FaultProxy::fail_replies`] with a [`ReplyFault`] | garbage, a huge header, a body of MiBs, a reply dripping one byte at a time, or one that never ends |
//!
//! # What it forwards, and what it records
//!
//! With [`Protocol::Lines`] (Graphite, OpenTSDB telnet, JSON lines) the proxy forwards
//! **whole lines only**: a line is written upstream once its newline has been read, and
//! the partial line a connection ends with (a *torn* record) is never forwarded. That is
//! the behaviour a sender has the right to expect from a server (carbon discards it, for
//! example); VictoriaMetrics instead parses a partial last line, so forwarding it would
//! store garbage that the sender cannot be blamed for. Every connection keeps a record
//! ([`Connection`]): every byte read from the client, how many of them went upstream,
//! the bytes dropped by a crash, and how it ended. [`FaultProxy::forwarded_lines`] is
//! exactly what the server was sent, so a test can tell a torn, duplicated or lost record
//! from the proxy's record alone, and then check that the server stored the same.
//!
//! With [`Protocol::Http`] the proxy reads one request at a time (head and
//! `Content-Length` body), forwards it on a fresh upstream connection (asking the server
//! to close it after its reply) and passes the reply back, unless a [`ReplyFault`] is
//! queued. Each request is recorded ([`Request`]).
//!
//! # Exactness: what the kernel acknowledged
//!
//! A sender learns what arrived from TCP acknowledgements (backhaul reads them with
//! `SIOCOUTQ`), and the kernel acknowledges bytes as soon as they are in the proxy's
//! receive queue, before the proxy reads them. So when the proxy ends a connection it
//! first looks at that queue (`MSG_PEEK`, which does not open the window) and then resets
//! the connection (an abortive close: `SO_LINGER` 0), which discards the queue and tells
//! the sender nothing more was acknowledged:
//!
//! * a **cut** and an **outage** treat the queued bytes as read (their whole lines are
//!   forwarded): a server that had processed everything its kernel acknowledged;
//! * a **kill** drops them, and records them in [`Connection::discarded`]: what a
//!   `SIGKILL`ed server loses. [`Connection::lost_lines`] are the records the sender was
//!   told had arrived and that never reached the server.
//!
//! Before a reset the proxy sends any delayed acknowledgement (`TCP_QUICKACK`), and the
//! outage and kill wait for the next half second of the wall clock: a daemon that writes
//! right after whole seconds (as backhaul does) then has no byte in flight while its
//! connection is reset, so the proxy's record and the sender's view agree exactly.
//!
//! [`ProxyOptions::receive_buffer`] shrinks the receive buffer of accepted connections
//! (set on the listener, so the window is small from the handshake on): a stalled proxy
//! then holds only a few KiB per connection, and a cut can land at the window's edge, in
//! the middle of a record.
//!
//! ```no_run
//! use backhaul_tests::peers::VictoriaMetrics;
//! use backhaul_tests::proxy::{FaultProxy, ProxyOptions};
//!
//! let vm = VictoriaMetrics::start();
//! let proxy = FaultProxy::start(vm.graphite, ProxyOptions::default());
//! // ... point the sender at proxy.addr() ...
//! let cut = proxy.cut_mid_record(10_000);
//! assert!(!cut.torn().is_empty());
//! proxy.kill();
//! proxy.come_back();
//! let lines = proxy.forwarded_lines(); // exactly what VictoriaMetrics was sent
//! # drop(lines);
//! ```

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::peers::free_addr;

/// How long a blocking read waits before the connection's thread looks at its commands.
const READ_SLICE: Duration = Duration::from_millis(20);
/// How long a command waits for the connection it needs (a cut, say) before it panics.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(40);
/// How long the proxy waits for an upstream HTTP reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest HTTP request head the proxy reads.
const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// How the proxy understands the bytes it forwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// Newline-terminated records: only whole lines are forwarded.
    #[default]
    Lines,
    /// HTTP/1.1 requests with `Content-Length` bodies, one reply each.
    Http,
}

/// How the proxy is set up.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProxyOptions {
    /// Lines or HTTP.
    pub protocol: Protocol,
    /// `SO_RCVBUF` of accepted connections (the kernel doubles it); `None` keeps the
    /// system's default.
    pub receive_buffer: Option<usize>,
}

/// A broken HTTP reply, for [`FaultProxy::fail_replies`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyFault {
    /// The request is not forwarded; the reply is bytes that are not HTTP.
    Garbage,
    /// The request is not forwarded; the reply is a `200 OK` whose head is this many
    /// bytes long (one enormous header line).
    HugeHeader(usize),
    /// The request is forwarded; the server's reply is replaced by a `200 OK` with a body
    /// of this many bytes.
    HugeBody(usize),
    /// The request is forwarded; the server's reply is passed back one byte per interval.
    Drip(Duration),
    /// The request is not forwarded; the reply is a `200 OK` announcing a body of 1 GB,
    /// which comes one byte per interval until the client gives up.
    Endless(Duration),
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The client closed it (end of stream).
    Closed,
    /// Reading from the client failed (the client reset it, for example).
    Reset(String),
    /// [`FaultProxy::cut_mid_record`] reset it.
    Cut,
    /// [`FaultProxy::go_down`] reset it.
    Outage,
    /// [`FaultProxy::kill`] reset it.
    Killed,
    /// The upstream server failed; the client connection was reset.
    Upstream(String),
}

/// The record of one client connection.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Connections are numbered from 0 in the order they were accepted.
    pub id: usize,
    /// Every byte the proxy took from the client: read, or (at a cut or an outage) found
    /// in the receive queue.
    pub received: Vec<u8>,
    /// How many bytes of `received` were forwarded upstream (with [`Protocol::Lines`],
    /// always up to and including a newline).
    pub forwarded: usize,
    /// Bytes the kernel had acknowledged to the client that the proxy dropped unread, at
    /// a [`FaultProxy::kill`].
    pub discarded: Vec<u8>,
    /// How it ended; `None` while it is open.
    pub end: Option<End>,
}

impl Connection {
    /// The whole lines forwarded upstream, without their newlines.
    pub fn forwarded_lines(&self) -> Vec<String> {
        lines(&self.received[..self.forwarded])
    }

    /// What was received but not forwarded: the partial line the connection ended with
    /// (empty if it ended at a record boundary, or is still open).
    pub fn torn(&self) -> &[u8] {
        if self.end.is_some() {
            &self.received[self.forwarded..]
        } else {
            &[]
        }
    }

    /// The records the client was told had arrived (the kernel acknowledged every byte
    /// of them) that were never forwarded: those completed within [`discarded`] bytes.
    ///
    /// [`discarded`]: Self::discarded
    pub fn lost_lines(&self) -> Vec<String> {
        let mut rest = self.received[self.forwarded..].to_vec();
        rest.extend_from_slice(&self.discarded);
        let complete = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        lines(&rest[..complete])
    }

    /// The first line received (whole or not), without its newline.
    pub fn first_line(&self) -> &[u8] {
        let end = self
            .received
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.received.len());
        &self.received[..end]
    }
}

/// The record of one HTTP request ([`Protocol::Http`]).
#[derive(Clone, Debug)]
pub struct Request {
    /// The connection it came on.
    pub connection: usize,
    /// The request line, e.g. `POST /api/v1/write HTTP/1.1`.
    pub line: String,
    /// Its body length.
    pub body_len: usize,
    /// The fault applied to its reply, if any.
    pub fault: Option<ReplyFault>,
    /// Whether it was forwarded to the server.
    pub forwarded: bool,
    /// The status line the server answered, if it was forwarded and answered.
    pub upstream_status: Option<String>,
}

fn lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == b'\n')
        .take(bytes.iter().filter(|&&b| b == b'\n').count())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    Normal,
    Stalled,
    Slow { bytes: usize, every: Duration },
}

#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    upstream: SocketAddr,
    options: ProxyOptions,
    listener: Mutex<Option<TcpListener>>,
    reading: Mutex<Reading>,
    reply_faults: Mutex<VecDeque<ReplyFault>>,
    conns: Mutex<Vec<Arc<Conn>>>,
    requests: Mutex<Vec<Request>>,
    errors: Mutex<Vec<String>>,
    closed: AtomicBool,
    next_id: AtomicUsize,
}

#[derive(Debug)]
struct Conn {
    id: usize,
    /// Set by a command that needs the connection left unread.
    paused: AtomicBool,
    state: Mutex<ConnState>,
}

#[derive(Debug, Default)]
struct ConnState {
    client: Option<TcpStream>,
    upstream: Option<TcpStream>,
    received: Vec<u8>,
    forwarded: usize,
    discarded: Vec<u8>,
    end: Option<End>,
}

/// Locks, ignoring poisoning (a panicking test thread must not hide the proxy's record).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running fault-injecting proxy; its threads stop and its connections close on drop.
#[derive(Debug)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that forwards to `upstream`.
    ///
    /// # Panics
    /// If it cannot listen.
    pub fn start(upstream: SocketAddr, options: ProxyOptions) -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            let addr = free_addr();
            match listen(addr, options.receive_buffer) {
                Ok(listener) => {
                    let shared = Arc::new(Shared {
                        addr,
                        upstream,
                        options,
                        listener: Mutex::new(Some(listener)),
                        reading: Mutex::new(Reading::Normal),
                        reply_faults: Mutex::new(VecDeque::new()),
                        conns: Mutex::new(Vec::new()),
                        requests: Mutex::new(Vec::new()),
                        errors: Mutex::new(Vec::new()),
                        closed: AtomicBool::new(false),
                        next_id: AtomicUsize::new(0),
                    });
                    let s = Arc::clone(&shared);
                    let acceptor = std::thread::Builder::new()
                        .name("proxy-accept".into())
                        .spawn(move || accept_loop(&s))
                        .expect("the proxy's thread starts");
                    return Self {
                        shared,
                        acceptor: Some(acceptor),
                    };
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        panic!("the proxy cannot listen: {last}");
    }

    /// Where clients connect (the same address across outages).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Stops reading every connection, current and new; new connections are still
    /// accepted. The receive windows close and the senders' writes block.
    pub fn stall(&self) {
        *lock(&self.shared.reading) = Reading::Stalled;
    }

    /// Reads every connection normally again (after [`stall`](Self::stall) or
    /// [`slow`](Self::slow)), including those the client has closed meanwhile: what
    /// their receive queues hold is forwarded as usual.
    pub fn resume(&self) {
        *lock(&self.shared.reading) = Reading::Normal;
    }

    /// Reads at most `bytes` bytes per connection every `every`.
    pub fn slow(&self, bytes: usize, every: Duration) {
        *lock(&self.shared.reading) = Reading::Slow {
            bytes: bytes.max(1),
            every,
        };
    }

    /// Cuts a connection in the middle of a record, and returns its record.
    ///
    /// Waits for an open connection that has received at least `after` bytes, stops
    /// reading it until its receive window is full (the queue stops growing), and checks
    /// that the queue ends in the middle of a line; if it ends at a newline, it reads the
    /// queue and tries again (at most 8 times; then it cuts anyway, at the boundary).
    /// Then it resets the connection: every whole line received, queued ones included,
    /// is forwarded; the partial one ([`Connection::torn`]) is not.
    ///
    /// # Panics
    /// If no connection gets that far within 40 s.
    pub fn cut_mid_record(&self, after: usize) -> Connection {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let conn = loop {
            let found = lock(&self.shared.conns)
                .iter()
                .rev()
                .find(|c| {
                    let st = lock(&c.state);
                    st.client.is_some() && st.received.len() >= after
                })
                .cloned();
            if let Some(c) = found {
                break c;
            }
            assert!(
                Instant::now() < deadline,
                "cut_mid_record: no connection received {after} bytes within {COMMAND_TIMEOUT:?}: {:?}",
                self.summary()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        conn.paused.store(true, Ordering::SeqCst);
        for _ in 0..8 {
            // Full: the queue did not grow for a good part of a second, at the half
            // second (the sender wrote at the whole second).
            for _ in 0..10 {
                wait_for_half_second();
                let a = queued_bytes(&conn);
                std::thread::sleep(Duration::from_millis(200));
                let b = queued_bytes(&conn);
                if b > 0 && a == b {
                    break;
                }
            }
            let mut st = lock(&conn.state);
            if st.client.is_none() {
                break; // the client went away meanwhile
            }
            let peeked = peek_queue(&st);
            let last = peeked.last().or(st.received.last()).copied();
            if last.is_some_and(|b| b != b'\n') {
                st.take(&peeked, &self.shared);
                st.reset(End::Cut);
                drop(st);
                return self.connection(conn.id);
            }
            // At a record boundary: read what is queued (the window opens, the sender
            // sends more) and try again.
            let mut buf = vec![0u8; peeked.len()];
            if let Some(client) = st.client.as_mut() {
                if client.read_exact(&mut buf).is_ok() {
                    st.take(&buf, &self.shared);
                }
            }
            drop(st);
            conn.paused.store(false, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            conn.paused.store(true, Ordering::SeqCst);
        }
        let mut st = lock(&conn.state);
        if st.client.is_some() {
            let peeked = peek_queue(&st);
            st.take(&peeked, &self.shared);
            st.reset(End::Cut);
        }
        drop(st);
        self.connection(conn.id)
    }

    /// An outage: new connections are refused from now on (until
    /// [`come_back`](Self::come_back)), and at the next half second every open
    /// connection is reset, after its queued whole lines are forwarded (a server that
    /// processed everything its kernel acknowledged). Returns how many were reset.
    pub fn go_down(&self) -> usize {
        self.sever_all(End::Outage)
    }

    /// A crash: like [`go_down`](Self::go_down), but the queued bytes are dropped and
    /// recorded in [`Connection::discarded`], as a `SIGKILL`ed server loses what its
    /// kernel had acknowledged and it had not read. Returns how many were reset.
    pub fn kill(&self) -> usize {
        self.sever_all(End::Killed)
    }

    fn sever_all(&self, end: End) -> usize {
        drop(lock(&self.shared.listener).take());
        wait_for_half_second();
        let conns: Vec<Arc<Conn>> = lock(&self.shared.conns).clone();
        let mut severed = 0;
        for conn in conns {
            let mut st = lock(&conn.state);
            if st.client.is_none() {
                continue;
            }
            let peeked = peek_queue(&st);
            if end == End::Killed {
                st.discarded = peeked;
            } else {
                st.take(&peeked, &self.shared);
            }
            st.reset(end.clone());
            severed += 1;
        }
        severed
    }

    /// Listens again on the same address after [`go_down`](Self::go_down) or
    /// [`kill`](Self::kill).
    ///
    /// # Panics
    /// If the address cannot be bound again within 10 s.
    pub fn come_back(&self) {
        let mut listener = lock(&self.shared.listener);
        if listener.is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match listen(self.shared.addr, self.shared.options.receive_buffer) {
                Ok(l) => {
                    *listener = Some(l);
                    return;
                }
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "the proxy cannot listen on {} again: {e}",
                        self.shared.addr
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Applies `fault` to the next `count` HTTP replies ([`Protocol::Http`]), after any
    /// faults already queued.
    pub fn fail_replies(&self, fault: ReplyFault, count: usize) {
        let mut faults = lock(&self.shared.reply_faults);
        faults.extend(std::iter::repeat_n(fault, count));
    }

    /// How many queued reply faults have not been used yet.
    pub fn pending_reply_faults(&self) -> usize {
        lock(&self.shared.reply_faults).len()
    }

    /// Every connection's record, in the order they were accepted.
    pub fn connections(&self) -> Vec<Connection> {
        let conns: Vec<Arc<Conn>> = lock(&self.shared.conns).clone();
        conns.iter().map(|c| snapshot(c)).collect()
    }

    fn connection(&self, id: usize) -> Connection {
        self.connections()
            .into_iter()
            .find(|c| c.id == id)
            .expect("a known connection")
    }

    /// Every line forwarded upstream, connection by connection ([`Protocol::Lines`]).
    pub fn forwarded_lines(&self) -> Vec<String> {
        self.connections()
            .iter()
            .flat_map(Connection::forwarded_lines)
            .collect()
    }

    /// Every HTTP request, in the order they were read ([`Protocol::Http`]).
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// Problems the proxy itself ran into (an upstream that refused, say); a test
    /// should expect none.
    pub fn errors(&self) -> Vec<String> {
        lock(&self.shared.errors).clone()
    }

    /// One line per connection: id, bytes received and forwarded, how it ended.
    pub fn summary(&self) -> String {
        self.connections()
            .iter()
            .map(|c| {
                format!(
                    "#{} received {} forwarded {} discarded {} end {:?}",
                    c.id,
                    c.received.len(),
                    c.forwarded,
                    c.discarded.len(),
                    c.end
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        drop(lock(&self.shared.listener).take());
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn snapshot(c: &Conn) -> Connection {
    let st = lock(&c.state);
    Connection {
        id: c.id,
        received: st.received.clone(),
        forwarded: st.forwarded,
        discarded: st.discarded.clone(),
        end: st.end.clone(),
    }
}

impl ConnState {
    /// Takes bytes from the client: records them and, for lines, forwards every line
    /// they complete.
    fn take(&mut self, bytes: &[u8], shared: &Shared) {
        self.received.extend_from_slice(bytes);
        if shared.options.protocol != Protocol::Lines {
            return;
        }
        let Some(last) = self.received[self.forwarded..]
            .iter()
            .rposition(|&b| b == b'\n')
        else {
            return;
        };
        let end = self.forwarded + last + 1;
        if self.upstream.is_none() {
            match TcpStream::connect(shared.upstream) {
                Ok(s) => self.upstream = Some(s),
                Err(e) => {
                    let e = format!("connect to {}: {e}", shared.upstream);
                    lock(&shared.errors).push(e.clone());
                    self.reset(End::Upstream(e));
                    return;
                }
            }
        }
        let up = self.upstream.as_mut().expect("connected above");
        if let Err(e) = up.write_all(&self.received[self.forwarded..end]) {
            let e = format!("write to {}: {e}", shared.upstream);
            lock(&shared.errors).push(e.clone());
            self.reset(End::Upstream(e));
            return;
        }
        self.forwarded = end;
    }

    /// Ends the connection: the client side with a reset (abortive close, after any
    /// delayed acknowledgement), the upstream side with a normal close so that the
    /// server reads everything forwarded.
    fn reset(&mut self, end: End) {
        if let Some(client) = self.client.take() {
            quick_ack(&client);
            set_linger_zero(&client);
            drop(client);
        }
        self.close(end);
    }

    /// Ends the connection after the client closed or failed.
    fn close(&mut self, end: End) {
        self.client = None;
        if let Some(up) = self.upstream.take() {
            let _ = up.shutdown(Shutdown::Write);
        }
        if self.end.is_none() {
            self.end = Some(end);
        }
    }
}

fn listen(addr: SocketAddr, receive_buffer: Option<usize>) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    if let Some(size) = receive_buffer {
        // Accepted sockets inherit the listener's buffer, and the window the handshake
        // announces is derived from it.
        set_int_option(
            &listener,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            i32::try_from(size).unwrap_or(i32::MAX),
        )?;
    }
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn accept_loop(shared: &Arc<Shared>) {
    while !shared.closed.load(Ordering::SeqCst) {
        let accepted = {
            let listener = lock(&shared.listener);
            match listener.as_ref().map(TcpListener::accept) {
                Some(Ok((stream, _))) => {
                    // Registered under the listener's lock, so that an outage that
                    // closes the listener sees every connection accepted before.
                    let conn = Arc::new(Conn {
                        id: shared.next_id.fetch_add(1, Ordering::SeqCst),
                        paused: AtomicBool::new(false),
                        state: Mutex::new(ConnState::default()),
                    });
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(READ_SLICE));
                    let _ = stream.set_nodelay(true);
                    lock(&conn.state).client = Some(stream);
                    lock(&shared.conns).push(Arc::clone(&conn));
                    Some(conn)
                }
                _ => None,
            }
        };
        match accepted {
            Some(conn) => {
                let s = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("proxy-conn-{}", conn.id))
                    .spawn(move || match s.options.protocol {
                        Protocol::Lines => serve_lines(&s, &conn),
                        Protocol::Http => serve_http(&s, &conn),
                    });
                if let Err(e) = spawned {
                    lock(&shared.errors).push(format!("spawn: {e}"));
                }
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    // Closed: end every connection.
    for conn in lock(&shared.conns).iter() {
        lock(&conn.state).close(End::Closed);
    }
}

/// Whether the connection's thread should leave it unread now, and for how long a read
/// may be (bytes, pause after it).
fn read_plan(shared: &Shared, conn: &Conn) -> Option<(usize, Duration)> {
    if conn.paused.load(Ordering::SeqCst) {
        return None;
    }
    match *lock(&shared.reading) {
        Reading::Stalled => None,
        Reading::Normal => Some((64 * 1024, Duration::ZERO)),
        Reading::Slow { bytes, every } => Some((bytes.min(64 * 1024), every)),
    }
}

fn serve_lines(shared: &Shared, conn: &Conn) {
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.closed.load(Ordering::SeqCst) {
        let Some((size, pause)) = read_plan(shared, conn) else {
            std::thread::sleep(Duration::from_millis(10));
            if lock(&conn.state).client.is_none() {
                return;
            }
            continue;
        };
        let mut st = lock(&conn.state);
        let Some(client) = st.client.as_mut() else {
            return;
        };
        match client.read(&mut buf[..size]) {
            Ok(0) => {
                st.close(End::Closed);
                return;
            }
            Ok(n) => {
                quick_ack(st.client.as_ref().expect("open"));
                st.take(&buf[..n], shared);
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => {
                st.close(End::Reset(e.to_string()));
                return;
            }
        }
        drop(st);
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Reads from the client until `want` says it has a whole message, honouring stalls;
/// `None` when the connection ended.
fn read_client(
    shared: &Shared,
    conn: &Conn,
    pending: &mut Vec<u8>,
    want: impl Fn(&[u8]) -> Option<usize>,
) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Some(len) = want(pending) {
            return Some(pending.drain(..len).collect());
        }
        if shared.closed.load(Ordering::SeqCst) {
            return None;
        }
        let Some((size, pause)) = read_plan(shared, conn) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let mut st = lock(&conn.state);
        let client = st.client.as_mut()?;
        match client.read(&mut buf[..size]) {
            Ok(0) => {
                st.close(End::Closed);
                return None;
            }
            Ok(n) => {
                st.received.extend_from_slice(&buf[..n]);
                pending.extend_from_slice(&buf[..n]);
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => {
                st.close(End::Reset(e.to_string()));
                return None;
            }
        }
        drop(st);
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
}

/// The length of the first whole HTTP message in `buf` (head and `Content-Length` body).
fn http_message_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let body: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= head_end + body).then_some(head_end + body)
}

fn serve_http(shared: &Shared, conn: &Conn) {
    let mut pending = Vec::new();
    loop {
        let request = read_client(shared, conn, &mut pending, |b| {
            http_message_len(b).or_else(|| (b.len() > MAX_REQUEST_HEAD).then_some(b.len()))
        });
        let Some(request) = request else {
            return;
        };
        let fault = lock(&shared.reply_faults).pop_front();
        let line_end = request
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(request.len());
        let head_end = request
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(request.len(), |p| p + 4);
        let mut record = Request {
            connection: conn.id,
            line: String::from_utf8_lossy(&request[..line_end]).into_owned(),
            body_len: request.len() - head_end,
            fault,
            forwarded: false,
            upstream_status: None,
        };
        let forward = !matches!(
            fault,
            Some(ReplyFault::Garbage | ReplyFault::HugeHeader(_) | ReplyFault::Endless(_))
        );
        let reply = if forward {
            record.forwarded = true;
            match forward_request(shared.upstream, &request) {
                Ok(reply) => {
                    let status_end = reply
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .unwrap_or(reply.len());
                    record.upstream_status =
                        Some(String::from_utf8_lossy(&reply[..status_end]).into_owned());
                    reply
                }
                Err(e) => {
                    lock(&shared.errors).push(format!("forward to {}: {e}", shared.upstream));
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".to_vec()
                }
            }
        } else {
            Vec::new()
        };
        lock(&shared.requests).push(record);
        let written = match fault {
            None => write_client(conn, &reply),
            Some(ReplyFault::Garbage) => write_client(
                conn,
                b"\x16\x03\x01garbage, not HTTP at all\r\n\r\n\x00\xff\xfe\r\n\r\n",
            ),
            Some(ReplyFault::HugeHeader(size)) => {
                let mut head = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
                head.resize(size.saturating_sub(4).max(head.len()), b'a');
                head.extend_from_slice(b"\r\n\r\n");
                write_client(conn, &head)
            }
            Some(ReplyFault::HugeBody(size)) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
                let chunk = vec![b'x'; 64 * 1024];
                let mut ok = write_client(conn, head.as_bytes());
                let mut left = size;
                while ok && left > 0 {
                    let n = left.min(chunk.len());
                    ok = write_client(conn, &chunk[..n]);
                    left -= n;
                }
                ok
            }
            Some(ReplyFault::Endless(every)) => {
                let mut ok = write_client(
                    conn,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
                );
                while ok && !shared.closed.load(Ordering::SeqCst) {
                    std::thread::sleep(every);
                    ok = write_client(conn, b"x");
                }
                ok
            }
            Some(ReplyFault::Drip(every)) => {
                let mut ok = true;
                for b in &reply {
                    ok = ok && write_client(conn, std::slice::from_ref(b));
                    if !ok {
                        break;
                    }
                    std::thread::sleep(every);
                }
                ok
            }
        };
        if !written {
            let mut st = lock(&conn.state);
            if st.client.is_some() {
                st.close(End::Reset("write failed".into()));
            }
            return;
        }
    }
}

/// Writes to the client (without holding the state lock for long); false on failure.
fn write_client(conn: &Conn, bytes: &[u8]) -> bool {
    let stream = {
        let st = lock(&conn.state);
        match st.client.as_ref().map(TcpStream::try_clone) {
            Some(Ok(s)) => s,
            _ => return false,
        }
    };
    let mut stream = stream;
    stream.write_all(bytes).is_ok()
}

/// Sends `request` to `upstream` on a new connection, asking it to close after its
/// reply, and returns the reply (everything until the close).
fn forward_request(upstream: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let line_end = request
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(request.len(), |p| p + 2);
    up.write_all(&request[..line_end])?;
    up.write_all(b"Connection: close\r\n")?;
    up.write_all(&request[line_end..])?;
    let mut reply = Vec::new();
    up.read_to_end(&mut reply)?;
    // The close was the proxy's request, not the client's: keep the client's connection.
    let head_end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(reply.len(), |p| p + 2);
    let head = String::from_utf8_lossy(&reply[..head_end]).into_owned();
    let kept: String = head
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut out = kept.into_bytes();
    out.extend_from_slice(&reply[head_end..]);
    Ok(out)
}

/// Bytes in the connection's receive queue (`FIONREAD`), 0 when closed.
fn queued_bytes(conn: &Conn) -> usize {
    let st = lock(&conn.state);
    st.client.as_ref().map_or(0, |c| {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one c_int through the pointer, which points to a live,
        // aligned c_int; the descriptor belongs to `c`, which the lock keeps open.
        let rc = unsafe { libc::ioctl(c.as_raw_fd(), libc::FIONREAD, &mut n) };
        if rc == 0 {
            usize::try_from(n).unwrap_or(0)
        } else {
            0
        }
    })
}

/// What the receive queue holds, without taking it (`MSG_PEEK`: the window stays as it
/// is, so the sender sends nothing more meanwhile).
fn peek_queue(st: &ConnState) -> Vec<u8> {
    let Some(client) = st.client.as_ref() else {
        return Vec::new();
    };
    quick_ack(client);
    let _ = client.set_nonblocking(true);
    let mut buf = vec![0u8; 8 << 20];
    let n = client.peek(&mut buf).unwrap_or(0);
    let _ = client.set_nonblocking(false);
    buf.truncate(n);
    buf
}

/// Sends any delayed acknowledgement now, so that the sender's view of what arrived is
/// current.
fn quick_ack(stream: &TcpStream) {
    let _ = set_int_option(stream, libc::IPPROTO_TCP, libc::TCP_QUICKACK, 1);
}

/// Makes the next close an abortive one: a reset, and the receive queue discarded.
fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads one `linger` through the pointer, which points to a live
    // value of that size; the descriptor belongs to `stream`.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn set_int_option(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    // SAFETY: setsockopt reads one c_int through the pointer, which points to a live
    // value; the descriptor is owned by the caller's socket.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(&value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sleeps until the wall clock is at the next half second (x.5 s) at least 100 ms away.
fn wait_for_half_second() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into = u64::from(now.subsec_millis());
    let wait = if into < 400 { 500 - into } else { 1500 - into };
    std::thread::sleep(Duration::from_millis(wait));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line server on loopback that records what it reads.
    fn sink() -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&got);
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let g = Arc::clone(&g);
                std::thread::spawn(move || {
                    let mut s = s;
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        lock(&g).extend_from_slice(&buf[..n]);
                    }
                });
            }
        });
        (addr, got)
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn forwards_whole_lines_only() {
        let (up, got) = sink();
        let proxy = FaultProxy::start(up, ProxyOptions::default());
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"a 1 1\nb 2 2\nc 3").unwrap();
        wait_until("two lines", || lock(&got).len() == 12);
        c.write_all(b" 3\nd").unwrap();
        drop(c); // ends with a torn "d"
        wait_until("the close", || {
            proxy
                .connections()
                .first()
                .is_some_and(|c| c.end == Some(End::Closed))
        });
        wait_until("three lines", || lock(&got).len() == 18);
        assert_eq!(&*lock(&got), b"a 1 1\nb 2 2\nc 3 3\n");
        let conn = &proxy.connections()[0];
        assert_eq!(conn.torn(), b"d");
        assert_eq!(proxy.forwarded_lines(), ["a 1 1", "b 2 2", "c 3 3"]);
    }

    #[test]
    fn a_kill_resets_and_refuses_until_it_comes_back() {
        let (up, _got) = sink();
        let proxy = FaultProxy::start(up, ProxyOptions::default());
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"x 1 1\n").unwrap();
        wait_until("the line", || {
            proxy
                .connections()
                .first()
                .is_some_and(|c| c.forwarded == 6)
        });
        proxy.stall();
        c.write_all(b"y 2 2\nz").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(proxy.kill(), 1);
        proxy.resume();
        let conn = &proxy.connections()[0];
        assert_eq!(conn.discarded, b"y 2 2\nz");
        assert_eq!(conn.lost_lines(), ["y 2 2"]);
        assert_eq!(conn.end, Some(End::Killed));
        let mut buf = [0u8; 1];
        assert!(c.read(&mut buf).is_err(), "the client sees a reset");
        assert!(
            TcpStream::connect(proxy.addr()).is_err(),
            "refused while down"
        );
        proxy.come_back();
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"w 3 3\n").unwrap();
        wait_until("the new connection", || {
            proxy.connections().get(1).is_some_and(|c| c.forwarded == 6)
        });
    }

    #[test]
    fn slow_reading_still_forwards_everything() {
        let (up, got) = sink();
        let proxy = FaultProxy::start(up, ProxyOptions::default());
        proxy.slow(7, Duration::from_millis(5));
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        let text: Vec<u8> = (0..50)
            .flat_map(|i| format!("m{i} 1 1\n").into_bytes())
            .collect();
        c.write_all(&text).unwrap();
        wait_until("everything", || lock(&got).len() == text.len());
        assert_eq!(*lock(&got), text);
        proxy.resume();
    }

    #[test]
    fn http_message_lengths() {
        assert_eq!(http_message_len(b"POST / HTTP/1.1\r\n\r\n"), Some(19));
        assert_eq!(
            http_message_len(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcd"),
            Some(41)
        );
        assert_eq!(
            http_message_len(b"POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\nab"),
            None
        );
        assert_eq!(http_message_len(b"POST / HTTP/1.1\r\n"), None);
    }
}

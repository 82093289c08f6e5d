//! The daemon: one mio event loop around collectors, chart rings, engines and sockets.
//!
//! Everything runs on one thread (helper threads only resolve host names). Each loop turn:
//! collect when a collection tick is due, let every engine advance its schedule, carry out
//! what the engines ask (connect, close, write), then sleep in `Poll::poll` until the
//! earliest deadline or a socket event. A dead, slow or never-reading destination only
//! ever costs its own engine a non-blocking `write` that returns `WouldBlock`.

use std::io::{self, Write as _};
use std::sync::{mpsc, Arc};

use backhaul_core::config::DataSource;
use backhaul_core::engine::{Action, Config, Counters, Engine, Framing, HttpFraming, Outcome};
use backhaul_core::format::HostMeta;
use backhaul_core::time::{Duration, Instant};
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::ack_poll::AckPoll;
use crate::charts::{ChartSet, SendFilter};
use crate::clock;
use crate::codec::{Codec, CodecSpec};
use crate::collectors::Collectors;
use crate::http::ResponseReader;
use crate::net::{Link, LinkEvent, Resolved, Target};
use crate::pull::PullServer;
use crate::rusage;
use crate::wire::Wire;

const WAKER: Token = Token(0);
const SIGNALS: Token = Token(1);
const LISTENER: Token = Token(2);
/// Destination `i` uses token `FIRST_DESTINATION + i`.
const FIRST_DESTINATION: usize = 16;
/// Pull-endpoint clients use tokens from here on.
pub const FIRST_CLIENT: usize = 1 << 20;

/// One destination's settings, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationSpec {
    /// The instance name (`backend` for netdata's `[backend]` section).
    pub name: String,
    /// The wire format.
    pub wire: Wire,
    /// The destination list.
    pub targets: Vec<Target>,
    /// Metric prefix.
    pub prefix: String,
    /// Hostname on the wire.
    pub hostname: String,
    /// Host tags.
    pub tags: String,
    /// Average, sum or as collected.
    pub data_source: DataSource,
    /// Seconds between exports.
    pub update_every: u32,
    /// Send-buffer byte limit.
    pub buffer_size: usize,
    /// Connect / stall timeout.
    pub timeout_ms: u64,
    /// Names instead of ids.
    pub names: bool,
    /// `send charts matching`: a simple pattern tested on chart ids and names.
    pub charts: String,
    /// For HTTP destinations: the request shape and authentication.
    pub http: Option<HttpSpec>,
    /// For Kinesis and MongoDB: the protocol the shell speaks around each batch.
    pub codec: Option<CodecSpec>,
}

/// How an HTTP destination's requests look.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpSpec {
    /// Request path.
    pub path: String,
    /// `Host` header value.
    pub host: String,
    /// `Content-Type`.
    pub content_type: String,
    /// Other header lines (`Content-Encoding`, …), each ending with CRLF.
    pub headers: String,
    /// Body framing: opening bytes, separator, closing bytes.
    pub body: (&'static [u8], &'static [u8], &'static [u8]),
    /// Compress bodies with snappy.
    pub snappy: bool,
    /// Basic authentication, `user:password` (already read from a password file).
    pub basic: Option<String>,
    /// A bearer token file, read again on every reconnect.
    pub bearer_token_file: Option<std::path::PathBuf>,
    /// TLS (HTTPS types).
    pub tls: Option<crate::tls::TlsOptions>,
}

impl std::fmt::Debug for HttpSpec {
    /// Like the derived one, but without the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSpec")
            .field("path", &self.path)
            .field("host", &self.host)
            .field("content_type", &self.content_type)
            .field("snappy", &self.snappy)
            .field("basic", &self.basic.as_ref().map(|_| "<redacted>"))
            .field("bearer_token_file", &self.bearer_token_file)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl HttpSpec {
    /// The header lines that carry authentication and the fixed extras.
    fn header_lines(&self) -> Result<String, String> {
        let mut lines = self.headers.clone();
        if let Some(basic) = &self.basic {
            lines.push_str("Authorization: Basic ");
            lines.push_str(&base64(basic.as_bytes()));
            lines.push_str("\r\n");
        }
        if let Some(path) = &self.bearer_token_file {
            let token = std::fs::read_to_string(path)
                .map_err(|e| format!("bearer token file {}: {e}", path.display()))?;
            let token = token.trim();
            if token.is_empty() || token.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                return Err(format!(
                    "bearer token file {}: the token is empty or has spaces or control characters",
                    path.display()
                ));
            }
            lines.push_str("Authorization: Bearer ");
            lines.push_str(token);
            lines.push_str("\r\n");
        }
        Ok(lines)
    }
}

/// Standard base64 with padding, for `Authorization: Basic`.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What the daemon runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Ring entries per chart.
    pub history: usize,
    /// Seconds between collections.
    pub collect_every: u32,
    /// The hostname of this machine on the wire (default for destinations).
    pub hostname: String,
    /// Destinations.
    pub destinations: Vec<DestinationSpec>,
    /// `--print FORMAT`: also stream records to standard output.
    pub print: Option<Wire>,
    /// Where to serve `/api/v1/allmetrics`, if anywhere.
    pub bind: Option<std::net::SocketAddr>,
    /// Prefix, data source and names for the pull endpoint.
    pub pull_prefix: String,
    /// Data source of the pull endpoint.
    pub pull_source: DataSource,
    /// `update every` of the pull endpoint's first scrape window.
    pub pull_update_every: u32,
    /// `--synthetic-metrics N`: extra generated metrics, for load tests.
    pub synthetic: usize,
}

type WireEngine = Engine<'static, Wire, Box<[u8]>>;

/// Where an engine's bytes go.
enum Sink {
    Net(Link),
    /// `--print`: standard output, always "connected".
    Stdout,
}

struct Destination {
    token: Token,
    filter: SendFilter,
    responses: ResponseReader,
    /// The header lines last given to the engine (HTTP), to notice a new bearer token.
    headers: Option<String>,
    spec: DestinationSpec,
    engine: WireEngine,
    sink: Sink,
    reported: Counters,
    last_report: Instant,
    chart_set_index: Option<usize>,
    /// Kinesis and MongoDB: the protocol around each batch, the request being written
    /// and how much of it is on the wire.
    codec: Option<Box<dyn Codec>>,
    request: Vec<u8>,
    request_sent: usize,
    /// When to ask again about bytes the peer has not acknowledged.
    ack_poll: AckPoll,
    /// The next look [`AckPoll`] asked for when the destination was last pumped.
    ack_deadline: Option<Instant>,
}

fn leak(s: &str) -> &'static str {
    // Engines borrow their settings for their whole life; settings change only on a
    // reload, so leaking a few strings then is the simplest sound way to give them
    // `'static` lifetimes.
    Box::leak(s.to_owned().into_boxed_str())
}

fn engine_for(spec: &DestinationSpec, now: Instant, acks: bool) -> WireEngine {
    let framing = match &spec.http {
        None if spec.codec.is_some() => Framing::Http(HttpFraming::bodies(
            spec.codec
                .as_ref()
                .map_or(4096, |c| c.max_body(spec.buffer_size)),
        )),
        None => Framing::Stream,
        Some(h) => {
            let extra = match h.header_lines() {
                Ok(lines) => lines,
                Err(e) => {
                    log(format!("{}: {e}", spec.name));
                    h.headers.clone()
                }
            };
            Framing::Http(HttpFraming {
                path: leak(&h.path),
                host: leak(&h.host),
                content_type: leak(&h.content_type),
                extra_headers: leak(&extra),
                body_open: h.body.0,
                separator: h.body.1,
                body_close: h.body.2,
                // Room for the request header and, with snappy, for compressing in place.
                max_body: (spec.buffer_size / 4).clamp(4096, 4 << 20),
                snappy: h.snappy,
                write_header: true,
            })
        }
    };
    let config = Config {
        host: HostMeta {
            prefix: leak(&spec.prefix),
            hostname: leak(&spec.hostname),
            tags: leak(&spec.tags),
        },
        names: spec.names,
        data_source: spec.data_source,
        update_every: spec.update_every,
        destinations: spec.targets.len().max(1),
        timeout: Duration::from_millis(spec.timeout_ms),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        transport_acks: acks && spec.http.is_none() && spec.codec.is_none(),
        framing,
    };
    Engine::new(
        config,
        spec.wire,
        vec![0u8; spec.buffer_size].into_boxed_slice(),
        now,
    )
}

/// The running daemon.
pub struct Daemon {
    poll: Poll,
    settings: Settings,
    charts: ChartSet,
    collectors: Collectors,
    synthetic: Option<crate::collectors::synthetic::Synthetic>,
    destinations: Vec<Destination>,
    pull: Option<PullServer>,
    signals: Signals,
    waker: Arc<Waker>,
    resolved_tx: mpsc::Sender<(Token, Resolved)>,
    resolved_rx: mpsc::Receiver<(Token, Resolved)>,
    next_collect: Instant,
    stopping: Option<Instant>,
    reload: bool,
    next_token: usize,
    /// Engines replaced by a reload, delivering what they had buffered, with a deadline.
    retiring: Vec<(Destination, Instant)>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("destinations", &self.destinations.len())
            .finish_non_exhaustive()
    }
}

/// Logs one line to standard error.
pub fn log(message: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "backhaul: {message}");
}

impl Daemon {
    /// Sets everything up: the poll, signals, the pull endpoint, collectors and engines.
    ///
    /// # Errors
    ///
    /// The pull endpoint cannot bind, or the OS refuses a poll, waker or signal handler.
    pub fn new(settings: Settings) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let pull = match settings.bind {
            Some(addr) => Some(PullServer::bind(addr, poll.registry(), LISTENER)?),
            None => None,
        };
        let mut charts = ChartSet::new(settings.history, settings.collect_every);
        let collectors = Collectors::new(&mut charts);
        let synthetic = (settings.synthetic > 0)
            .then(|| crate::collectors::synthetic::Synthetic::new(&mut charts, settings.synthetic));
        let (resolved_tx, resolved_rx) = mpsc::channel();
        let now = clock::now();
        let mut daemon = Self {
            poll,
            settings: settings.clone(),
            charts,
            collectors,
            synthetic,
            destinations: Vec::new(),
            pull,
            signals,
            waker,
            resolved_tx,
            resolved_rx,
            next_collect: now,
            stopping: None,
            reload: false,
            next_token: FIRST_DESTINATION,
            retiring: Vec::new(),
        };
        for spec in &settings.destinations {
            daemon.add_destination(spec.clone(), now);
        }
        if let Some(wire) = settings.print {
            let spec = DestinationSpec {
                name: "stdout".to_owned(),
                wire,
                targets: Vec::new(),
                prefix: settings.pull_prefix.clone(),
                hostname: settings.hostname.clone(),
                tags: String::new(),
                data_source: settings.pull_source,
                update_every: settings.collect_every.max(1),
                buffer_size: 1 << 20,
                timeout_ms: 60_000,
                names: true,
                charts: "*".to_owned(),
                http: None,
                codec: None,
            };
            let engine = engine_for(&spec, now, false);
            daemon.destinations.push(Destination {
                token: Token(usize::MAX),
                filter: SendFilter::new("*"),
                responses: ResponseReader::new(),
                headers: None,
                spec,
                engine,
                sink: Sink::Stdout,
                reported: Counters::default(),
                last_report: now,
                chart_set_index: None,
                codec: None,
                request: Vec::new(),
                request_sent: 0,
                ack_poll: AckPoll::new(),
                ack_deadline: None,
            });
        }
        Ok(daemon)
    }

    fn add_destination(&mut self, spec: DestinationSpec, now: Instant) -> usize {
        let token = Token(self.next_token);
        self.next_token += 1;
        let mut link = Link::new(
            spec.targets.clone(),
            token,
            Arc::clone(&self.waker),
            self.resolved_tx.clone(),
        );
        let tls = spec
            .http
            .as_ref()
            .and_then(|h| h.tls.as_ref())
            .or_else(|| spec.codec.as_ref().and_then(CodecSpec::tls));
        if let Some(tls) = tls {
            if let Some(warning) = tls.insecure_warning() {
                log(format!("{}: WARNING: {warning}", spec.name));
            }
            match crate::tls::client_config(tls) {
                Ok(config) => link = link.with_tls(config),
                Err(e) => {
                    // Checked when the configuration was loaded; a file that changed since
                    // makes every connection fail rather than fall back to plaintext.
                    log(format!("{}: TLS: {e}", spec.name));
                    link = link.with_tls(Arc::new(crate::tls::refusing_config()));
                }
            }
        }
        let engine = engine_for(&spec, now, true);
        let chart_set_index = Some(
            self.charts
                .add_backend_charts_every(&spec.name, spec.update_every),
        );
        let codec = spec.codec.as_ref().map(CodecSpec::codec);
        self.destinations.push(Destination {
            token,
            codec,
            request: Vec::new(),
            request_sent: 0,
            ack_poll: AckPoll::new(),
            ack_deadline: None,
            filter: SendFilter::new(&spec.charts),
            responses: ResponseReader::new(),
            headers: None,
            spec,
            engine,
            sink: Sink::Net(link),
            reported: Counters::default(),
            last_report: now,
            chart_set_index,
        });
        self.destinations.len() - 1
    }

    fn index_of(&self, token: Token) -> Option<usize> {
        self.destinations.iter().position(|d| d.token == token)
    }

    /// A one-line summary for the start-up message.
    pub fn status_line(&self) -> String {
        let mut line = format!(
            "collecting {} charts ({} metrics) every {} s",
            self.charts.chart_count(),
            self.charts.metric_count_total(),
            self.settings.collect_every
        );
        if let Some(pull) = &self.pull {
            line.push_str(&format!(
                "; serving http://{}/api/v1/allmetrics?format=prometheus",
                pull.local_addr()
            ));
        }
        let names: Vec<String> = self
            .destinations
            .iter()
            .filter(|d| matches!(d.sink, Sink::Net(_)))
            .map(|d| {
                let first = d.spec.targets.first().map_or("", |t| t.text.as_str());
                format!("{} ({} to {first})", d.spec.name, d.spec.wire.as_str())
            })
            .collect();
        if names.is_empty() {
            line.push_str("; no destinations");
        } else {
            line.push_str(&format!("; exporting to {}", names.join(", ")));
        }
        line
    }

    /// The address the pull endpoint listens on, if any.
    pub fn pull_addr(&self) -> Option<std::net::SocketAddr> {
        self.pull.as_ref().map(PullServer::local_addr)
    }

    /// Runs until SIGTERM or SIGINT, then tries to deliver what is buffered within each
    /// destination's timeout. Returns `true` when SIGHUP asked for a reload (the caller
    /// re-reads the configuration and calls [`Daemon::reload`]).
    ///
    /// # Errors
    ///
    /// `Poll::poll` fails for a reason other than an interrupted call.
    pub fn run(&mut self) -> io::Result<bool> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = clock::now();
            if self.stopping.is_none() && now >= self.next_collect {
                self.collect(now);
            }
            for i in 0..self.destinations.len() {
                self.pump(i, now);
            }
            self.pump_retiring(now);
            if self.reload {
                self.reload = false;
                return Ok(true);
            }
            if let Some(deadline) = self.stopping {
                let drained = self
                    .destinations
                    .iter()
                    .all(|d| !d.engine.can_still_deliver(now));
                if drained || now >= deadline {
                    self.report_shutdown();
                    return Ok(false);
                }
            }
            let mut deadline = if self.stopping.is_some() {
                now.saturating_add(Duration::from_millis(50))
            } else {
                self.next_collect
            };
            for d in &self.destinations {
                if let Some(t) = d.engine.poll_timeout() {
                    deadline = deadline.min(t);
                }
                if let Some(t) = d.ack_deadline {
                    deadline = deadline.min(t);
                }
            }
            match self
                .poll
                .poll(&mut events, Some(clock::until(deadline, now)))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = clock::now();
            for event in &events {
                match event.token() {
                    WAKER => self.drain_resolved(now),
                    SIGNALS => self.handle_signals(now),
                    LISTENER => {
                        if let Some(pull) = &mut self.pull {
                            pull.accept(self.poll.registry());
                        }
                    }
                    Token(t) if t >= FIRST_CLIENT => {
                        if let Some(pull) = &mut self.pull {
                            pull.client_ready(
                                self.poll.registry(),
                                Token(t),
                                &self.charts,
                                &self.settings,
                                now,
                            );
                        }
                    }
                    token => self.destination_ready(token, now),
                }
            }
        }
    }

    fn collect(&mut self, now: Instant) {
        for message in self.collectors.collect(&mut self.charts, now.as_micros()) {
            log(message);
        }
        if let Some(synthetic) = &mut self.synthetic {
            synthetic.collect(&mut self.charts, now.as_micros());
        }
        let (user, system) = rusage::thread_cpu_us();
        for d in &mut self.destinations {
            let Some(set) = d.chart_set_index else {
                continue;
            };
            let every = Duration::from_secs(u64::from(d.spec.update_every.max(1)));
            if now.saturating_duration_since(d.last_report) >= every {
                let counters = *d.engine.counters();
                self.charts.update_backend_charts(
                    set,
                    &d.reported,
                    &counters,
                    d.engine.buffered_bytes(),
                    user,
                    system,
                    now.as_micros(),
                );
                log_losses(&d.spec.name, &d.reported, &counters);
                d.reported = counters;
                d.last_report = now;
            }
        }
        let step = Duration::from_secs(u64::from(self.settings.collect_every.max(1)));
        self.next_collect = now.next_multiple_of(step);
    }

    /// Carries out what engine `i` wants: connects, closes, writes; reports acks.
    fn pump(&mut self, i: usize, now: Instant) {
        let registry = self.poll.registry();
        pump_one(registry, &mut self.destinations[i], &self.charts, now);
    }

    fn pump_retiring(&mut self, now: Instant) {
        let registry = self.poll.registry();
        for (d, _) in &mut self.retiring {
            pump_one(registry, d, &self.charts, now);
        }
        self.retiring.retain_mut(|(d, deadline)| {
            let done = d.engine.buffered_bytes() == 0 || now >= *deadline;
            if done {
                log_losses(&d.spec.name, &d.reported, d.engine.counters());
                if d.engine.counters().buffered > 0 {
                    log(format!(
                        "{}: the replaced configuration's last {} records could not be delivered in time",
                        d.spec.name,
                        d.engine.counters().buffered
                    ));
                }
                if let Sink::Net(link) = &mut d.sink {
                    let _ = link.close(registry);
                }
            }
            !done
        });
    }

    fn destination_ready(&mut self, token: Token, now: Instant) {
        let registry = self.poll.registry();
        if let Some(r) = self.retiring.iter_mut().position(|(d, _)| d.token == token) {
            let (d, _) = &mut self.retiring[r];
            if let Sink::Net(link) = &mut d.sink {
                let event = link.ready(registry, &mut |_| {});
                apply(&d.spec.name, link, &mut d.engine, event, now);
            }
            return;
        }
        let Some(i) = self.index_of(token) else {
            return;
        };
        let d = &mut self.destinations[i];
        if let Sink::Net(link) = &mut d.sink {
            let mut received = 0;
            let mut responses = Vec::new();
            let mut malformed = None;
            let http = d.spec.http.is_some();
            let reader = &mut d.responses;
            let mut verdicts = Vec::new();
            let codec = &mut d.codec;
            let event = link.ready(registry, &mut |bytes| {
                received += bytes.len();
                if malformed.is_some() {
                    return;
                }
                if let Some(codec) = codec.as_mut() {
                    match codec.feed(bytes) {
                        Ok(Some(v)) => verdicts.push(v),
                        Ok(None) => {}
                        Err(e) => malformed = Some(e),
                    }
                } else if http {
                    if let Err(e) = reader.feed(bytes, |r| responses.push(r)) {
                        malformed = Some(e);
                    }
                }
            });
            if received > 0 {
                d.engine.handle_received(now, received);
            }
            let mut close = false;
            for r in responses {
                if !(200..300).contains(&r.status) {
                    log(format!(
                        "{}: {} answered HTTP {}: {}",
                        d.spec.name,
                        link.current().map_or("?", |t| t.text.as_str()),
                        r.status,
                        r.body_start.trim()
                    ));
                }
                d.engine.handle_http_status(now, r.status);
                close |= r.close;
            }
            for v in verdicts {
                if let Some(message) = &v.message {
                    log(format!(
                        "{}: {}: {message}",
                        d.spec.name,
                        link.current().map_or("?", |t| t.text.as_str())
                    ));
                }
                d.engine.handle_outcome(now, v.outcome);
                close |= v.close;
            }
            if let Some(e) = malformed {
                log(format!("{}: {e}; closing the connection", d.spec.name));
                close = true;
            }
            let disconnected = matches!(event, LinkEvent::Disconnected { .. });
            if disconnected {
                d.responses
                    .closed(|r| d.engine.handle_http_status(now, r.status));
            }
            let closing = close && link.is_up();
            if (disconnected || closing) && d.request_sent > 0 {
                // A codec request partly written when the connection goes is a torn one.
                d.engine.handle_request_cut(now);
            }
            apply(&d.spec.name, link, &mut d.engine, event, now);
            if closing {
                let _ = link.close(registry);
                d.responses.reset();
                d.engine.handle_disconnected(now, None);
            }
        }
        self.pump(i, now);
    }

    fn drain_resolved(&mut self, now: Instant) {
        let registry = self.poll.registry();
        while let Ok((token, resolved)) = self.resolved_rx.try_recv() {
            let retiring = self.retiring.iter_mut().map(|(d, _)| d);
            if let Some(d) = self
                .destinations
                .iter_mut()
                .chain(retiring)
                .find(|d| d.token == token)
            {
                if let Sink::Net(link) = &mut d.sink {
                    let event = link.resolved(registry, resolved);
                    apply(&d.spec.name, link, &mut d.engine, event, now);
                }
            }
        }
    }

    fn handle_signals(&mut self, now: Instant) {
        for signal in self.signals.pending() {
            match signal {
                SIGHUP => self.reload = true,
                SIGTERM | SIGINT if self.stopping.is_none() => {
                    let longest = self
                        .destinations
                        .iter()
                        .map(|d| d.spec.timeout_ms)
                        .max()
                        .unwrap_or(0);
                    log(format!(
                        "stopping: delivering what is buffered (at most {longest} ms)"
                    ));
                    self.stopping = Some(now.saturating_add(Duration::from_millis(longest)));
                    for d in &mut self.destinations {
                        // A destination behind (buffer full, or catching up after an
                        // outage) counts the records due and never formatted as lost
                        // here; the shutdown report logs them.
                        stop_producing(d, &self.charts);
                    }
                }
                _ => {}
            }
        }
    }

    fn report_shutdown(&self) {
        for d in &self.destinations {
            let c = d.engine.counters();
            if c.buffered > 0 {
                log(format!(
                    "{}: {} records still buffered at exit ({} bytes) were not delivered",
                    d.spec.name,
                    c.buffered,
                    d.engine.buffered_bytes()
                ));
            }
            if matches!(d.sink, Sink::Net(_)) {
                // Losses since the last periodic report, with their reasons.
                log_losses(&d.spec.name, &d.reported, c);
                log(format!(
                    "{}: {} records delivered, {} lost",
                    d.spec.name, c.delivered, c.lost
                ));
            }
        }
    }

    /// Applies a new configuration after SIGHUP. Destinations whose settings did not
    /// change keep their engine (progress, buffer and connection). A changed one gets a
    /// new engine that resumes at the oldest span the old one had not delivered entirely
    /// and formats it again from the rings with the new settings, so nothing is skipped
    /// or dropped (records of that oldest span already delivered are sent again). A
    /// removed destination delivers what it has buffered within its timeout, then goes.
    pub fn reload(&mut self, settings: Settings) {
        let now = clock::now();
        let old = std::mem::take(&mut self.destinations);
        let mut stdout = None;
        let mut unmatched = Vec::new();
        let mut kept: Vec<Destination> = Vec::new();
        for d in old {
            if matches!(d.sink, Sink::Stdout) {
                stdout = Some(d);
            } else if settings.destinations.contains(&d.spec) {
                kept.push(d);
            } else {
                unmatched.push(d);
            }
        }
        for spec in &settings.destinations {
            if let Some(pos) = kept.iter().position(|d| d.spec == *spec) {
                self.destinations.push(kept.remove(pos));
                continue;
            }
            let i = self.add_destination(spec.clone(), now);
            // The same instance name before the reload: continue its progress. The new
            // engine formats again, from the rings, every span the old one had not
            // delivered entirely, so the old one's buffer is not needed.
            if let Some(pos) = unmatched.iter().position(|d| d.spec.name == spec.name) {
                let mut previous = unmatched.remove(pos);
                let resume = previous.engine.resume_point();
                self.destinations[i].engine.resume_from(resume);
                if let Sink::Net(link) = &mut previous.sink {
                    let _ = link.close(self.poll.registry());
                }
                log(format!(
                    "{}: settings changed; resuming from {resume} with the new settings",
                    spec.name
                ));
            }
        }
        for mut d in unmatched {
            // Removed from the configuration: deliver what it has, then go. What it had
            // not formatted yet is counted as lost, and logged when it goes.
            stop_producing(&mut d, &self.charts);
            let deadline = now.saturating_add(Duration::from_millis(d.spec.timeout_ms));
            self.retiring.push((d, deadline));
        }
        if let Some(d) = stdout {
            self.destinations.push(d);
        }
        self.settings = settings;
        log(format!("configuration reloaded: {}", self.status_line()));
    }
}

/// Stops `d`'s engine formatting, with the charts it exports (the engine counts the
/// records it was due to format and never will as lost).
fn stop_producing(d: &mut Destination, charts: &ChartSet) {
    let charts = d.filter.current_view(charts);
    d.engine.stop_producing(&charts);
}

fn pump_one(registry: &mio::Registry, d: &mut Destination, charts: &ChartSet, now: Instant) {
    let charts = d.filter.current_view(charts);
    d.engine.handle_timeout(now, &charts);
    while let Some(action) = d.engine.poll_action(now) {
        match (&mut d.sink, action) {
            (Sink::Stdout, Action::Connect { .. }) => d.engine.handle_connected(now),
            (Sink::Stdout, Action::Disconnect) => d.engine.handle_disconnected(now, None),
            (Sink::Net(link), Action::Connect { destination }) => {
                d.responses.reset();
                d.request.clear();
                d.request_sent = 0;
                if let Some(codec) = d.codec.as_mut() {
                    codec.reset();
                }
                if let Some(h) = &d.spec.http {
                    match h.header_lines() {
                        Ok(lines) if d.headers.as_deref() != Some(lines.as_str()) => {
                            d.engine.set_http_extra_headers(leak(&lines));
                            d.headers = Some(lines);
                        }
                        Ok(_) => {}
                        Err(e) => log(format!("{}: {e}", d.spec.name)),
                    }
                }
                let event = link.connect(registry, destination);
                apply(&d.spec.name, link, &mut d.engine, event, now);
            }
            (Sink::Net(link), Action::Disconnect) => {
                let unacked = link.close(registry);
                log(format!(
                    "{}: closing the connection to {} (timed out or stalled)",
                    d.spec.name,
                    link.current().map_or("?", |t| t.text.as_str())
                ));
                d.engine
                    .handle_disconnected(now, unacked.or(Some(usize::MAX)));
            }
        }
    }
    if let (Some(codec), Sink::Net(link)) = (d.codec.as_deref_mut(), &mut d.sink) {
        let out = Requests {
            name: &d.spec.name,
            engine: &mut d.engine,
            codec,
            link,
            request: &mut d.request,
            sent: &mut d.request_sent,
        };
        pump_requests(registry, out, &charts, now);
        // Requests are answered, not acknowledged: nothing to look at.
        d.ack_deadline = None;
        return;
    }
    while let Some(bytes) = d.engine.poll_transmit(now, &charts) {
        let written = match &mut d.sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                match out.write_all(bytes).and_then(|()| out.flush()) {
                    Ok(()) => Ok(bytes.len()),
                    Err(e) => {
                        log(format!("standard output: {e}"));
                        Ok(0)
                    }
                }
            }
            Sink::Net(link) => link.write(bytes),
        };
        match written {
            Ok(0) => break,
            Ok(n) => d.engine.handle_written(now, n),
            Err(event) => {
                if let Sink::Net(link) = &mut d.sink {
                    let _ = link.close(registry);
                    apply(&d.spec.name, link, &mut d.engine, event, now);
                }
                break;
            }
        }
    }
    let outstanding = match &d.sink {
        Sink::Net(link) => link.unacknowledged(),
        Sink::Stdout => None,
    };
    if let Some(outstanding) = outstanding {
        d.engine.handle_unacknowledged(now, outstanding);
    }
    // No event tells when the peer acknowledges bytes: while some are outstanding, look
    // again soon, so that the room they hold in the send buffer is freed and refilled now,
    // not at the next interval; less and less often while a stalled peer acknowledges
    // nothing. (One `SIOCOUTQ` per pump serves both.)
    d.ack_deadline = d.ack_poll.next(now, outstanding.unwrap_or(0));
}

/// Writes codec requests: each batch the engine offers becomes one request, written over
/// as many calls as the socket takes; the engine hears of the batch only once the whole
/// request is on the wire (and of a request cut half-way, as a failure).
fn pump_requests(
    registry: &mio::Registry,
    out: Requests<'_>,
    charts: &crate::charts::Filtered<'_>,
    now: Instant,
) {
    let Requests {
        name,
        engine,
        codec,
        link,
        request,
        sent,
    } = out;
    while let Some(body) = engine.poll_transmit(now, charts) {
        let body_len = body.len();
        if request.is_empty() {
            *sent = 0;
            if let Err(e) = codec.encode(body, request) {
                log(format!("{name}: {e}; dropping the batch"));
                request.clear();
                engine.handle_written(now, body_len);
                engine.handle_outcome(now, Outcome::Rejected { status: 0 });
                continue;
            }
        }
        match link.write(&request[*sent..]) {
            Ok(0) => break,
            Ok(n) => {
                *sent += n;
                if *sent == request.len() {
                    request.clear();
                    *sent = 0;
                    engine.handle_written(now, body_len);
                }
            }
            Err(event) => {
                let _ = link.close(registry);
                if *sent > 0 {
                    // Part of the request is on the wire: a torn request.
                    engine.handle_request_cut(now);
                }
                request.clear();
                *sent = 0;
                apply(name, link, engine, event, now);
                break;
            }
        }
    }
}

/// The parts of a [`Destination`] that [`pump_requests`] works on.
struct Requests<'d> {
    name: &'d str,
    engine: &'d mut WireEngine,
    codec: &'d mut dyn Codec,
    link: &'d mut Link,
    request: &'d mut Vec<u8>,
    sent: &'d mut usize,
}

/// Logs the records lost since the previous report, per reason.
fn log_losses(name: &str, before: &Counters, now: &Counters) {
    use backhaul_core::engine::LossReason;
    for (reason, (was, is)) in LossReason::ALL.iter().zip(
        before
            .lost_by_reason()
            .into_iter()
            .zip(now.lost_by_reason()),
    ) {
        if is > was {
            // Refusals without an HTTP status (records refused one by one, MongoDB's
            // errors) have their own log line naming the server's error.
            let status = if *reason == LossReason::Rejected && now.last_rejection_status != 0 {
                format!(" (HTTP {})", now.last_rejection_status)
            } else {
                String::new()
            };
            log(format!(
                "{name}: {} records lost: {reason}{status}",
                is - was
            ));
        }
    }
}

fn apply(name: &str, link: &Link, engine: &mut WireEngine, event: LinkEvent, now: Instant) {
    let target = link.current().map_or("?", |t| t.text.as_str());
    match event {
        LinkEvent::None => {}
        LinkEvent::Connected => {
            log(format!("{name}: connected to {target}"));
            engine.handle_connected(now);
        }
        LinkEvent::ConnectFailed(why) => {
            log(format!("{name}: cannot connect to {target}: {why}"));
            engine.handle_connect_failed(now);
        }
        LinkEvent::Disconnected {
            unacknowledged,
            reason,
        } => {
            log(format!("{name}: connection to {target} lost: {reason}"));
            engine.handle_disconnected(now, unacknowledged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(basic: Option<&str>, bearer: Option<std::path::PathBuf>) -> HttpSpec {
        HttpSpec {
            path: "/api/v1/write".to_owned(),
            host: "h:9090".to_owned(),
            content_type: "application/x-protobuf".to_owned(),
            headers: "X-A: b\r\n".to_owned(),
            body: (b"", b"", b""),
            snappy: true,
            basic: basic.map(str::to_owned),
            bearer_token_file: bearer,
            tls: None,
        }
    }

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
            ("metrics:s3cret", "bWV0cmljczpzM2NyZXQ="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn basic_authentication_header() {
        let lines = spec(Some("metrics:s3cret"), None).header_lines().unwrap();
        assert_eq!(
            lines,
            "X-A: b\r\nAuthorization: Basic bWV0cmljczpzM2NyZXQ=\r\n"
        );
    }

    #[test]
    fn the_bearer_token_is_read_again_each_time_and_never_printed() {
        let dir = std::env::temp_dir().join(format!("backhaul-bearer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "first\n").unwrap();
        let s = spec(None, Some(file.clone()));
        assert!(s
            .header_lines()
            .unwrap()
            .ends_with("Authorization: Bearer first\r\n"));
        std::fs::write(&file, "second").unwrap();
        assert!(s
            .header_lines()
            .unwrap()
            .ends_with("Authorization: Bearer second\r\n"));
        std::fs::write(&file, "two words").unwrap();
        let err = s.header_lines().unwrap_err();
        assert!(
            err.contains("spaces or control characters") && !err.contains("two words"),
            "{err}"
        );
        std::fs::remove_file(&file).unwrap();
        assert!(s
            .header_lines()
            .unwrap_err()
            .starts_with("bearer token file "));
        let debug = format!("{:?}", spec(Some("metrics:s3cret"), None));
        assert!(!debug.contains("s3cret"), "{debug}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The exporter: the core's engine driven by a clock and a transport.
//!
//! [`Exporter::poll`] does everything that is due, without blocking (unless the
//! transport blocks): it reads the clock, collects the self-monitoring charts when their
//! interval has passed, advances the engine's schedule (formatting due spans from the
//! rings into the send buffer), connects or closes as the engine asks, and writes what
//! the transport takes. It returns when to call it next. Call it from the main loop after
//! each collection, when that time comes, and when a non-blocking transport can take
//! more bytes again (say, on a UART's TX-empty interrupt).

use backhaul_core::config::DataSource;
use backhaul_core::engine::{
    Action, Config, Counters, Engine, Framing, LossReason, RecordFormat, Source,
};
use backhaul_core::format::{graphite, BufferFull, HostMeta, Record};
use backhaul_core::time::{Duration, Instant};

use crate::clock::{cycles_to_micros, Clock, CycleCounter, NoCycles};
use crate::metrics::{Full, Metrics};
use crate::monitor::{Monitor, SelfCharts};
use crate::transport::Transport;

/// A wire format as a plain function (e.g. [`graphite::write`],
/// [`opentsdb::write`](backhaul_core::format::opentsdb::write)).
pub type FormatFn = fn(&Record<'_>, &mut [u8]) -> Result<usize, BufferFull>;

/// At most this many writes (and reconnects) per [`Exporter::poll`]: the work of one
/// call is bounded even with a transport that takes one byte at a time.
const MAX_ROUNDS: usize = 64;
/// At most this many connection actions per call.
const MAX_ACTIONS: usize = 8;

/// Engine settings for a byte-stream destination (Graphite, OpenTSDB telnet, JSON
/// lines) from a firmware: averages of the stored points, names (not ids), an export
/// every second, one destination, a 10 s timeout for connecting and for a stalled
/// write, reconnects backing off from 1 s to 60 s. Change fields as needed.
#[must_use]
pub const fn stream_config(host: HostMeta<'_>) -> Config<'_> {
    Config {
        host,
        names: true,
        data_source: DataSource::Average,
        update_every: 1,
        destinations: 1,
        timeout: Duration::from_secs(10),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        transport_acks: false,
        framing: Framing::Stream,
    }
}

/// What [`Exporter::poll`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Status {
    /// Call [`poll`](Exporter::poll) again at this time at the latest.
    pub next: Instant,
    /// Bytes wait for the transport (it said it would block): call `poll` again as soon
    /// as it can take more.
    pub blocked: bool,
}

/// The exporter for one destination.
///
/// [`poll`](Self::poll) does everything that is due, without blocking (unless the
/// transport blocks): it reads the clock, collects the self-monitoring charts when their
/// interval has passed, advances the engine's schedule (formatting due spans from the
/// rings into the send buffer), connects or closes as the engine asks, and writes what
/// the transport takes. It returns when to call it next. Call it from the main loop after
/// each collection, when that time comes, and when a non-blocking transport can take
/// more bytes again (say, on a UART's TX-empty interrupt).
///
/// * `T`: the [`Transport`];
/// * `C`: the [`Clock`];
/// * `B`: the send buffer's storage (`&'static mut [u8; N]`, `[u8; N]`), whose length is
///   the buffer's byte limit: at least one whole record, ideally one export's worth;
/// * `F`: the wire format ([`FormatFn`] for the core's formats);
/// * `Y`: the [`CycleCounter`] that measures its CPU use ([`NoCycles`] by default).
#[derive(Debug)]
pub struct Exporter<'a, T, C, B, F = FormatFn, Y = NoCycles> {
    engine: Engine<'a, F, B>,
    transport: T,
    clock: C,
    cycles: Y,
    hz: u32,
    update_every: u32,
    /// The destination being connected to, while the transport says "would block".
    connecting: Option<usize>,
    cpu_cycles: u64,
    monitor: Option<Monitor>,
    lost: [u64; LossReason::ALL.len()],
}

impl<'a, T, C, B> Exporter<'a, T, C, B>
where
    T: Transport,
    C: Clock,
    B: AsRef<[u8]> + AsMut<[u8]>,
{
    /// A Graphite exporter with [`stream_config`] settings.
    pub fn graphite(host: HostMeta<'a>, buffer: B, transport: T, clock: C) -> Self {
        Self::new(
            stream_config(host),
            graphite::write as FormatFn,
            buffer,
            transport,
            clock,
        )
    }
}

impl<'a, T, C, B, F> Exporter<'a, T, C, B, F>
where
    T: Transport,
    C: Clock,
    B: AsRef<[u8]> + AsMut<[u8]>,
    F: RecordFormat,
{
    /// An exporter starting now (its first export covers the time from now to the
    /// first interval boundary, as netdata's first iteration does).
    pub fn new(config: Config<'a>, format: F, buffer: B, transport: T, mut clock: C) -> Self {
        let now = clock.now();
        Self {
            engine: Engine::new(config, format, buffer, now),
            transport,
            clock,
            cycles: NoCycles,
            hz: 1,
            update_every: config.update_every.max(1),
            connecting: None,
            cpu_cycles: 0,
            monitor: None,
            lost: [0; LossReason::ALL.len()],
        }
    }
}

impl<'a, T, C, B, F, Y> Exporter<'a, T, C, B, F, Y>
where
    T: Transport,
    C: Clock,
    B: AsRef<[u8]> + AsMut<[u8]>,
    F: RecordFormat,
    Y: CycleCounter,
{
    /// Measures the exporter's CPU use with the board's cycle counter (reported by
    /// [`cpu_micros`](Self::cpu_micros) and the `netdata.backend_thread_cpu` chart).
    pub fn with_cycle_counter<Z: CycleCounter>(self, cycles: Z) -> Exporter<'a, T, C, B, F, Z> {
        Exporter {
            hz: cycles.frequency_hz().max(1),
            engine: self.engine,
            transport: self.transport,
            clock: self.clock,
            cycles,
            update_every: self.update_every,
            connecting: self.connecting,
            cpu_cycles: self.cpu_cycles,
            monitor: self.monitor,
            lost: self.lost,
        }
    }

    /// Adds the selected self-monitoring charts (see [`crate::monitor`]) to `metrics`;
    /// [`poll`](Self::poll) then collects them once per export interval. Call it once,
    /// for one exporter per store (the chart ids are netdata's, without a suffix).
    ///
    /// # Errors
    ///
    /// [`Full`] if the charts do not fit in `metrics` (nothing is added then).
    pub fn monitor<const CH: usize, const D: usize, const S: usize>(
        &mut self,
        metrics: &mut Metrics<'_, CH, D, S>,
        which: SelfCharts,
    ) -> Result<(), Full> {
        let now = self.clock.now();
        self.monitor = Some(Monitor::add(metrics, which, self.update_every, now)?);
        Ok(())
    }

    /// Does what is due (see [`Exporter`]) with `metrics` as the source, and collects the
    /// self-monitoring charts into it when they are due.
    pub fn poll<const CH: usize, const D: usize, const S: usize>(
        &mut self,
        metrics: &mut Metrics<'_, CH, D, S>,
    ) -> Status {
        let start = self.cycles.cycles();
        let now = self.clock.now();
        if let Some(monitor) = &mut self.monitor {
            let cpu = cycles_to_micros(self.cpu_cycles, self.hz);
            let buffered = self.engine.buffered_bytes();
            monitor.update(metrics, self.engine.counters(), buffered, cpu, now);
        }
        let mut status = self.drive(now, &*metrics);
        if let Some(monitor) = &self.monitor {
            status.next = status.next.min(monitor.next());
        }
        self.count_cycles(start);
        status
    }

    /// Like [`poll`](Self::poll), for any [`Source`] (no self-monitoring charts).
    pub fn poll_source<S: Source + ?Sized>(&mut self, source: &S) -> Status {
        let start = self.cycles.cycles();
        let now = self.clock.now();
        let status = self.drive(now, source);
        self.count_cycles(start);
        status
    }

    fn count_cycles(&mut self, start: u32) {
        let spent = self.cycles.cycles().wrapping_sub(start);
        self.cpu_cycles = self.cpu_cycles.saturating_add(u64::from(spent));
    }

    fn drive<S: Source + ?Sized>(&mut self, now: Instant, source: &S) -> Status {
        self.engine.handle_timeout(now, source);
        let mut blocked = false;
        let mut busy = true;
        for _ in 0..MAX_ROUNDS {
            self.act(now);
            let Some(bytes) = self.engine.poll_transmit(now, source) else {
                busy = false;
                break;
            };
            match self.transport.write(bytes) {
                Ok(n) => {
                    trace!("backhaul: wrote {} bytes", n);
                    self.engine.handle_written(now, n);
                }
                Err(nb::Error::WouldBlock) => {
                    blocked = true;
                    busy = false;
                    break;
                }
                Err(nb::Error::Other(_)) => {
                    warn!("backhaul: write failed, closing the connection");
                    self.transport.close();
                    self.engine.handle_disconnected(now, None);
                    // Reconnect on the next call, not in a loop within this one.
                    busy = false;
                    break;
                }
            }
        }
        self.log_losses();
        let next = match self.engine.poll_timeout() {
            Some(t) if !busy => t,
            _ => now,
        };
        Status { next, blocked }
    }

    /// Carries out the engine's connection actions, and continues a connection that
    /// is in progress.
    fn act(&mut self, now: Instant) {
        if let Some(destination) = self.connecting {
            self.connect(now, destination);
        }
        for _ in 0..MAX_ACTIONS {
            match self.engine.poll_action(now) {
                Some(Action::Connect { destination }) => {
                    self.connecting = Some(destination);
                    self.connect(now, destination);
                }
                Some(Action::Disconnect) => {
                    info!("backhaul: closing the connection (timed out or stalled)");
                    self.connecting = None;
                    self.transport.close();
                    self.engine.handle_disconnected(now, None);
                }
                None => break,
            }
        }
    }

    fn connect(&mut self, now: Instant, destination: usize) {
        match self.transport.connect(destination) {
            Ok(()) => {
                info!("backhaul: connected to destination {}", destination);
                self.connecting = None;
                self.engine.handle_connected(now);
            }
            Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(_)) => {
                warn!("backhaul: cannot connect to destination {}", destination);
                self.connecting = None;
                self.engine.handle_connect_failed(now);
            }
        }
    }

    fn log_losses(&mut self) {
        let now = self.engine.counters().lost_by_reason();
        if now != self.lost {
            for (reason, (new, old)) in LossReason::ALL.iter().zip(now.iter().zip(self.lost.iter()))
            {
                if new > old {
                    warn!("backhaul: lost {} records: {}", new - old, reason.as_str());
                }
            }
            self.lost = now;
        }
    }

    /// The engine's counters: accepted, delivered, buffered, lost (by reason), bytes,
    /// operations. `accepted == delivered + buffered + lost` always holds.
    #[must_use]
    pub const fn counters(&self) -> &Counters {
        self.engine.counters()
    }

    /// The CPU time spent in [`poll`](Self::poll) so far, in microseconds, as the cycle
    /// counter measured it (0 without one).
    #[must_use]
    pub const fn cpu_micros(&self) -> u64 {
        cycles_to_micros(self.cpu_cycles, self.hz)
    }

    /// Bytes in the send buffer not yet written.
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.engine.buffered_bytes()
    }

    /// Whether the transport is connected (as far as the exporter knows).
    #[must_use]
    pub const fn is_connected(&self) -> bool {
        self.engine.is_connected()
    }

    /// Stops formatting new records; what is buffered is still written by later polls.
    /// For a shutdown: poll until [`buffered_bytes`](Self::buffered_bytes) is 0.
    ///
    /// `source` is what [`poll`](Self::poll) exports: the records it holds that were
    /// due and not formatted yet (the exporter was behind, e.g. after an outage) are
    /// counted as lost ([`LossReason::Shutdown`]) and logged now, so that no record is
    /// lost silently.
    pub fn stop_producing<S: Source + ?Sized>(&mut self, source: &S) {
        self.engine.stop_producing(source);
        self.log_losses();
    }

    /// The engine, for what this driver does not expose.
    #[must_use]
    pub const fn engine(&self) -> &Engine<'a, F, B> {
        &self.engine
    }

    /// The transport.
    #[must_use]
    pub const fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably (e.g. to service its hardware).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The clock, mutably (e.g. to set its base once the real time is known).
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }
}

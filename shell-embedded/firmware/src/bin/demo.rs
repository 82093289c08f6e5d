//! backhaul's embedded demo on qemu's lm3s6965evb (run it with `scripts/qemu-demo.sh`).
//!
//! Every second of emulated time (SysTick) it collects two charts into 60-second rings:
//!
//! * `demo.counter`, dimension `ticks`: the seconds since boot (0, 1, 2, ...);
//! * `demo.sensor`, dimension `temperature`: a synthetic sensor in milli-degrees,
//!   `21000 + 250 × ((7 × ticks) mod 13)`, stored in degrees (divisor 1000);
//!
//! plus the exporter's own CPU time (`netdata.backend_thread_cpu`, dimension `user`,
//! measured with SysTick as a cycle counter), and exports their averages as Graphite
//! lines on UART0 (`netdata.lm3s6965evb.demo.counter.ticks 12.0000000 1795308812`).
//!
//! The Unix time comes from the host once, at boot (semihosting `SYS_TIME`); the
//! firmware adds SysTick's seconds to it. After `N` lines (the last word of its
//! semihosting command line, 30 by default) it waits for the UART to drain and exits
//! through semihosting with status 0.

#![no_std]
#![no_main]

use core::convert::Infallible;
use core::ptr::addr_of_mut;
use core::sync::atomic::Ordering;

use backhaul_embedded::time::Instant;
use backhaul_embedded::{
    Algorithm, ChartDef, DimDef, Exporter, HostMeta, Metrics, Ready, SelfCharts,
};
use backhaul_firmware::{host, start_systick, SysTickClock, SysTickCycles, Uart0, SECONDS};
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::hprintln;
use embedded_io::Write as _;
use panic_halt as _;

/// Charts: the counter, the sensor, and the exporter's CPU chart.
const CHARTS: usize = 3;
/// One dimension each.
const DIMS: usize = 3;
/// One minute of one-second points per dimension (the exporter can resend that much
/// after an outage).
const SLOTS: usize = 60;
/// The send buffer: a few seconds of lines.
const SEND_BUFFER: usize = 1024;
/// Lines to send when the command line does not say.
const DEFAULT_LINES: u32 = 30;

static mut METRICS: Metrics<'static, CHARTS, DIMS, SLOTS> = Metrics::new();
static mut SEND: [u8; SEND_BUFFER] = [0; SEND_BUFFER];

#[exception]
fn SysTick() {
    backhaul_firmware::tick();
}

/// The synthetic sensor at second `k`, in milli-degrees.
const fn sensor(k: i64) -> i64 {
    21_000 + 250 * ((7 * k) % 13)
}

/// UART0 that takes the bytes of the first `left` lines and then no more.
struct Lines {
    uart: Uart0,
    left: u32,
}

impl embedded_io::ErrorType for Lines {
    type Error = Infallible;
}

impl embedded_io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        // Up to and including the newline of the last line allowed.
        let mut end = 0;
        let mut lines = 0;
        for (i, &b) in buf.iter().enumerate() {
            if lines == self.left {
                break;
            }
            end = i + 1;
            if b == b'\n' {
                lines += 1;
            }
        }
        if end == 0 {
            return Ok(0);
        }
        let n = self.uart.write(&buf[..end])?;
        let sent = buf[..n].iter().filter(|&&b| b == b'\n').count() as u32;
        self.left -= sent.min(self.left);
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.uart.flush()
    }
}

impl embedded_io::WriteReady for Lines {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.left > 0 && self.uart.write_ready()?)
    }
}

#[entry]
fn main() -> ! {
    backhaul_firmware::stack::paint();
    let Some(mut core) = cortex_m::Peripherals::take() else {
        host::exit(false);
    };
    let base = host::unix_time();
    let lines = host::last_arg_number(DEFAULT_LINES);

    // SAFETY: `main` runs once and is the only user of these statics.
    let metrics = unsafe { &mut *addr_of_mut!(METRICS) };
    let send = unsafe { &mut *addr_of_mut!(SEND) };

    let counter = metrics.add_chart(
        &ChartDef::new("demo.counter", "demo", "demo.counter", "seconds"),
        &[DimDef::new("ticks", Algorithm::Absolute, 1, 1)],
    );
    let sensor_chart = metrics.add_chart(
        &ChartDef::new("demo.sensor", "demo", "demo.sensor", "Celsius"),
        &[DimDef::new("temperature", Algorithm::Absolute, 1, 1000)],
    );
    let (Ok(counter), Ok(sensor_chart)) = (counter, sensor_chart) else {
        host::exit(false);
    };

    let host_meta = HostMeta {
        prefix: "netdata",
        hostname: "lm3s6965evb",
        tags: "",
    };
    let uart = Lines {
        uart: Uart0::enable(),
        left: lines,
    };
    start_systick(&mut core.SYST);
    let mut exporter = Exporter::graphite(host_meta, send, Ready(uart), SysTickClock::new(base))
        .with_cycle_counter(SysTickCycles);
    if exporter.monitor(metrics, SelfCharts::CPU).is_err() {
        host::exit(false);
    }

    let mut collected = None;
    loop {
        let seconds = SECONDS.load(Ordering::Acquire);
        if collected != Some(seconds) {
            collected = Some(seconds);
            let k = i64::from(seconds);
            let now = Instant::from_secs(base + k);
            metrics.set(counter, 0, k);
            metrics.done(counter, now);
            metrics.set(sensor_chart, 0, sensor(k));
            metrics.done(sensor_chart, now);
        }
        let status = exporter.poll(metrics);
        let uart = &mut exporter.transport_mut().0;
        if uart.left == 0 {
            let _ = uart.flush();
            let c = exporter.counters();
            hprintln!(
                "backhaul-demo: {} lines sent, {} lost; stack high-water mark {} bytes",
                lines,
                c.lost,
                backhaul_firmware::stack::peak()
            );
            host::exit(true);
        }
        if !status.blocked {
            // Sleep until the next SysTick: the exporter's deadlines are whole seconds.
            cortex_m::asm::wfi();
        }
    }
}

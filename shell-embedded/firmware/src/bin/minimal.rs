//! The smallest useful backhaul image: the core and the embedded driver, nothing else
//! (no semihosting, no self-monitoring, no cycle counter). One chart of one dimension,
//! collected every second from SysTick and exported as Graphite lines on UART0, with
//! the wall clock starting at 0 (a real board would set it from its RTC or the network).
//!
//! `scripts/embedded-footprint.sh` builds it for thumbv6m-none-eabi and
//! thumbv7em-none-eabihf and reports its size: the fixed cost of backhaul in a firmware.

#![no_std]
#![no_main]

use core::ptr::addr_of_mut;
use core::sync::atomic::Ordering;

use backhaul_embedded::time::Instant;
use backhaul_embedded::{Algorithm, ChartDef, DimDef, Exporter, HostMeta, Metrics, Ready};
use backhaul_firmware::{start_systick, SysTickClock, Uart0, SECONDS};
use cortex_m_rt::{entry, exception};
use panic_halt as _;

/// One chart of one dimension, one minute of points.
const CHARTS: usize = 1;
const DIMS: usize = 1;
const SLOTS: usize = 60;
/// The send buffer: one worst-case line and then some.
const SEND_BUFFER: usize = 512;

static mut METRICS: Metrics<'static, CHARTS, DIMS, SLOTS> = Metrics::new();
static mut SEND: [u8; SEND_BUFFER] = [0; SEND_BUFFER];

#[exception]
fn SysTick() {
    backhaul_firmware::tick();
}

#[entry]
fn main() -> ! {
    let mut core = cortex_m::Peripherals::take().expect("taken once");
    // SAFETY: `main` runs once and is the only user of these statics.
    let metrics = unsafe { &mut *addr_of_mut!(METRICS) };
    let send = unsafe { &mut *addr_of_mut!(SEND) };
    let chart = metrics
        .add_chart(
            &ChartDef::new("board.uptime", "board", "board.uptime", "seconds"),
            &[DimDef::new("uptime", Algorithm::Absolute, 1, 1)],
        )
        .expect("room for one chart");
    let host = HostMeta {
        prefix: "netdata",
        hostname: "board",
        tags: "",
    };
    start_systick(&mut core.SYST);
    let mut exporter = Exporter::graphite(host, send, Ready(Uart0::enable()), SysTickClock::new(0));
    let mut collected = None;
    loop {
        let seconds = SECONDS.load(Ordering::Acquire);
        if collected != Some(seconds) {
            collected = Some(seconds);
            metrics.set(chart, 0, i64::from(seconds));
            metrics.done(chart, Instant::from_secs(i64::from(seconds)));
        }
        if !exporter.poll(metrics).blocked {
            cortex_m::asm::wfi();
        }
    }
}

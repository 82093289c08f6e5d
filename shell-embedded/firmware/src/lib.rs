//! Board support for backhaul's firmware images on the TI Stellaris LM3S6965 (qemu's
//! `lm3s6965evb`), and for the footprint images on any Cortex-M:
//!
//! * [`Uart0`]: the PL011 UART0 as an [`embedded_io::Write`] + [`embedded_io::WriteReady`]
//!   (its transmit FIFO is the readiness);
//! * [`SysTickClock`] and [`SysTickCycles`]: a wall clock (a Unix-time base plus SysTick
//!   seconds) and a cycle counter from SysTick, the board's side of
//!   [`backhaul_embedded::Clock`] and [`backhaul_embedded::CycleCounter`];
//! * [`host`]: what the demo asks the host through semihosting (the time, its command
//!   line, the exit);
//! * [`stack`]: the stack's high-water mark (paint at boot, measure later).
//!
//! This is the only place with `unsafe` code: register accesses and semihosting calls.

#![no_std]
#![deny(missing_docs)]

use core::convert::Infallible;
use core::sync::atomic::{AtomicU32, Ordering};

use backhaul_embedded::time::Instant;
use backhaul_embedded::{Clock, CycleCounter};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;

/// SysTick's clock: the core clock of qemu's lm3s6965evb out of reset (12.5 MHz, from
/// the reset value of the RCC register). SysTick interrupts once a second.
pub const SYSCLK_HZ: u32 = 12_500_000;

/// Whole seconds since SysTick started, counted by the SysTick exception handler
/// (which the firmware binary defines: `SECONDS.store(SECONDS.load() + 1)`; only that
/// handler writes it, so no read-modify-write atomics are needed, which a Cortex-M0
/// lacks).
pub static SECONDS: AtomicU32 = AtomicU32::new(0);

/// Counts one second; call it from the SysTick exception handler.
pub fn tick() {
    SECONDS.store(
        SECONDS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Starts SysTick on the core clock with one interrupt a second.
pub fn start_systick(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSCLK_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Seconds since SysTick started, and the cycles elapsed in the current second, read
/// consistently (again if the second changed in between).
#[must_use]
pub fn elapsed() -> (u32, u32) {
    loop {
        let seconds = SECONDS.load(Ordering::Acquire);
        let current = SYST::get_current();
        if SECONDS.load(Ordering::Acquire) == seconds {
            // SysTick counts down from SYSCLK_HZ - 1.
            return (seconds, (SYSCLK_HZ - 1).saturating_sub(current));
        }
    }
}

/// The wall clock: a Unix-time base (read from the host at boot) plus SysTick's time.
#[derive(Clone, Copy, Debug)]
pub struct SysTickClock {
    base_secs: i64,
}

impl SysTickClock {
    /// A clock that reads `base_secs` (Unix seconds) when SysTick starts.
    #[must_use]
    pub const fn new(base_secs: i64) -> Self {
        Self { base_secs }
    }
}

impl Clock for SysTickClock {
    fn now(&mut self) -> Instant {
        let (seconds, cycles) = elapsed();
        let micros = u64::from(cycles) * 1_000_000 / u64::from(SYSCLK_HZ);
        Instant::from_micros((self.base_secs + i64::from(seconds)) * 1_000_000 + micros as i64)
    }
}

/// SysTick as a free-running cycle counter (it wraps every 343 s, which is fine: the
/// exporter only subtracts readings taken within one call).
#[derive(Clone, Copy, Debug, Default)]
pub struct SysTickCycles;

impl CycleCounter for SysTickCycles {
    fn cycles(&mut self) -> u32 {
        let (seconds, cycles) = elapsed();
        seconds.wrapping_mul(SYSCLK_HZ).wrapping_add(cycles)
    }

    fn frequency_hz(&self) -> u32 {
        SYSCLK_HZ
    }
}

/// The LM3S6965's UART0, an ARM PL011, with its reset settings (qemu sends the bytes to
/// whatever `-serial` says, at no particular baud rate).
#[derive(Debug)]
pub struct Uart0 {
    _private: (),
}

const UART0: usize = 0x4000_C000;
const DR: usize = 0x000;
const FR: usize = 0x018;
const CR: usize = 0x030;
const FR_BUSY: u32 = 1 << 3;
const FR_TXFF: u32 = 1 << 5;
const FR_TXFE: u32 = 1 << 7;
const CR_UARTEN: u32 = 1 << 0;
const CR_TXE: u32 = 1 << 8;

impl Uart0 {
    /// Enables the UART's transmitter. Call once.
    #[must_use]
    pub fn enable() -> Self {
        let cr = Self::read(CR);
        Self::write_reg(CR, cr | CR_UARTEN | CR_TXE);
        Self { _private: () }
    }

    fn read(offset: usize) -> u32 {
        // SAFETY: a PL011 register of the LM3S6965, always mapped; reads have no side
        // effect on FR and CR.
        unsafe { ((UART0 + offset) as *const u32).read_volatile() }
    }

    fn write_reg(offset: usize, value: u32) {
        // SAFETY: a PL011 register of the LM3S6965, always mapped; only this type
        // writes to UART0.
        unsafe { ((UART0 + offset) as *mut u32).write_volatile(value) }
    }

    fn tx_full() -> bool {
        Self::read(FR) & FR_TXFF != 0
    }

    /// Whether every byte written has left the UART.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        let fr = Self::read(FR);
        fr & FR_TXFE != 0 && fr & FR_BUSY == 0
    }
}

impl embedded_io::ErrorType for Uart0 {
    type Error = Infallible;
}

impl embedded_io::Write for Uart0 {
    /// Writes the bytes that fit in the transmit FIFO, waiting for room for the first
    /// one only.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for &b in buf {
            if Self::tx_full() {
                if n > 0 {
                    break;
                }
                while Self::tx_full() {}
            }
            Self::write_reg(DR, u32::from(b));
            n += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        while !self.is_idle() {}
        Ok(())
    }
}

impl embedded_io::WriteReady for Uart0 {
    fn write_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!Self::tx_full())
    }
}

pub mod host {
    //! What the demo asks the host, through ARM semihosting (qemu:
    //! `-semihosting-config enable=on,target=native`).

    use cortex_m_semihosting::{debug, nr, syscall1};

    /// The host's time, in Unix seconds (`SYS_TIME`).
    #[must_use]
    pub fn unix_time() -> i64 {
        // SAFETY: SYS_TIME takes no argument block.
        let t = unsafe { syscall1(nr::TIME, 0) };
        t as i64
    }

    /// The last word of the command line (`SYS_GET_CMDLINE`; qemu:
    /// `-semihosting-config arg=...`) as a number, or `default`.
    #[must_use]
    pub fn last_arg_number(default: u32) -> u32 {
        let mut buf = [0u8; 128];
        let mut block = [buf.as_mut_ptr() as usize, buf.len()];
        // SAFETY: the block names a buffer we own, of its true length; the host writes
        // at most that many bytes, then the length into the block.
        let status = unsafe { syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) };
        if status != 0 {
            return default;
        }
        let len = block[1].min(buf.len());
        let text = &buf[..len];
        let text = text.split(|&b| b == 0).next().unwrap_or(&[]);
        let last = text
            .split(|b| b.is_ascii_whitespace())
            .rfind(|w| !w.is_empty())
            .unwrap_or(&[]);
        let mut n: u32 = 0;
        for &d in last {
            if !d.is_ascii_digit() {
                return default;
            }
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u32::from(d - b'0')))
            {
                Some(n) => n,
                None => return default,
            };
        }
        if last.is_empty() {
            default
        } else {
            n
        }
    }

    /// Ends the emulation with exit status 0 (`ok`) or 1.
    pub fn exit(ok: bool) -> ! {
        debug::exit(if ok {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
        #[allow(clippy::empty_loop)]
        loop {}
    }
}

pub mod stack {
    //! The stack's high-water mark: [`paint`] the free RAM below the stack at boot,
    //! [`peak`] measures how deep the stack has reached since.
    //!
    //! cortex-m-rt puts the statics at the bottom of RAM and the stack at the top,
    //! growing down towards `__sheap` (the end of the statics).

    const PATTERN: u32 = 0xACE0_BA5E;
    /// Bytes below the current stack pointer left unpainted (the painting's own frame).
    const MARGIN: usize = 256;

    extern "C" {
        static mut __sheap: u32;
        static _stack_start: u32;
    }

    fn bounds() -> (usize, usize) {
        // Only the addresses of the linker's symbols are taken.
        (
            core::ptr::addr_of!(__sheap) as usize,
            core::ptr::addr_of!(_stack_start) as usize,
        )
    }

    /// Fills the RAM between the statics and the stack with a pattern. Call it first
    /// thing in `main`, before any interrupt is enabled.
    pub fn paint() {
        let (bottom, _) = bounds();
        let sp = cortex_m::register::msp::read() as usize;
        let mut at = bottom;
        while at + 4 <= sp.saturating_sub(MARGIN) {
            // SAFETY: free RAM between the statics and the live stack, not in use by
            // anything else before interrupts are enabled.
            unsafe { (at as *mut u32).write_volatile(PATTERN) };
            at += 4;
        }
    }

    /// The deepest the stack has been since [`paint`], in bytes.
    #[must_use]
    pub fn peak() -> usize {
        let (bottom, top) = bounds();
        let mut at = bottom;
        while at < top {
            // SAFETY: RAM between the statics and the top of the stack, read only.
            if unsafe { (at as *const u32).read_volatile() } != PATTERN {
                break;
            }
            at += 4;
        }
        top - at
    }
}

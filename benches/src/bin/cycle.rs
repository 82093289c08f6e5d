//! backhaul's side of `scripts/bench-compare.sh`: the export cycles of the C baseline
//! (`anchors/baseline.c`) with backhaul's formatters, timed, counted and checked the same
//! way.
//!
//! ```text
//! cycle bench [MODE|all] [CYCLES]  ns per metric, like `baseline bench` ("name value" lines)
//! cycle cg MODE [CYCLES]           a warm-up cycle, then CYCLES (2) cycles inside
//!                                  `measured_cycles`, for
//!                                  valgrind --tool=callgrind --toggle-collect='*measured_cycles*'
//! cycle rw [CYCLES]                remote write: encode + snappy, ns per sample
//! cycle cg-rw [CYCLES]             a warm-up request, then CYCLES (2) inside `measured_rw`
//! cycle allocs [CYCLES]            heap allocations per cycle after a warm-up cycle
//! ```
//!
//! Modes: `graphite_stored graphite_collected opentsdb_stored opentsdb_collected
//! json_stored json_collected`. A cycle formats the 10,000 metrics of the shared
//! population into one buffer allocated before the first cycle; a stored cycle also
//! reads each metric's window from its ring and averages it, as netdata does.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use backhaul_benches::cycle::{self, Mode, Output};
use backhaul_benches::population::Population;
use backhaul_benches::wire::RemoteWrite;

/// Counts every allocation and reallocation of the process.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; counting only bumps
// an atomic, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// The cycles callgrind counts (`--toggle-collect='*measured_cycles*'`): `k` export
/// cycles of `mode` into `out`. Returns the number of records written.
#[inline(never)]
fn measured_cycles(pop: &Population, mode: Mode, out: &mut Output, k: usize) -> usize {
    let mut n = 0;
    for _ in 0..k {
        n += cycle::export(black_box(pop), mode, out);
    }
    black_box(out.len());
    n
}

/// The remote-write requests callgrind counts (`--toggle-collect='*measured_rw*'`): `k`
/// times encode + snappy. Returns the number of samples.
#[inline(never)]
fn measured_rw(rw: &mut RemoteWrite<'_>, k: usize) -> usize {
    let mut n = 0;
    for _ in 0..k {
        black_box(rw.cycle());
        n += rw.samples();
    }
    n
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ns_since(t0: Instant) -> f64 {
    t0.elapsed().as_nanos() as f64
}

/// `baseline bench`: two warm-up cycles, then `cycles` timed one by one; the median and
/// the fastest cycle per metric, the bytes per metric and the throughput.
fn bench(pop: &Population, modes: &[Mode], cycles: usize) {
    let mut out = Output::for_cycle();
    let mut times = vec![0.0; cycles];
    for &mode in modes {
        for _ in 0..2 {
            cycle::export(pop, mode, &mut out);
        }
        let (mut n, mut bytes) = (0, 0);
        for t in &mut times {
            let t0 = Instant::now();
            n = cycle::export(black_box(pop), mode, &mut out);
            *t = ns_since(t0) / n as f64;
            bytes = black_box(out.len());
        }
        let med = median(&mut times);
        let name = mode.name();
        println!("{name}_ns_per_metric {med:.1}");
        println!("{name}_min_ns_per_metric {:.1}", times[0]);
        println!("{name}_bytes_per_metric {:.2}", bytes as f64 / n as f64);
        println!("{name}_MB_per_s {:.1}", bytes as f64 / n as f64 / med * 1e3);
    }
}

/// Remote write: a warm-up request, then `cycles` timed requests (encode, then snappy,
/// each timed); medians per sample.
fn bench_rw(pop: &Population, cycles: usize) {
    let mut rw = RemoteWrite::new(pop);
    rw.cycle();
    let samples = rw.samples() as f64;
    let (mut encode, mut snappy, mut total) =
        (vec![0.0; cycles], vec![0.0; cycles], vec![0.0; cycles]);
    for i in 0..cycles {
        let t0 = Instant::now();
        black_box(rw.encode());
        let t1 = Instant::now();
        black_box(rw.compress());
        let (e, s) = ((t1 - t0).as_nanos() as f64, ns_since(t1));
        encode[i] = e / samples;
        snappy[i] = s / samples;
        total[i] = (e + s) / samples;
    }
    println!("rw_ns_per_sample {:.1}", median(&mut total));
    println!("rw_min_ns_per_sample {:.1}", total[0]);
    println!("rw_encode_ns_per_sample {:.1}", median(&mut encode));
    println!("rw_snappy_ns_per_sample {:.1}", median(&mut snappy));
    println!(
        "rw_request_bytes_per_sample {:.2}",
        rw.request().len() as f64 / samples
    );
    println!(
        "rw_body_bytes_per_sample {:.2}",
        rw.body().len() as f64 / samples
    );
}

/// Allocations per cycle of every mode and of remote write, after one warm-up cycle.
fn count_allocations(pop: &Population, cycles: usize) {
    let mut out = Output::for_cycle();
    for mode in Mode::ALL {
        cycle::export(pop, mode, &mut out);
        let before = allocations();
        measured_cycles(pop, mode, &mut out, cycles);
        let n = allocations() - before;
        println!(
            "{}_allocs_per_cycle {}",
            mode.name(),
            n as f64 / cycles as f64
        );
    }
    let mut rw = RemoteWrite::new(pop);
    rw.cycle();
    let before = allocations();
    measured_rw(&mut rw, cycles);
    let n = allocations() - before;
    println!("rw_allocs_per_cycle {}", n as f64 / cycles as f64);
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "cycle: {problem}\n\
         usage: cycle bench [MODE|all] [CYCLES]\n       \
         cycle cg MODE [CYCLES]\n       \
         cycle rw [CYCLES]\n       \
         cycle cg-rw [CYCLES]\n       \
         cycle allocs [CYCLES]\n\
         modes: {}",
        Mode::ALL.map(Mode::name).join(" ")
    );
    ExitCode::from(2)
}

/// A cycle count argument (at least 1), or `default`.
fn count(arg: Option<&&str>, default: usize) -> Option<usize> {
    match arg {
        None => Some(default),
        Some(s) => s.parse().ok().filter(|&n| n > 0),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some((&cmd, rest)) = args.split_first() else {
        return usage("no command");
    };
    if rest.len() > 2 {
        return usage("too many arguments");
    }
    match cmd {
        "bench" => {
            let modes: Vec<Mode> = match rest.first() {
                None | Some(&"all") => Mode::ALL.to_vec(),
                Some(name) => match Mode::from_name(name) {
                    Some(m) => vec![m],
                    None => return usage(&format!("unknown mode '{name}'")),
                },
            };
            let Some(cycles) = count(rest.get(1), 21) else {
                return usage("CYCLES must be a positive number");
            };
            bench(&Population::new(), &modes, cycles);
        }
        "cg" => {
            let Some(mode) = rest.first().and_then(|m| Mode::from_name(m)) else {
                return usage("cg needs a MODE");
            };
            let Some(k) = count(rest.get(1), 2) else {
                return usage("CYCLES must be a positive number");
            };
            let pop = Population::new();
            let mut out = Output::for_cycle();
            cycle::export(&pop, mode, &mut out);
            let n = measured_cycles(&pop, mode, &mut out, k);
            eprintln!("metrics {n}");
        }
        "rw" | "cg-rw" | "allocs" => {
            if rest.len() > 1 {
                return usage("too many arguments");
            }
            let default = if cmd == "rw" { 21 } else { 2 };
            let Some(k) = count(rest.first(), default) else {
                return usage("CYCLES must be a positive number");
            };
            let pop = Population::new();
            match cmd {
                "rw" => bench_rw(&pop, k),
                "allocs" => count_allocations(&pop, k),
                _ => {
                    let mut rw = RemoteWrite::new(&pop);
                    rw.cycle();
                    let n = measured_rw(&mut rw, k);
                    eprintln!("samples {n}");
                }
            }
        }
        _ => return usage(&format!("unknown command '{cmd}'")),
    }
    ExitCode::SUCCESS
}

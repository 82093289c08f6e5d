use backhaul_benches::cycle::{self, Mode, Output};
use backhaul_benches::population::Population;

#[inline(never)]
fn measured_cycles(pop: &Population, mode: Mode, out: &mut Output, k: usize) -> usize {
    let mut n = 0;
    for _ in 0..k {
        n += cycle::export(pop, mode, out);
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = Mode::from_name(&args[2]).unwrap();
    let pop = Population::new();
    let mut out = Output::for_cycle();
    cycle::export(&pop, mode, &mut out);
    let k: usize = args.get(3).map_or(2, |s| s.parse().unwrap());
    let n = measured_cycles(&pop, mode, &mut out, k);
    eprintln!("metrics {n}");
}

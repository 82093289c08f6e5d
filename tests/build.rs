//! Declares `cfg(exhaustive)`, which turns on the all-2^32-words test:
//! `RUSTFLAGS='--cfg exhaustive' cargo test --release -p backhaul-tests --test exhaustive`.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(exhaustive)");
}

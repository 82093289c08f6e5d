//! The CPU time of the calling thread, for the `netdata.backend_thread_cpu` chart.

/// User and system CPU time of the calling thread, in microseconds
/// (`getrusage(RUSAGE_THREAD)`), or zeros if the kernel refuses.
pub fn thread_cpu_us() -> (u64, u64) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one `rusage` through the pointer, which points to a live,
    // properly aligned value owned by this frame.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    if rc != 0 {
        return (0, 0);
    }
    let us = |t: libc::timeval| {
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0)
    };
    (us(usage.ru_utime), us(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows() {
        let (u0, s0) = super::thread_cpu_us();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        // Spin (the work goes through black_box so that no optimiser removes it) until
        // the kernel has charged this thread some CPU time; give up after 5 s.
        loop {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            let (u1, s1) = super::thread_cpu_us();
            if u1 + s1 > u0 + s0 {
                break;
            }
            assert!(
                start.elapsed().as_secs() < 5,
                "no CPU time charged after 5 s of work"
            );
        }
    }
}

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
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let (u1, s1) = super::thread_cpu_us();
        assert!(u1 + s1 > u0 + s0);
    }
}

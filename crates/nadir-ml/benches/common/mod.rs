//! What the plain-`main` benches share: their thread pools and the process's CPU time.
//! Each bench is its own crate and uses only some of it, hence the `dead_code` allowance.
#![allow(dead_code)]

/// One pool per thread count, built before any timing: a pool's threads ending mid-run would
/// drop their CPU time from the process's sum.
pub fn thread_pools(counts: &[usize]) -> Vec<(usize, rayon::ThreadPool)> {
    counts
        .iter()
        .map(|&threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            (threads, pool)
        })
        .collect()
}

/// CPU seconds the process's threads have run so far (Linux: the first field of each
/// thread's `schedstat`, in nanoseconds). Unlike wall time, it does not grow while other
/// processes hold the cores, so it stays comparable on a busy machine; scikit-learn's side
/// reads the same thing through `time.process_time()`. NaN where `/proc` is missing.
pub fn process_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    let nanoseconds: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanoseconds as f64 * 1e-9
}

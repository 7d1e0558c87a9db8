use clap::Parser;
use jumpcloud_operator::cli::Cli;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    Cli::parse().run()
}

/// A collection and an evaluation allocate and free many small records on several threads;
/// with glibc's default of one arena per thread (up to 8 per core) the freed memory stays behind
/// in other threads' arenas and the peak grows by half or more. One arena keeps the collect of
/// an org L within its bounds (BENCHMARKS.md: 51-55 MiB collecting, 73-75 MiB in all, against
/// 55-65 and 75-88 MiB with two) at no measurable cost in time: the work is network-bound and
/// the evaluation runs on one thread. `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called first thing in main, before any other thread exists; mallopt only
        // adjusts the allocator's tuning and returns 0 on failure, which leaves the defaults.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

use clap::Parser;
use jumpcloud_operator::cli::Cli;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    Cli::parse().run()
}

/// Evaluating the controls of a large org parses hundreds of MB of records on blocking threads
/// and frees them phase by phase; with glibc's default of one arena per thread (up to 8 per
/// core) the freed memory stays behind in other threads' arenas and the peak nearly doubles
/// (org L: 520 MiB by default, 300-400 MiB with two arenas; BENCHMARKS.md). `MALLOC_ARENA_MAX` in
/// the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called first thing in main, before any other thread exists; mallopt only
        // adjusts the allocator's tuning and returns 0 on failure, which leaves the defaults.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

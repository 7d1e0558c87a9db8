//! Standard output of the subcommands. A reader that stops early (`report | head`) closes the
//! pipe: the rest of the output is dropped and the command finishes its work and exits with its
//! own code (0, or `--fail-on`'s), instead of panicking in `println!` (exit 101). SIGPIPE stays
//! ignored, as Rust sets it: a socket reset while the client writes must stay an error the
//! retries see, not a signal that ends the process. Any other write error (a full disk behind
//! `> file`) is reported once and turns the exit code into 1: output that was lost is never a
//! success.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicU8, Ordering};

const OPEN: u8 = 0;
const CLOSED: u8 = 1;
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(OPEN);

/// `println!` for the subcommands' output.
macro_rules! outln {
    () => {
        $crate::cli::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the subcommands' output.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!($($arg)*))
    };
}

/// Writes to stdout unless an earlier write found it closed or broken.
pub fn write(args: fmt::Arguments<'_>) {
    if STATE.load(Ordering::Relaxed) != OPEN {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        record(&error);
    }
}

fn record(error: &std::io::Error) {
    if error.kind() == ErrorKind::BrokenPipe {
        STATE.store(CLOSED, Ordering::Relaxed);
    } else {
        STATE.store(FAILED, Ordering::Relaxed);
        eprintln!("error: cannot write to standard output: {error}");
    }
}

/// Whether output was lost to an error other than a reader that went away.
pub fn failed() -> bool {
    STATE.load(Ordering::Relaxed) == FAILED
}

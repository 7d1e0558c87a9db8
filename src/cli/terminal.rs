//! How the CLI behaves towards what is on the other end of stdout and stderr: a pipe closed
//! early (`| head`), and a log read by a person on a terminal or by a program from a file.

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Logs carry colour only for a person: stderr is a terminal and `NO_COLOR` (no-color.org)
/// is unset or empty. A file or a pipe gets plain text, with no escape codes to strip.
pub fn log_colour() -> bool {
    colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

fn colour(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

/// A reader that stops early (`report | head`) closes the pipe: the command then ends as other
/// Unix tools do, by SIGPIPE (the shell shows 141), instead of panicking on the failed print
/// (exit 101 with a backtrace hint). Rust ignores SIGPIPE by default; this restores the default
/// for the commands whose output is meant for pipes. Sockets are unaffected: the standard
/// library sends with MSG_NOSIGNAL, so a peer closing a connection is still an error, not a
/// signal. The operator (`run`) and commands that spawn or serve keep SIGPIPE ignored.
pub fn end_quietly_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called before the runtime starts any thread; resetting a signal's disposition to
    // its default has no other effect on the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}

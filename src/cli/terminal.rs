//! Whether the CLI's logs are read by a person on a terminal or by a program from a file.

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

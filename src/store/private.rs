//! Local stores are private to the user running the process: evidence is full of personal
//! data (names, e-mail addresses, devices), so other users of the machine must not read it.
//!
//! Opening a local store adds `077` to the process umask: every directory the process creates
//! from then on is 0700 and every file 0600, whoever creates it (object_store's
//! `LocalFileSystem` writes a staging file and renames it; a chmod after each write would
//! leave a window at the umask's mode, and a crash in that window would leave the file so).
//! The price: everything else the process writes afterwards is private too (`report --out`
//! files, CSV directories), which suits files derived from the same personal data. A store
//! directory that already exists keeps its own mode. S3 stores leave the umask alone.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Group and other permission bits, which nothing of the store's may carry.
const NOT_OWNER: u32 = 0o077;

/// Makes every file and directory the process creates from now on private to its user.
pub(crate) fn restrict_umask() {
    // SAFETY: umask(2) has no preconditions and cannot fail; it only sets the process's file
    // mode creation mask (read and written back, so bits already set stay set).
    unsafe {
        let current = libc::umask(NOT_OWNER);
        libc::umask(current | NOT_OWNER);
    }
}

/// Logs a warning when a secret's file (an API key, a signing key) can be read by its group
/// or by others. Names the file and its mode, never its content.
pub fn warn_if_exposed(path: &Path, what: &str) {
    let Ok(metadata) = std::fs::metadata(path) else {
        return; // Reading it reports the error.
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & NOT_OWNER != 0 {
        tracing::warn!(
            file = %path.display(),
            mode = %format!("{mode:04o}"),
            "the {what} file is readable by group or others; restrict it with `chmod 600 {}`",
            path.display()
        );
    }
}

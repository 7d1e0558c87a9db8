//! Where large blobs are spooled while written: a folder of this process,
//! `$TMPDIR/jumpcloud-operator-spool-<uid>/<pid>-<start time>/`, created 0700 and removed at
//! exit ([`remove_own`]). A process killed with SIGKILL cannot remove it, so every process
//! that opens a store first sweeps the folders of processes that no longer exist (a pid whose
//! start time differs is another process: the pid was reused).

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// This process's spool folder, once created.
static OWN: Mutex<Option<PathBuf>> = Mutex::new(None);
static SWEEP: Once = Once::new();

/// The folder every process of this user spools under.
fn parent() -> PathBuf {
    // SAFETY: getuid(2) has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("jumpcloud-operator-spool-{uid}"))
}

/// When process `pid` started (clock ticks since boot, field 22 of `/proc/<pid>/stat`), or
/// `None` when there is no such process.
fn process_start(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn own_name() -> Option<String> {
    let pid = std::process::id();
    Some(format!("{pid}-{}", process_start(&pid.to_string())?))
}

/// Removes the folders under `parent` whose process is gone; leaves live processes' folders
/// and anything not named `<pid>-<start>`. Returns the folders removed.
pub(crate) fn sweep(parent: &Path) -> Vec<PathBuf> {
    // Without /proc no process can be told alive: remove nothing.
    if own_name().is_none() {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some((pid, start)) = name.to_str().and_then(|n| n.split_once('-')) else {
            continue;
        };
        let (Ok(_), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
            continue;
        };
        if process_start(pid) == Some(start) {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => removed.push(entry.path()),
            Err(error) => tracing::warn!(
                folder = %entry.path().display(),
                "cannot remove the spool folder of an ended process: {error}"
            ),
        }
    }
    removed
}

/// Sweeps the spool folders of ended processes, once per process.
pub(crate) fn sweep_once() {
    SWEEP.call_once(|| {
        for folder in sweep(&parent()) {
            tracing::info!(folder = %folder.display(), "removed the spool folder of an ended process");
        }
    });
}

/// This process's spool folder, created (0700) on first use.
pub(crate) fn own_dir() -> std::io::Result<PathBuf> {
    let mut own = OWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(dir) = own.as_ref() {
        return Ok(dir.clone());
    }
    sweep_once();
    let name = own_name().unwrap_or_else(|| format!("{}-0", std::process::id()));
    let dir = parent().join(name);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    *own = Some(dir.clone());
    Ok(dir)
}

/// The spool folder for error messages: this process's, or where it would be.
pub(crate) fn describe() -> String {
    let own = OWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    own.clone().unwrap_or_else(parent).display().to_string()
}

/// Removes this process's spool folder (at exit; spool files of finished blobs are gone
/// already, so it is empty unless a write is still in progress).
pub fn remove_own() {
    let own = OWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(dir) = own {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_folders_of_ended_processes_only() {
        let parent = tempfile::tempdir().unwrap();
        let own = own_name().expect("/proc on Linux");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        let (pid, _) = own.split_once('-').unwrap();
        let folders = [
            own.clone(),                 // live: kept
            format!("{dead_pid}-12345"), // ended: swept
            format!("{pid}-1"),          // the pid reused by another process: swept
            "not-a-spool".to_owned(),    // not ours to judge: kept
        ];
        for folder in &folders {
            std::fs::create_dir_all(parent.path().join(folder).join("inner")).unwrap();
            std::fs::write(parent.path().join(folder).join("spool.tmp"), b"records").unwrap();
        }
        let mut removed = sweep(parent.path());
        removed.sort();
        let mut expected = vec![
            parent.path().join(&folders[1]),
            parent.path().join(&folders[2]),
        ];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(parent.path().join(&folders[0]).join("spool.tmp").exists());
        assert!(parent.path().join(&folders[3]).exists());
        assert!(!parent.path().join(&folders[1]).exists());
    }
}

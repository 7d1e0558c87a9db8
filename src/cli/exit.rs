//! One table of exit codes for every subcommand (README "Exit codes"), so a script can tell
//! the same condition apart the same way whichever command met it. 0 is success.

use crate::controls::{ControlResult, ControlStatus};
use crate::store::StoreError;

/// The operation failed or found a problem (a store that cannot be read, evidence that does not
/// verify, a report that cannot be written).
pub const FAILED: u8 = 1;
/// Bad arguments: a flag, a key, settings or signing-key file, a store URL, a snapshot or
/// connection that the arguments do not name unambiguously. Also clap's own code.
pub const USAGE: u8 = 2;
/// `collect`: the key was rejected or is not allowed (401/403, organization selection).
pub const KEY_REJECTED: u8 = 3;
/// `collect`: incomplete, inconsistent or malformed data from the API.
pub const BAD_DATA: u8 = 4;
/// `collect`: JumpCloud unavailable after retries.
pub const UNAVAILABLE: u8 = 5;
/// `collect`: the snapshot could not be stored.
pub const NOT_STORED: u8 = 6;
/// Nothing to act on: the store (or the chosen connection) holds no snapshot.
pub const NOTHING: u8 = 7;
/// `--fail-on`: controls fail (or are in error), after the work was done and committed.
pub const CONTROLS_FAILING: u8 = 8;

/// The code of a store error met by a command that reads the store.
pub fn of_store(error: &StoreError) -> u8 {
    match error {
        StoreError::NoSnapshots(_) => NOTHING,
        StoreError::InvalidUrl { .. }
        | StoreError::InvalidConnection(_)
        | StoreError::NoStore { .. }
        | StoreError::Open { .. }
        | StoreError::Key { .. }
        | StoreError::ChooseConnection(_)
        | StoreError::UnknownSnapshot(_)
        | StoreError::AmbiguousSnapshot(_) => USAGE,
        _ => FAILED,
    }
}

/// When control results end a CI step with [`CONTROLS_FAILING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A control fails.
    Failing,
    /// A control fails or could not be evaluated (error).
    Error,
}

impl FailOn {
    /// The controls that trip this threshold, by id.
    pub fn tripped(self, results: &[ControlResult]) -> Vec<&str> {
        results
            .iter()
            .filter(|result| match self {
                FailOn::Failing => result.status == ControlStatus::Fail,
                FailOn::Error => {
                    matches!(result.status, ControlStatus::Fail | ControlStatus::Error)
                }
            })
            .map(|result| result.id.as_str())
            .collect()
    }
}

/// The code `--fail-on` asks for, with the message naming the controls that tripped it.
pub fn fail_on(threshold: Option<FailOn>, results: &[ControlResult]) -> Option<(u8, String)> {
    let threshold = threshold?;
    let tripped = threshold.tripped(results);
    (!tripped.is_empty()).then(|| {
        (
            CONTROLS_FAILING,
            format!(
                "--fail-on {}: {} control(s) {}: {}",
                match threshold {
                    FailOn::Failing => "failing",
                    FailOn::Error => "error",
                },
                tripped.len(),
                match threshold {
                    FailOn::Failing => "fail",
                    FailOn::Error => "fail or are in error",
                },
                tripped.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: ControlStatus) -> ControlResult {
        ControlResult {
            id: id.to_owned(),
            title: String::new(),
            status,
            summary: String::new(),
            evaluated: 0,
            failing: Vec::new(),
            notes: Vec::new(),
            references: crate::controls::References {
                mapping: String::new(),
                soc2: Vec::new(),
                iso27001: Vec::new(),
            },
            thresholds: Default::default(),
            evidence_kinds: Vec::new(),
        }
    }

    #[test]
    fn fail_on_failing_ignores_errors_and_fail_on_error_counts_both() {
        let results = [
            result("A", ControlStatus::Pass),
            result("B", ControlStatus::Error),
            result("C", ControlStatus::NotApplicable),
        ];
        assert_eq!(fail_on(Some(FailOn::Failing), &results), None);
        let (code, message) = fail_on(Some(FailOn::Error), &results).unwrap();
        assert_eq!(code, CONTROLS_FAILING);
        assert!(message.contains(": B"), "{message}");
        let failing = [
            result("A", ControlStatus::Fail),
            result("B", ControlStatus::Error),
        ];
        let (_, message) = fail_on(Some(FailOn::Failing), &failing).unwrap();
        assert!(message.ends_with("1 control(s) fail: A"), "{message}");
        assert_eq!(fail_on(None, &failing), None);
    }

    #[test]
    fn an_empty_store_is_nothing_to_act_on_and_a_bad_url_a_usage_error() {
        assert_eq!(of_store(&StoreError::NoSnapshots("x".into())), NOTHING);
        assert_eq!(of_store(&StoreError::NoStore { url: "x".into() }), USAGE);
        assert_eq!(of_store(&StoreError::Evidence("x".into())), FAILED);
    }
}

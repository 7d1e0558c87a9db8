//! Policy reports, the act side: which report APIs the cluster serves (asked once at start by
//! API discovery), and a connection's report written after each sync that evaluated the
//! controls, only when its content changed. A report that cannot be written is a warning in the
//! log: the evidence is committed and the status written already, so neither the sync nor
//! `Ready` depends on it.

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};

use super::FIELD_MANAGER;
use crate::crd::JumpCloudConnection;
use crate::report::policy_report::{
    CONTENT_HASH_ANNOTATION, ConnectionRef, ReportInput, ReportKind, build, report_name,
    stored_hash,
};

/// Which report kinds to write (`run --policy-reports`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyReportMode {
    /// Every kind whose CRD the cluster serves (both when both are installed).
    #[default]
    Auto,
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport` only.
    #[value(name = "policyreport")]
    PolicyReport,
    /// `openreports.io/v1alpha1` `Report` only.
    #[value(name = "openreports")]
    OpenReports,
    /// Both kinds.
    Both,
    /// No reports.
    Off,
}

impl PolicyReportMode {
    fn wanted(self) -> &'static [ReportKind] {
        match self {
            PolicyReportMode::Auto | PolicyReportMode::Both => &ReportKind::ALL,
            PolicyReportMode::PolicyReport => &[ReportKind::PolicyReport],
            PolicyReportMode::OpenReports => &[ReportKind::OpenReports],
            PolicyReportMode::Off => &[],
        }
    }
}

/// Whether the cluster serves `kind` (its group version lists the resource).
async fn served(client: &Client, kind: ReportKind) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(&kind.api_version()).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == kind.plural())),
        // The code, not the reason text.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(error) => Err(error),
    }
}

/// What discovery found for one wanted kind.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Served(ReportKind),
    Missing(ReportKind),
    /// Discovery failed (not a 404): the kind is not written until a restart.
    Unknown(ReportKind, String),
}

/// The one start-up line about policy reports: whether it is a warning, and its text.
fn startup_line(mode: PolicyReportMode, found: &[Found]) -> (bool, String) {
    let served: Vec<String> = found
        .iter()
        .filter_map(|f| match f {
            Found::Served(kind) => Some(kind.to_string()),
            _ => None,
        })
        .collect();
    let unknown: Vec<String> = found
        .iter()
        .filter_map(|f| match f {
            Found::Unknown(kind, error) => Some(format!("{kind}: {error}")),
            _ => None,
        })
        .collect();
    let missing: Vec<String> = found
        .iter()
        .filter_map(|f| match f {
            Found::Missing(kind) => Some(format!("{kind} ({})", kind.version())),
            _ => None,
        })
        .collect();
    if mode == PolicyReportMode::Off {
        return (
            false,
            "policy reports off (--policy-reports off)".to_owned(),
        );
    }
    let writing = if served.is_empty() {
        "policy reports off".to_owned()
    } else {
        format!("writing policy reports: {}", served.join(", "))
    };
    if !unknown.is_empty() {
        return (
            true,
            format!(
                "{writing}; cannot tell whether the API server serves {}; restart the operator to ask again",
                unknown.join("; ")
            ),
        );
    }
    match (served.is_empty(), mode) {
        (true, PolicyReportMode::Auto) => (
            false,
            "policy reports off: neither the PolicyReport CRD (policyreports.wgpolicyk8s.io, v1alpha2) nor the OpenReports CRD (reports.openreports.io, v1alpha1) is installed; install one (e.g. with Kyverno or Policy Reporter) and restart the operator".to_owned(),
        ),
        // `auto` asks for whatever is installed: a missing kind is no problem.
        (false, PolicyReportMode::Auto) => (false, writing),
        (_, _) if !missing.is_empty() => (
            true,
            format!(
                "{writing}; the CRD of {} is not installed (--policy-reports {}); install it and restart the operator",
                missing.join(", "),
                mode.name()
            ),
        ),
        (_, _) => (false, writing),
    }
}

impl PolicyReportMode {
    /// The flag value (`policyreport`, ...).
    fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// The report kinds to write, from the mode and the CRDs served now, with one log line saying
/// what was chosen (and, when something is missing, what to install). Asked once: after
/// installing a report CRD, restart the operator.
pub async fn discover(client: &Client, mode: PolicyReportMode) -> Vec<ReportKind> {
    let mut found = Vec::new();
    for &kind in mode.wanted() {
        found.push(match served(client, kind).await {
            Ok(true) => Found::Served(kind),
            Ok(false) => Found::Missing(kind),
            Err(error) => Found::Unknown(kind, error.to_string()),
        });
    }
    match startup_line(mode, &found) {
        (true, line) => tracing::warn!("{line}"),
        (false, line) => tracing::info!("{line}"),
    }
    found
        .into_iter()
        .filter_map(|f| match f {
            Found::Served(kind) => Some(kind),
            _ => None,
        })
        .collect()
}

fn api_resource(kind: ReportKind) -> ApiResource {
    ApiResource {
        group: kind.group().to_owned(),
        version: kind.version().to_owned(),
        api_version: kind.api_version(),
        kind: kind.kind().to_owned(),
        plural: kind.plural().to_owned(),
    }
}

/// Writes the connection's report of every kind in `kinds` whose stored content differs
/// (by [`CONTENT_HASH_ANNOTATION`]) from `input`'s, by server-side apply. Failures are logged.
pub async fn publish(
    client: &Client,
    kinds: &[ReportKind],
    connection: &JumpCloudConnection,
    input: &ReportInput,
) {
    let (Some(namespace), Some(uid)) = (connection.namespace(), connection.uid()) else {
        return;
    };
    let reference = ConnectionRef {
        api_version: JumpCloudConnection::api_version(&()).into_owned(),
        kind: JumpCloudConnection::kind(&()).into_owned(),
        namespace: namespace.clone(),
        name: connection.name_any(),
        uid,
    };
    let name = report_name(&reference.name);
    for &kind in kinds {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &api_resource(kind));
        let desired = build(kind, &reference, input);
        let stored = match api.get_opt(&name).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, report = %kind, name, "cannot read the policy report; not written (the sync and status are not affected)");
                continue;
            }
        };
        let unchanged = stored.as_ref().is_some_and(|stored| {
            stored
                .annotations()
                .get(CONTENT_HASH_ANNOTATION)
                .map(String::as_str)
                == stored_hash(&desired)
        });
        if unchanged {
            tracing::debug!(report = %kind, name, "policy report unchanged");
            continue;
        }
        match api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&desired),
            )
            .await
        {
            Ok(_) => tracing::info!(report = %kind, name, "policy report written"),
            Err(error) => {
                tracing::warn!(%error, report = %kind, name, "cannot write the policy report (the sync and status are not affected)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_with_neither_crd_says_what_to_install() {
        let (warn, line) = startup_line(
            PolicyReportMode::Auto,
            &[
                Found::Missing(ReportKind::PolicyReport),
                Found::Missing(ReportKind::OpenReports),
            ],
        );
        assert!(!warn);
        assert!(line.starts_with("policy reports off"), "{line}");
        assert!(
            line.contains("policyreports.wgpolicyk8s.io")
                && line.contains("reports.openreports.io")
        );
        assert!(line.contains("restart the operator"));
    }

    #[test]
    fn auto_writes_what_is_installed_without_a_warning() {
        let (warn, line) = startup_line(
            PolicyReportMode::Auto,
            &[
                Found::Served(ReportKind::PolicyReport),
                Found::Missing(ReportKind::OpenReports),
            ],
        );
        assert!(!warn);
        assert_eq!(line, "writing policy reports: policyreports.wgpolicyk8s.io");
    }

    #[test]
    fn an_explicit_kind_without_its_crd_is_a_warning() {
        let (warn, line) = startup_line(
            PolicyReportMode::Both,
            &[
                Found::Served(ReportKind::PolicyReport),
                Found::Missing(ReportKind::OpenReports),
            ],
        );
        assert!(warn);
        assert!(
            line.contains(
                "reports.openreports.io (v1alpha1) is not installed (--policy-reports both)"
            ),
            "{line}"
        );
    }

    #[test]
    fn a_failed_discovery_is_a_warning_naming_the_error() {
        let (warn, line) = startup_line(
            PolicyReportMode::Auto,
            &[
                Found::Unknown(ReportKind::PolicyReport, "HTTP 500".to_owned()),
                Found::Served(ReportKind::OpenReports),
            ],
        );
        assert!(warn);
        assert!(
            line.starts_with("writing policy reports: reports.openreports.io"),
            "{line}"
        );
        assert!(
            line.contains("policyreports.wgpolicyk8s.io: HTTP 500"),
            "{line}"
        );
    }

    #[test]
    fn off_asks_nothing() {
        assert!(PolicyReportMode::Off.wanted().is_empty());
        assert_eq!(
            startup_line(PolicyReportMode::Off, &[]),
            (
                false,
                "policy reports off (--policy-reports off)".to_owned()
            )
        );
    }
}

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

/// The report kinds to write, from the mode and the CRDs served now, with one log line saying
/// what was chosen (and, when nothing is written, what to install). Asked once: after
/// installing a report CRD, restart the operator.
pub async fn discover(client: &Client, mode: PolicyReportMode) -> Vec<ReportKind> {
    if mode == PolicyReportMode::Off {
        tracing::info!("policy reports off (--policy-reports off)");
        return Vec::new();
    }
    let mut kinds = Vec::new();
    let mut missing = Vec::new();
    for &kind in mode.wanted() {
        match served(client, kind).await {
            Ok(true) => kinds.push(kind),
            Ok(false) => missing.push(format!("{kind} ({})", kind.version())),
            Err(error) => missing.push(format!("{kind} (discovery failed: {error})")),
        }
    }
    let missing = missing.join(", ");
    let written: Vec<String> = kinds.iter().map(ToString::to_string).collect();
    match (kinds.is_empty(), mode) {
        (true, PolicyReportMode::Auto) => tracing::info!(
            missing,
            "policy reports off: neither the PolicyReport CRD (policyreports.wgpolicyk8s.io) nor the OpenReports CRD (reports.openreports.io) is installed; install one (e.g. with Kyverno or Policy Reporter) and restart the operator"
        ),
        (true, _) => tracing::warn!(
            missing,
            "policy reports off: the CRD of --policy-reports is not installed; install it and restart the operator"
        ),
        (false, _) if !missing.is_empty() && mode != PolicyReportMode::Auto => tracing::warn!(
            written = ?written,
            missing,
            "writing some of the policy reports asked for: a CRD of --policy-reports is not installed; install it and restart the operator"
        ),
        (false, _) => tracing::info!(written = ?written, "writing policy reports"),
    }
    kinds
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

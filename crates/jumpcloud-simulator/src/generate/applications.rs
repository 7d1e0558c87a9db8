//! SSO applications (SAML, some with certificates about to expire) and who they are bound to:
//! user groups by the app's audience, plus a few users directly.

use rand::Rng;
use serde_json::{Value, json};

use super::Draws;
use super::draw::{days, fmt_ts, pick, random_between};
use super::users::UserPlan;
use crate::names::SSO_APPS;

/// The applications' records, and per application its user groups and direct users (indexes).
pub(super) struct Applications {
    pub(super) records: Vec<Value>,
    pub(super) groups: Vec<Vec<usize>>,
    pub(super) direct: Vec<Vec<usize>>,
}

pub(super) fn generate(cx: &mut Draws, users: &[UserPlan]) -> Applications {
    let (now, org_created, org_id) = (cx.now, cx.org_created, cx.org_id.as_str());
    let mut applications = Vec::with_capacity(cx.size.applications);
    let mut app_groups: Vec<Vec<usize>> = Vec::new();
    let mut app_direct: Vec<Vec<usize>> = Vec::new();
    for a in 0..cx.size.applications {
        let (slug_name, display) = if let Some((slug_name, display)) = SSO_APPS.get(a) {
            (slug_name.to_string(), display.to_string())
        } else {
            let n = a - SSO_APPS.len() + 1;
            (
                format!("internal-tool-{n:03}"),
                format!("Internal Tool {n:03}"),
            )
        };
        let cert_days: i64 = match a {
            2 => 9,
            4 => 25,
            5 => -3,
            _ => 60 + pick(&mut cx.rng, 900) as i64,
        };
        let created = random_between(&mut cx.rng, org_created, now - days(60));
        let cert_updated = now + days(cert_days) - days(3 * 365);
        let wanted_groups: Vec<usize> = match slug_name.as_str() {
            "slack" | "google-workspace" | "zoom" | "1password" | "notion" | "miro" | "workday" => {
                vec![0]
            }
            "github" | "aws-identity-center" | "datadog" | "atlassian" | "snowflake" => vec![1],
            "salesforce" | "hubspot" | "docusign" => vec![2, 3],
            "zendesk" => vec![4],
            "tableau" => vec![11],
            "figma" | "asana" => vec![7],
            _ => vec![if cx.size.user_groups > 0 {
                pick(&mut cx.rng, cx.size.user_groups)
            } else {
                0
            }],
        };
        let groups: Vec<usize> = wanted_groups
            .into_iter()
            .filter(|&g| g < cx.size.user_groups)
            .collect();
        let direct_count = if users.is_empty() {
            0
        } else {
            cx.rng.random_range(0..4)
        };
        let mut direct: Vec<usize> = (0..direct_count)
            .map(|_| pick(&mut cx.rng, users.len()))
            .collect();
        direct.sort_unstable();
        direct.dedup();
        let app_id = cx.ids.next_id();
        applications.push(json!({
            "_id": app_id, "id": app_id, "name": slug_name, "displayName": display, "displayLabel": display,
            "description": "", "active": a % 13 != 12, "beta": false, "created": fmt_ts(created),
            "organization": org_id,
            "ssoUrl": format!("https://sso.jumpcloud.com/saml2/{slug_name}"),
            "learnMore": "", "color": "", "logo": {"url": format!("https://cdn.jumpcloud.com/logos/{slug_name}.png"), "color": ""},
            "sso": {"type": "saml", "jit": a % 5 == 1, "hidden": false,
                    "idpCertExpirationAt": fmt_ts(now + days(cert_days)),
                    // No SP certificate was ever uploaded: `spCertificateUpdatedAt` (a documented
                    // string) is left out, not null.
                    "idpCertificateUpdatedAt": fmt_ts(cert_updated)},
            "config": {"acsUrl": {"type": "text", "label": "ACS URL", "value": format!("https://{slug_name}.example.com/saml/acs")},
                       "idpEntityId": {"type": "text", "label": "IdP Entity ID", "value": format!("https://sso.jumpcloud.com/{org_id}/{slug_name}")},
                       "spEntityId": {"type": "text", "label": "SP Entity ID", "value": format!("https://{slug_name}.example.com")},
                       "constantAttributes": {"type": "list", "value": []}},
        }));
        app_groups.push(groups);
        app_direct.push(direct);
    }
    Applications {
        records: applications,
        groups: app_groups,
        direct: app_direct,
    }
}

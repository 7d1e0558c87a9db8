//! Authentication (conditional access) policies: MFA for the portal, a monitor-only pilot, a
//! country block and a disabled legacy rule.

use serde_json::{Value, json};

use super::{Draws, Rec, to_rec};

pub(super) fn generate(
    cx: &mut Draws,
    ug_ids: &[String],
    fixed_groups: usize,
    app_ids: &[String],
) -> Vec<Rec> {
    let contractors = if fixed_groups - 1 < ug_ids.len() {
        vec![ug_ids[fixed_groups - 1].clone()]
    } else {
        vec![]
    };
    let first_app = app_ids.first().cloned();
    let authn = [
        json!({"name": "Require MFA for the User Portal", "disabled": false, "monitorOnly": false, "type": "user_portal",
               "effect": {"action": "allow", "obligations": {"mfa": {"required": true}, "mfaFactors": [{"type": "TOTP"}, {"type": "WEBAUTHN"}, {"type": "PUSH"}], "userVerification": {"requirement": "optional"}}},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": contractors}, "resources": [{"type": "user_portal"}]},
               "conditions": {}}),
        json!({"name": "MFA for SSO applications (pilot)", "disabled": false, "monitorOnly": true, "type": "application",
               "effect": {"action": "allow", "obligations": {"mfa": {"required": true}, "mfaFactors": [{"type": "PUSH"}], "userVerification": {"requirement": "optional"}}},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": []}, "resources": first_app.iter().map(|id| json!({"type": "application", "id": id})).collect::<Vec<_>>(), "excludedApplications": []},
               "conditions": {}}),
        json!({"name": "Block sign-ins from outside allowed countries", "disabled": false, "monitorOnly": false, "type": "user_portal",
               "effect": {"action": "deny"},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": []}, "resources": [{"type": "user_portal"}]},
               "conditions": {"not": {"locationIn": {"countries": ["US", "GB", "DE", "IN", "CA"]}}}}),
        json!({"name": "LDAP requires MFA (legacy)", "disabled": true, "monitorOnly": false, "type": "ldap",
               "effect": {"action": "allow", "obligations": {"mfa": {"required": true}, "mfaFactors": [{"type": "PUSH"}]}},
               "targets": {"users": {"inclusions": ["ALL"]}, "userGroups": {"exclusions": []}, "resources": [{"type": "ldap"}]},
               "conditions": {}}),
    ];

    authn
        .into_iter()
        .map(|mut p| {
            if let Value::Object(m) = &mut p {
                m.insert("id".into(), json!(cx.ids.next_id()));
            }
            to_rec(&p)
        })
        .collect()
}

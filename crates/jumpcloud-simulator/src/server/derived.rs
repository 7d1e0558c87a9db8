//! Documented routes answered from records generated for other routes: a user group's direct
//! members (`/api/v2/usergroups/{id}/members`, from its membership) and a device's policy
//! results (`/api/v2/systems/{id}/policystatuses`, from every policy's statuses). Both are v2
//! lists: a bare array with the total in `x-total-count`.

use super::*;

/// `GET /api/v2/usergroups/{id}/members`: the group's direct members as graph connections
/// (`{to: {id, type}}`). Every generated member is direct, so the members are the membership's
/// objects, without their paths.
pub(super) fn user_group_members(org: &Org, id: &str, query: &str) -> Reply {
    let Some(membership) = org.usergroup_membership.get(id) else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: no object with id {id}"),
        );
    };
    let connections: Vec<String> = membership
        .iter()
        .filter_map(|record| serde_json::from_str::<Value>(record).ok())
        .map(|member| json!({"to": {"id": member["id"], "type": member["type"]}}).to_string())
        .collect();
    bare_list(connections.iter().map(String::as_str), query, 100)
}

/// `GET /api/v2/systems/{id}/policystatuses`: the device's latest result of each policy bound
/// to it, in id order like the other v2 lists. A device that does not exist is 404, although
/// the statuses of deleted devices stay listed under their policies.
pub(super) fn system_policy_statuses(org: &Org, id: &str, query: &str) -> Reply {
    let system_key = format!("\"_id\":\"{id}\"");
    if !is_object_id(id) || !org.systems.iter().any(|s| s.contains(&system_key)) {
        return Reply::error(
            StatusCode::NOT_FOUND,
            &format!("Not Found: no system with id {id}"),
        );
    }
    let status_key = format!("\"systemID\":\"{id}\"");
    let mut statuses: Vec<(String, &str)> = org
        .policies
        .iter()
        .flat_map(|policy| policy.statuses.iter())
        .filter(|status| status.contains(&status_key))
        .map(|status| {
            let id = serde_json::from_str::<Value>(status)
                .ok()
                .and_then(|value| value["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            (id, &**status)
        })
        .collect();
    statuses.sort();
    bare_list(statuses.iter().map(|(_, status)| *status), query, 100)
}

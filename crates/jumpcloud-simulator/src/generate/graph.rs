//! The graph API's answers (`/api/v2/.../associations`, `memberof`, members): group members,
//! application bindings both ways, a user's systems (with sudo), apps and groups.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::Rec;
use super::applications::Applications;
use super::groups::{DeviceGroups, UserGroups, ug_is_sudo};
use super::systems::{Os, SystemPlan};
use super::users::UserPlan;

// Graph records are the bulk of a large org (hundreds of thousands): they are written with
// `format!` instead of through `serde_json::Value`. Ids are hex and kinds are constants, so no
// escaping is needed. Keys are in the same (sorted) order serde_json would use.

fn graph_path(hops: &[(&str, &str)], last_attributes: &str) -> String {
    let n = hops.len();
    let mut out = String::from("[");
    for (i, (id, kind)) in hops.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let attributes = if i + 1 == n { last_attributes } else { "null" };
        out.push_str(&format!(
            r#"{{"attributes":{attributes},"to":{{"attributes":null,"id":"{id}","type":"{kind}"}}}}"#
        ));
    }
    out.push(']');
    out
}

fn graph_object(id: &str, kind: &str, paths: Vec<String>, compiled: &str) -> Rec {
    format!(
        r#"{{"compiledAttributes":{compiled},"id":"{id}","paths":[{}],"type":"{kind}"}}"#,
        paths.join(",")
    )
    .into_boxed_str()
}

fn sudo_attributes(sudo: bool, without_password: bool) -> &'static str {
    match (sudo, without_password) {
        (false, _) => "null",
        (true, false) => r#"{"sudo":{"enabled":true,"withoutPassword":false}}"#,
        (true, true) => r#"{"sudo":{"enabled":true,"withoutPassword":true}}"#,
    }
}

/// Every graph answer, by the id it is asked for, plus what the later kinds need.
pub(super) struct Graph {
    pub(super) ug_ids: Vec<String>,
    pub(super) app_ids: Vec<String>,
    /// Per user, the systems (indexes) they are bound to.
    pub(super) user_system_links: Vec<Vec<usize>>,
    pub(super) usergroup_membership: HashMap<String, Vec<Rec>>,
    pub(super) systemgroup_membership: HashMap<String, Vec<Rec>>,
    pub(super) app_users: HashMap<String, Vec<Rec>>,
    pub(super) app_usergroups: HashMap<String, Vec<Rec>>,
    pub(super) user_systems: HashMap<String, Vec<Rec>>,
    pub(super) user_apps: HashMap<String, Vec<Rec>>,
    pub(super) user_memberof: HashMap<String, Vec<Rec>>,
}

/// Draws nothing: the bindings were drawn with the groups and applications.
pub(super) fn build(
    users: &[UserPlan],
    systems: &[SystemPlan],
    ugs: &UserGroups,
    dgs: &DeviceGroups,
    apps: &Applications,
) -> Graph {
    let (user_groups, group_members, fixed_groups) = (&ugs.records, &ugs.members, ugs.fixed);
    let (system_groups, system_group_members) = (&dgs.records, &dgs.members);
    let (applications, app_groups, app_direct) = (&apps.records, &apps.groups, &apps.direct);
    let group_id =
        |g: usize, groups: &[Value]| groups[g]["id"].as_str().unwrap_or_default().to_string();
    let ug_ids: Vec<String> = (0..user_groups.len())
        .map(|g| group_id(g, user_groups))
        .collect();
    let sg_ids: Vec<String> = (0..system_groups.len())
        .map(|g| group_id(g, system_groups))
        .collect();
    let app_ids: Vec<String> = applications
        .iter()
        .map(|a| a["_id"].as_str().unwrap_or_default().to_string())
        .collect();

    let mut user_groups_of: Vec<Vec<usize>> = vec![Vec::new(); users.len()];
    let mut usergroup_membership = HashMap::with_capacity(user_groups.len());
    for (g, members) in group_members.iter().enumerate() {
        let sudo = ug_is_sudo(g, fixed_groups);
        let recs = members
            .iter()
            .map(|&u| {
                user_groups_of[u].push(g);
                graph_object(
                    &users[u].id,
                    "user",
                    vec![graph_path(&[(&ug_ids[g], "user_group")], "null")],
                    sudo_attributes(sudo, false),
                )
            })
            .collect();
        usergroup_membership.insert(ug_ids[g].clone(), recs);
    }
    let mut systemgroup_membership = HashMap::with_capacity(system_groups.len());
    for (g, members) in system_group_members.iter().enumerate() {
        let recs = members
            .iter()
            .map(|&s| {
                graph_object(
                    &systems[s].id,
                    "system",
                    vec![graph_path(&[(&sg_ids[g], "system_group")], "null")],
                    "null",
                )
            })
            .collect();
        systemgroup_membership.insert(sg_ids[g].clone(), recs);
    }

    // user -> apps (direct or through a group), app -> users, app -> groups
    let mut user_app_paths: Vec<BTreeMap<usize, Vec<String>>> =
        (0..users.len()).map(|_| BTreeMap::new()).collect();
    let mut app_users = HashMap::with_capacity(applications.len());
    let mut app_usergroups = HashMap::with_capacity(applications.len());
    for a in 0..applications.len() {
        let mut by_user: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for &g in &app_groups[a] {
            // The same path serves both directions (user -> app and app -> user).
            let path = graph_path(
                &[(&ug_ids[g], "user_group"), (&app_ids[a], "application")],
                "null",
            );
            for &u in &group_members[g] {
                by_user.entry(u).or_default().push(path.clone());
                user_app_paths[u].entry(a).or_default().push(path.clone());
            }
        }
        let direct_path = graph_path(&[(&app_ids[a], "application")], "null");
        for &u in &app_direct[a] {
            by_user.entry(u).or_default().push(direct_path.clone());
            user_app_paths[u]
                .entry(a)
                .or_default()
                .push(direct_path.clone());
        }
        let recs = by_user
            .into_iter()
            .map(|(u, paths)| graph_object(&users[u].id, "user", paths, "null"))
            .collect();
        app_users.insert(app_ids[a].clone(), recs);
        let group_recs = app_groups[a]
            .iter()
            .map(|&g| {
                graph_object(
                    &ug_ids[g],
                    "user_group",
                    vec![graph_path(&[(&app_ids[a], "application")], "null")],
                    "null",
                )
            })
            .collect();
        app_usergroups.insert(app_ids[a].clone(), group_recs);
    }

    // user -> systems: owned devices, plus a few sudo admins on every shared Linux server
    let mut user_system_links: Vec<Vec<usize>> = vec![Vec::new(); users.len()];
    let sudo_users: Vec<usize> = (0..users.len()).filter(|&u| users[u].sudo).collect();
    for (si, s) in systems.iter().enumerate() {
        if let Some(u) = s.owner {
            user_system_links[u].push(si);
        } else if s.os == Os::Linux && !sudo_users.is_empty() {
            for k in 0..2 {
                let u = sudo_users[(si + k * 7) % sudo_users.len()];
                if !user_system_links[u].contains(&si) {
                    user_system_links[u].push(si);
                }
            }
        }
    }
    let mut user_systems = HashMap::with_capacity(users.len());
    let mut user_apps = HashMap::with_capacity(users.len());
    let mut user_memberof = HashMap::with_capacity(users.len());
    for (u, plan) in users.iter().enumerate() {
        let attrs = sudo_attributes(plan.sudo, plan.passwordless_sudo);
        let mut links = user_system_links[u].clone();
        links.sort_unstable();
        let recs = links
            .iter()
            .map(|&si| {
                graph_object(
                    &systems[si].id,
                    "system",
                    vec![graph_path(&[(&systems[si].id, "system")], attrs)],
                    attrs,
                )
            })
            .collect();
        user_systems.insert(plan.id.clone(), recs);
        let app_recs = std::mem::take(&mut user_app_paths[u])
            .into_iter()
            .map(|(a, paths)| graph_object(&app_ids[a], "application", paths, "null"))
            .collect();
        user_apps.insert(plan.id.clone(), app_recs);
        let group_recs = user_groups_of[u]
            .iter()
            .map(|&g| {
                graph_object(
                    &ug_ids[g],
                    "user_group",
                    vec![graph_path(&[(&ug_ids[g], "user_group")], "null")],
                    sudo_attributes(ug_is_sudo(g, fixed_groups), false),
                )
            })
            .collect();
        user_memberof.insert(plan.id.clone(), group_recs);
    }
    Graph {
        ug_ids,
        app_ids,
        user_system_links,
        usergroup_membership,
        systemgroup_membership,
        app_users,
        app_usergroups,
        user_systems,
        user_apps,
        user_memberof,
    }
}

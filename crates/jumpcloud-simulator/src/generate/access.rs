//! Who may log in to each device (`GET /api/v2/systems/{id}/users`): the users bound to it
//! directly and through a user group bound to one of its device groups, with the sudo each path
//! grants.
//!
//! Derived from the plans and bindings drawn before, read-only; the few draws it makes come
//! from its own stream ([`ACCESS_STREAM`]), so every earlier kind keeps its draws and a seed's
//! org is unchanged. The model:
//! - direct user -> device bindings are the ones `/api/v2/users/{id}/systems` answers, with the
//!   same attributes (a user's own sudo flags);
//! - IT Admins (the sudo group) is bound to "Linux Servers" and grants sudo through its
//!   `attributes.sudo`;
//! - the Finance department group is bound to Finance Devices, no sudo (its members with their
//!   own sudo flag have sudo there, though);
//! - one project team (when the org has any) is bound to a drawn small device group (at most a
//!   tenth of the devices) with sudo set on the binding itself.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::Rec;
use super::draw::pick;
use super::graph::Graph;
use super::groups::{DeviceGroups, UserGroups, ug_is_sudo};
use super::systems::SystemPlan;
use super::users::UserPlan;

/// Xored into the seed for this module's own random stream.
const ACCESS_STREAM: u64 = 0x5359_5354_454d_5553;

#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Sudo {
    enabled: bool,
    without_password: bool,
}

impl Sudo {
    fn json(self) -> String {
        format!(
            r#"{{"sudo":{{"enabled":{},"withoutPassword":{}}}}}"#,
            self.enabled, self.without_password
        )
    }

    fn attributes(self) -> String {
        if self.enabled {
            self.json()
        } else {
            "null".to_owned()
        }
    }

    fn or(self, other: Sudo) -> Sudo {
        Sudo {
            enabled: self.enabled || other.enabled,
            without_password: self.without_password || other.without_password,
        }
    }
}

/// A user group bound to a device group, and the sudo the binding grants.
struct GroupBinding {
    user_group: usize,
    device_group: usize,
    sudo: Sudo,
}

fn hop(id: &str, kind: &str, attributes: &str) -> String {
    format!(
        r#"{{"attributes":{attributes},"to":{{"attributes":null,"id":"{id}","type":"{kind}"}}}}"#
    )
}

/// `/api/v2/systems/{id}/users` of every device, by device id.
pub(super) fn system_users(
    seed: u64,
    users: &[UserPlan],
    systems: &[SystemPlan],
    ugs: &UserGroups,
    dgs: &DeviceGroups,
    graph: &Graph,
) -> HashMap<String, Vec<Rec>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ACCESS_STREAM);
    let name_of = |records: &[Value], name: &str| {
        records
            .iter()
            .position(|record| record["name"].as_str() == Some(name))
    };
    let id_of = |records: &[Value], index: usize| {
        records[index]["id"].as_str().unwrap_or_default().to_owned()
    };
    let mut bindings = Vec::new();
    let mut bind = |user_group: Option<usize>, device_group: Option<usize>, sudo: Sudo| {
        if let (Some(user_group), Some(device_group)) = (user_group, device_group) {
            bindings.push(GroupBinding {
                user_group,
                device_group,
                sudo,
            });
        }
    };
    let admins = (ugs.fixed >= 2 && ugs.records.len() > ugs.fixed - 2).then(|| ugs.fixed - 2);
    let group_sudo = |g: usize| Sudo {
        enabled: ug_is_sudo(g, ugs.fixed),
        without_password: false,
    };
    bind(
        admins,
        name_of(&dgs.records, "Linux Servers"),
        admins.map(group_sudo).unwrap_or_default(),
    );
    bind(
        name_of(&ugs.records, "Finance"),
        name_of(&dgs.records, "Finance Devices"),
        Sudo::default(),
    );
    // A project team with sudo on a small device group (at most a tenth of the devices).
    let small: Vec<usize> = (0..dgs.records.len())
        .filter(|&g| !dgs.members[g].is_empty() && dgs.members[g].len() * 10 <= systems.len())
        .collect();
    if ugs.records.len() > ugs.fixed && !small.is_empty() {
        let team = ugs.fixed + pick(&mut rng, ugs.records.len() - ugs.fixed);
        let devices = small[pick(&mut rng, small.len())];
        bind(
            Some(team),
            Some(devices),
            Sudo {
                enabled: true,
                without_password: false,
            },
        );
    }

    // Per device, per user: the paths reaching it and the sudo they grant.
    let mut access: Vec<BTreeMap<usize, (Vec<String>, Sudo)>> =
        vec![BTreeMap::new(); systems.len()];
    for (u, links) in graph.user_system_links.iter().enumerate() {
        let sudo = Sudo {
            enabled: users[u].sudo,
            without_password: users[u].sudo && users[u].passwordless_sudo,
        };
        for &s in links {
            let path = format!("[{}]", hop(&systems[s].id, "system", &sudo.attributes()));
            let entry = access[s].entry(u).or_default();
            entry.0.push(path);
            entry.1 = entry.1.or(sudo);
        }
    }
    for binding in &bindings {
        let (ug, dg) = (binding.user_group, binding.device_group);
        let (ug_id, dg_id) = (id_of(&ugs.records, ug), id_of(&dgs.records, dg));
        let sudo = binding.sudo.or(group_sudo(ug));
        for &s in &dgs.members[dg] {
            let path = format!(
                "[{},{},{}]",
                hop(&ug_id, "user_group", "null"),
                hop(&dg_id, "system_group", &sudo.attributes()),
                hop(&systems[s].id, "system", "null")
            );
            for &u in &ugs.members[ug] {
                let entry = access[s].entry(u).or_default();
                entry.0.push(path.clone());
                entry.1 = entry.1.or(sudo);
            }
        }
    }
    systems
        .iter()
        .zip(access)
        .map(|(system, by_user)| {
            let recs = by_user
                .into_iter()
                .map(|(u, (paths, sudo))| {
                    format!(
                        r#"{{"compiledAttributes":{},"id":"{}","paths":[{}],"type":"user"}}"#,
                        sudo.json(),
                        users[u].id,
                        paths.join(",")
                    )
                    .into_boxed_str()
                })
                .collect();
            (system.id.clone(), recs)
        })
        .collect()
}

//! Commands (`GET /api/commands`) and their targets (`/api/v2/commands/{id}/systems`,
//! `/systemgroups`): what is run on devices, for change-management evidence.
//!
//! The list carries no script body (`command`): JumpCloud's list leaves it out and only
//! `GET /api/commands/{id}` returns it, a route the simulator does not serve, as a script can
//! hold secrets. Drawn from its own stream ([`COMMANDS_STREAM`]) and id generator, so every
//! earlier kind keeps its draws and ids.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::Rec;
use super::draw::{ID_EPOCH, IdGen, pick, pick_weighted};
use super::groups::DeviceGroups;
use super::systems::{Os, SystemPlan};

/// Xored into the seed for this module's own random stream.
const COMMANDS_STREAM: u64 = 0x434f_4d4d_414e_4453;

/// Name, OS, shell, whether it runs as root.
const COMMANDS: &[(&str, Os, &str, bool)] = &[
    ("Update packages", Os::Linux, "bash", true),
    ("Rotate application logs", Os::Linux, "bash", true),
    ("Collect diagnostics", Os::Mac, "bash", false),
    ("Install Homebrew bundle", Os::Mac, "zsh", false),
    ("Restart JumpCloud agent", Os::Mac, "bash", true),
    ("Apply Windows updates", Os::Windows, "powershell", false),
    ("Clear temp files", Os::Windows, "cmd", false),
    (
        "Export installed software",
        Os::Windows,
        "powershell",
        false,
    ),
];

/// The commands, and per command id its target devices and device groups.
pub(super) struct Commands {
    pub(super) records: Vec<Rec>,
    pub(super) systems: HashMap<String, Vec<Rec>>,
    pub(super) system_groups: HashMap<String, Vec<Rec>>,
}

fn target(id: &str, kind: &str, via: Option<&str>) -> Rec {
    let direct =
        format!(r#"{{"attributes":null,"to":{{"attributes":null,"id":"{id}","type":"{kind}"}}}}"#);
    let path = match via {
        Some(group) => format!(
            r#"[{{"attributes":null,"to":{{"attributes":null,"id":"{group}","type":"system_group"}}}},{direct}]"#
        ),
        None => format!("[{direct}]"),
    };
    format!(r#"{{"compiledAttributes":null,"id":"{id}","paths":[{path}],"type":"{kind}"}}"#)
        .into_boxed_str()
}

pub(super) fn generate(
    seed: u64,
    org_id: &str,
    systems: &[SystemPlan],
    dgs: &DeviceGroups,
) -> Commands {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ COMMANDS_STREAM);
    let mut ids = IdGen::new(&mut rng, ID_EPOCH);
    let count = (systems.len() / 10).clamp(4, 40);
    let mut records = Vec::with_capacity(count);
    let mut by_system = HashMap::with_capacity(count);
    let mut by_group = HashMap::with_capacity(count);
    for i in 0..count {
        let (name, os, shell, root) = COMMANDS[i % COMMANDS.len()];
        let id = ids.next_id();
        let launch = ["repeated", "one-time", "manual", "trigger"]
            [pick_weighted(&mut rng, &[30, 30, 30, 10])];
        let (repeat, schedule) = match launch {
            "repeated" => match pick(&mut rng, 3) {
                0 => ("hour", "* * * * *"),
                1 => ("day", "0 2 * * *"),
                _ => ("week", "0 3 * * 0"),
            },
            "one-time" => ("", "2026-11-20T02:00:00.000Z"),
            _ => ("", "immediate"),
        };
        let command_type = match os {
            Os::Mac => "mac",
            Os::Windows => "windows",
            Os::Linux => "linux",
        };
        let timeout = ["120", "300", "600"][pick(&mut rng, 3)];
        let trigger = if launch == "trigger" {
            format!("trigger-{}", i + 1)
        } else {
            String::new()
        };
        let user = if root || os == Os::Windows {
            "000000000000000000000000"
        } else {
            ""
        };
        let mut record = json!({
            "_id": id, "name": format!("{name} {:02}", i / COMMANDS.len() + 1),
            "commandType": command_type, "launchType": launch,
            "scheduleRepeatType": repeat, "schedule": schedule,
            "trigger": trigger, "user": user,
            "sudo": root, "shell": shell, "timeout": timeout,
            "organization": org_id,
        });
        if launch != "repeated" {
            // A documented string left out rather than sent empty.
            if let Value::Object(map) = &mut record {
                map.remove("scheduleRepeatType");
            }
        }
        records.push(super::to_rec(&record));

        let same_os: Vec<usize> = (0..systems.len())
            .filter(|&s| systems[s].os == os)
            .collect();
        let mut direct: Vec<usize> = (0..rng.random_range(1..=4))
            .filter(|_| !same_os.is_empty())
            .map(|_| same_os[pick(&mut rng, same_os.len())])
            .collect();
        direct.sort_unstable();
        direct.dedup();
        // Every fourth command also runs on a device group.
        let group =
            (i % 4 == 3 && !dgs.records.is_empty()).then(|| pick(&mut rng, dgs.records.len()));
        let mut targets: Vec<(usize, Option<usize>)> = direct.iter().map(|&s| (s, None)).collect();
        if let Some(g) = group {
            for &s in &dgs.members[g] {
                if !direct.contains(&s) {
                    targets.push((s, Some(g)));
                }
            }
        }
        targets.sort_unstable();
        let group_id = |g: usize| dgs.records[g]["id"].as_str().unwrap_or_default().to_owned();
        let system_recs = targets
            .iter()
            .map(|&(s, via)| target(&systems[s].id, "system", via.map(group_id).as_deref()))
            .collect();
        let group_recs = group
            .map(|g| target(&group_id(g), "system_group", None))
            .into_iter()
            .collect();
        by_system.insert(id.clone(), system_recs);
        by_group.insert(id, group_recs);
    }
    Commands {
        records,
        systems: by_system,
        system_groups: by_group,
    }
}

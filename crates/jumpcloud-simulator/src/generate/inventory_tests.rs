use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::INVENTORY_TABLES;
use crate::OrgSize;
use crate::generate::{Org, generate_org};

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

/// Device id -> osFamily.
fn families(org: &Org) -> BTreeMap<String, String> {
    org.systems
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(r).unwrap();
            (
                v["_id"].as_str().unwrap().to_owned(),
                v["osFamily"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn rows(org: &Org, table: &str) -> Vec<(String, Value)> {
    org.inventory[table]
        .iter()
        .map(|r| (r.system_id.clone(), serde_json::from_str(&r.raw).unwrap()))
        .collect()
}

#[test]
fn every_inventory_table_has_rows_of_the_right_families_sorted_by_system_id() {
    let org = generate_org(42, &OrgSize::medium(), now());
    let families = families(&org);
    let only = |table: &str| -> BTreeSet<String> {
        rows(&org, table)
            .iter()
            .map(|(id, _)| families[id].clone())
            .collect()
    };
    for table in INVENTORY_TABLES {
        let rows = rows(&org, table);
        assert!(!rows.is_empty(), "{table} has no rows");
        assert!(
            rows.windows(2).all(|w| w[0].0 <= w[1].0),
            "{table} is not in system_id order"
        );
        for (id, row) in &rows {
            assert_eq!(row["system_id"], id.as_str(), "{table}");
            assert!(row["collection_time"].is_string(), "{table}");
        }
    }
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(only("patches"), set(&["windows"]));
    assert_eq!(only("programs"), set(&["windows"]));
    assert_eq!(only("tpm_info"), set(&["windows"]));
    assert_eq!(only("apps"), set(&["darwin"]));
    assert_eq!(only("sip_config"), set(&["darwin"]));
    assert_eq!(only("linux_packages"), set(&["linux"]));
    assert_eq!(only("users"), set(&["darwin", "linux", "windows"]));
    for (_, row) in rows(&org, "users") {
        assert!(row["admin"].is_number() && row["managed"].is_number());
    }
    for (_, row) in rows(&org, "patches") {
        let on = row["installed_on"].as_str().unwrap();
        assert!(
            row["hotfix_id"].as_str().unwrap().starts_with("KB") && on.split('/').count() == 3,
            "{row}"
        );
    }
    for (_, row) in rows(&org, "authorized_keys") {
        let key = row["key"].as_str().unwrap();
        assert!(key.starts_with("AAAA") && !key.contains("PRIVATE"), "{key}");
    }
}

#[test]
fn a_few_devices_fail_each_inventory_control() {
    let org = generate_org(42, &OrgSize::medium(), now());
    let devices_with = |table: &str, pred: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        rows(&org, table)
            .into_iter()
            .filter(|(_, r)| pred(r))
            .map(|(id, _)| id)
            .collect()
    };
    let all = |table: &str| devices_with(table, &|_| true);
    let builtin = ["root", "Administrator", "_jumpcloudserviceaccount"];
    let checks = [
        (
            "unlisted local admins",
            devices_with("users", &|r| {
                r["admin"] == 1
                    && r["managed"] == 0
                    && !builtin.contains(&r["username"].as_str().unwrap())
            }),
            all("users"),
        ),
        (
            "SIP off",
            devices_with("sip_config", &|r| {
                r["config_flag"] == "sip" && r["enabled"] == 0
            }),
            all("sip_config"),
        ),
        (
            "Secure Boot off",
            devices_with("secureboot", &|r| r["secure_boot"] == 0),
            all("secureboot"),
        ),
        (
            "peer-to-peer clients",
            devices_with("programs", &|r| {
                r["name"].as_str().unwrap().contains("Torrent")
            })
            .into_iter()
            .chain(devices_with("apps", &|r| r["name"] == "Transmission.app"))
            .chain(devices_with("linux_packages", &|r| {
                r["name"] == "qbittorrent"
            }))
            .collect(),
            all("users"),
        ),
    ];
    for (what, failing, of) in checks {
        assert!(
            !failing.is_empty() && failing.len() * 5 < of.len(),
            "{what}: {} of {}",
            failing.len(),
            of.len()
        );
    }
    // Legacy BIOS: PCs with System Insights but no secureboot row.
    let pcs = all("users").len() - all("sip_config").len();
    let with_secureboot = all("secureboot").len() - all("sip_config").len();
    assert!(with_secureboot < pcs && (pcs - with_secureboot) * 5 < pcs);
}

/// Not a timing: prints the size per device for the report.
#[test]
fn inventory_bytes_per_device() {
    let org = generate_org(42, &OrgSize::medium(), now());
    let devices = org.inventory["users"]
        .iter()
        .map(|r| r.system_id.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    let bytes: usize = org
        .inventory
        .values()
        .flatten()
        .map(|r| r.raw.len() + r.system_id.len())
        .sum();
    println!(
        "inventory tables: {bytes} bytes for {devices} devices with System Insights, {} bytes per device",
        bytes / devices
    );
    assert!(devices > 0);
}

/// The inventory of a fixed seed, pinned like the older kinds' (generate/tests.rs).
#[test]
fn the_generated_inventory_for_a_fixed_seed_is_unchanged() {
    let org = generate_org(42, &OrgSize::small(), now());
    let mut hash = Sha256::new();
    for (table, rows) in &org.inventory {
        for row in rows {
            hash.update(format!("{table} {} {}\n", row.system_id, row.raw));
        }
    }
    assert_eq!(
        hex::encode(hash.finalize()),
        "e4f8715cde06c8f1c4b5945f5b9acd460027942c847ef53d6b139cd3e1b9ea18"
    );
}

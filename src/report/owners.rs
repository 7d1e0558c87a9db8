//! The owner of each device, for device rows of the report: the device's primary user
//! (`primarySystemUser`, the binding JumpCloud keeps on the device), named from the users.

use std::collections::BTreeMap;

use crate::controls::EvidenceSet;
use crate::controls::kinds::{DEVICES, USERS};
use crate::controls::record::Record;

fn text<'a>(record: &'a Record, path: &[&str]) -> Option<&'a str> {
    let mut at = record;
    for key in path {
        at = at.get(key)?;
    }
    at.as_str().filter(|s| !s.is_empty())
}

/// Device id -> its owner in words (`ada (u1)`, or why there is none); `None` when the
/// evidence holds no device records to read the bindings from.
pub fn device_owners(evidence: &EvidenceSet) -> Option<BTreeMap<String, String>> {
    let devices = evidence.records(DEVICES).ok()?;
    // Without user records the owner is still named by id: less readable, never invented.
    let users: Option<BTreeMap<&str, &str>> = evidence.records(USERS).ok().map(|users| {
        users
            .iter()
            .filter_map(|user| {
                let id = text(user, &["_id"]).or_else(|| text(user, &["id"]))?;
                let name = text(user, &["username"]).or_else(|| text(user, &["email"]))?;
                Some((id, name))
            })
            .collect()
    });
    let owners = devices
        .iter()
        .filter_map(|device| {
            let id = text(device, &["_id"]).or_else(|| text(device, &["id"]))?;
            let owner = match text(device, &["primarySystemUser", "id"]) {
                None => "no primary user recorded".to_owned(),
                Some(user) => match users.as_ref().map(|users| users.get(user)) {
                    Some(Some(name)) => format!("{name} ({user})"),
                    Some(None) => format!("{user} (not a user of the directory)"),
                    None => format!("{user} (user records not loaded)"),
                },
            };
            Some((id.to_owned(), owner))
        })
        .collect();
    Some(owners)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_primary_user_or_says_why_not() {
        let evidence = EvidenceSet::default()
            .with_kind(
                DEVICES,
                vec![
                    json!({"_id": "d1", "primarySystemUser": {"id": "u1"}}),
                    json!({"_id": "d2"}),
                    json!({"_id": "d3", "primarySystemUser": {"id": "u9"}}),
                ],
            )
            .with_kind(USERS, vec![json!({"_id": "u1", "username": "ada"})]);
        let owners = device_owners(&evidence).unwrap();
        assert_eq!(owners["d1"], "ada (u1)");
        assert_eq!(owners["d2"], "no primary user recorded");
        assert_eq!(owners["d3"], "u9 (not a user of the directory)");
        assert_eq!(device_owners(&EvidenceSet::default()), None);
    }
}

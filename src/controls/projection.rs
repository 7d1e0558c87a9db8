//! Which record fields the controls read: the loader for evaluations keeps only these of the
//! kinds that grow with the org.

use super::kinds::*;

/// The kinds whose record count grows with the org (one record per user, device, membership,
/// System Insights row, policy result or event): the loader for evaluations keeps only
/// [`FIELDS_READ`] of their records, since parsed JSON takes about ten times its text in memory.
const PROJECTED_KINDS: &[&str] = &[
    USERS,
    DEVICES,
    SI_DISK_ENCRYPTION,
    SI_BITLOCKER,
    SI_ALF,
    SI_SECURITY_CENTER,
    SI_SECURITY_PRODUCTS,
    SI_OS_VERSION,
    SI_PATCHES,
    SI_PROGRAMS,
    SI_APPS,
    SI_LINUX_PACKAGES,
    SI_SIP_CONFIG,
    SI_SECUREBOOT,
    SI_LOCAL_USERS,
    SI_LOCAL_GROUPS,
    SI_LOCAL_USER_GROUPS,
    POLICY_STATUSES,
    USER_GROUP_MEMBERS,
    DEVICE_GROUP_MEMBERS,
    SUSPENDED_USER_SYSTEMS,
    SUSPENDED_USER_APPLICATIONS,
    SUSPENDED_USER_GROUPS,
    DI_EVENTS,
    DEVICE_ACCESS,
    POLICY_RESULTS_HISTORY,
];

/// Every top-level record field a control reads, by the first segment of its path (nested
/// values are kept whole), plus the ids. A test checks every path the catalog reads is covered,
/// and another that evaluating projected records gives the same results as whole ones.
const FIELDS_READ: &[&str] = &[
    "_id",
    "account_locked",
    "activated",
    "active",
    "admin",
    "allowSshPasswordAuthentication",
    "allowSshRootLogin",
    "apiKeyHash",
    "apiKeySet",
    "apiKeyUpdatedAt",
    "attributes",
    "compiledAttributes",
    "configFieldID",
    "configFieldName",
    "configFields",
    "config_flag",
    "created",
    "disabled",
    "displayLabel",
    "displayName",
    "drive_letter",
    "effect",
    "email",
    "enableMaxHistory",
    "enableMaxLoginAttempts",
    "enableMinLength",
    "enableMultiFactor",
    "enablePasswordExpirationInDays",
    "enabled",
    "encrypted",
    "endedAt",
    "event_type",
    "fde",
    "firewall",
    "gid",
    "global_state",
    "groupname",
    "hostname",
    "hotfix_id",
    "id",
    "initiated_by",
    "installed_on",
    "lastContact",
    "major",
    "managed",
    "maxHistory",
    "maxLoginAttempts",
    "mdm",
    "mfa",
    "mfaEnrollment",
    "minLength",
    "monitorOnly",
    "name",
    "os",
    "osFamily",
    "osVersionDetail",
    "passwordExpirationInDays",
    "passwordless_sudo",
    "paths",
    "policyID",
    "primarySystemUser",
    "protection_status",
    "roleName",
    "secure_boot",
    "settings",
    "signatures_up_to_date",
    "sso",
    "state",
    "success",
    "sudo",
    "suspended",
    "systemID",
    "systemInsights",
    "system_id",
    "template",
    "timestamp",
    "to",
    "totpEnrolled",
    "totp_enabled",
    "type",
    "uid",
    "username",
    "value",
    "values",
    "version",
    "withoutPassword",
];

/// For the kinds that grow with the org, the only top-level record fields any control reads
/// (the loader for evaluations keeps just these); `None`: whole records.
pub fn fields_read(kind: &str) -> Option<&'static [&'static str]> {
    PROJECTED_KINDS.contains(&kind).then_some(FIELDS_READ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::catalog::kinds_read;
    use std::collections::BTreeSet;

    /// The first segment of every literal path the catalog passes to a record reader.
    fn literal_paths_read(source: &str) -> BTreeSet<String> {
        let readers = ["at(", "str_at(", "bool_at(", "show(", "time_at(", "f64_at("];
        let mut fields = BTreeSet::new();
        for (offset, _) in source.match_indices('(') {
            let head = &source[..=offset];
            let is_reader = readers.iter().any(|reader| {
                head.ends_with(reader)
                    && !head[..head.len() - reader.len()]
                        .ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if !is_reader {
                continue;
            }
            let args = &source[offset + 1..];
            let Some(close) = args.find(')') else {
                continue;
            };
            let Some((_, path)) = args[..close].split_once(", \"") else {
                continue;
            };
            let path = path.trim_end_matches('"');
            fields.insert(path.split('.').next().unwrap_or(path).to_owned());
        }
        fields
    }

    #[test]
    fn projection_keeps_every_field_the_catalog_reads() {
        // Every file whose code reads records.
        let sources = [
            include_str!("context.rs"),
            include_str!("endpoint.rs"),
            include_str!("identity.rs"),
            include_str!("device_sudo.rs"),
            include_str!("local_accounts.rs"),
            include_str!("platform_integrity.rs"),
            include_str!("patching.rs"),
            include_str!("software.rs"),
        ];
        let read: BTreeSet<String> = sources
            .iter()
            .flat_map(|source| {
                literal_paths_read(source.split("#[cfg(test)]").next().unwrap_or(source))
            })
            .collect();
        assert!(
            read.len() > 40 && read.contains("fde") && read.contains("mfaEnrollment"),
            "the scan of the catalog's source found too few paths: {read:?}"
        );
        let missing: Vec<&String> = read
            .iter()
            .filter(|field| !FIELDS_READ.contains(&field.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "add these to FIELDS_READ, or evaluations will not see them: {missing:?}"
        );
        let mut sorted = FIELDS_READ.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted, FIELDS_READ,
            "FIELDS_READ must stay sorted (binary search)"
        );
        assert!(
            PROJECTED_KINDS
                .iter()
                .all(|kind| kinds_read().contains(kind))
        );
    }
}

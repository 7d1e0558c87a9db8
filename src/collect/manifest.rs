//! The snapshot manifest: what was collected, from where, by which key, and how to verify it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::region::Region;

/// Version of the collection manifest's layout ([`Manifest::format`], a number). Not the stored
/// snapshot manifest's format name, `store::SNAPSHOT_FORMAT`.
pub const COLLECTION_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub collector_version: String,
    pub org: ManifestOrg,
    pub region: Region,
    /// SHA-256 prefix of the API key (never the key).
    pub key_fingerprint: String,
    /// Role of the key's administrator, when `getSelf` answered.
    pub administrator_role: Option<String>,
    pub administrator_key_expires_at: Option<jiff::Timestamp>,
    pub started_at: jiff::Timestamp,
    pub finished_at: jiff::Timestamp,
    /// Window of the Directory Insights events kind.
    pub events_window: EventsWindow,
    /// The window each other history kind collected incrementally (policy results) read
    /// completely this time, by kind; a kind not listed read nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub histories: BTreeMap<String, EventsWindow>,
    pub kinds: Vec<KindEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOrg {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsWindow {
    pub start: jiff::Timestamp,
    pub end: jiff::Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KindStatus {
    /// Every record the API reported is in the file.
    Complete,
    /// The feature is not licensed for the org (HTTP 402); the file is empty. Not a failure.
    NotLicensed,
    /// The route is not available (an undocumented route answered 404 or 405); the file is
    /// empty and `reason` says why. Not a failure of the collection; the controls that need
    /// the kind report an error naming it.
    Unavailable,
    /// Not collected by the settings (device access on an org above the size limit, or set to
    /// `never`); the file is empty and `reason` names the setting, the count and the fix. Not a
    /// failure of the collection; the controls that need the kind report an error naming it.
    Skipped,
}

impl KindStatus {
    /// The name the manifest, the store and the summary use.
    pub fn as_str(self) -> &'static str {
        match self {
            KindStatus::Complete => "complete",
            KindStatus::NotLicensed => "not-licensed",
            KindStatus::Unavailable => "unavailable",
            KindStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindEntry {
    pub kind: String,
    /// The file (or blob) holding the records; empty, and left out of the JSON, when the kind
    /// wrote nothing new (Directory Insights with no new events).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    pub records: u64,
    /// Sum of the totals the API reported for this kind's listings (a listing without a total
    /// fails the collection); `null` for single objects, for unavailable kinds, and for
    /// Directory Insights events when `POST /events/count` is not available.
    pub total_reported: Option<u64>,
    pub sha256: String,
    pub bytes: u64,
    /// Endpoints read, `{id}` standing for each parent object.
    pub endpoints: Vec<String>,
    pub status: KindStatus,
    /// For kinds read per parent object: each line is `{"<parent_field>": id, "record": <raw>}`
    /// with the raw record untouched. `null`: each line is the raw record itself.
    pub parent_field: Option<String>,
    /// Why the kind is not complete (status `unavailable` or `skipped`), e.g. the API's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

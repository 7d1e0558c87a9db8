//! The devices and who may log in to each (`device_access`): one
//! `GET /api/v2/systems/{id}/users` listing per device, so the setting
//! ([`DeviceAccess`]) decides from the device count whether it is collected; when it is not, the
//! manifest records the kind as skipped with the reason.

use super::CollectError;
use super::collector::{Collector, KindOutcome};
use super::manifest::KindStatus;
use super::snapshot::SnapshotSink;
use crate::device_access::DeviceAccess;
use crate::jumpcloud::ListRequest;
use crate::jumpcloud::paging::record_id;

/// The evidence kind of the users bound to each device.
pub const DEVICE_ACCESS_KIND: &str = "device_access";
const DEVICE_USERS: &str = "/api/v2/systems/{id}/users";

impl<S: SnapshotSink> Collector<'_, S> {
    /// The devices, then their bound users (with the sudo of each path) when the setting says so.
    pub(super) async fn devices_and_access(
        &self,
        setting: DeviceAccess,
    ) -> Result<Vec<KindOutcome>, CollectError> {
        let mut ids = Vec::new();
        let devices = self
            .listing(
                "devices",
                ListRequest::v1("devices", "/api/systems"),
                |record| ids.extend(record_id(record)),
            )
            .await?;
        let access = match setting.skip_reason(ids.len() as u64) {
            None => {
                self.per_parent(DEVICE_ACCESS_KIND, "system_id", DEVICE_USERS, &ids)
                    .await?
            }
            Some(reason) => {
                let writer = self.open(DEVICE_ACCESS_KIND).await?;
                writer
                    .finish_with_reason(
                        None,
                        vec![DEVICE_USERS.to_owned()],
                        KindStatus::Skipped,
                        Some("system_id"),
                        0,
                        Some(reason),
                    )
                    .await?
            }
        };
        Ok(vec![devices, access])
    }
}

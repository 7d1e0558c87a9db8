//! Commands (change management: what is run on devices) and their targets. The list
//! (`GET /api/commands`) carries no script body; `GET /api/commands/{id}` does and is never
//! asked (`routes::returns_secrets` refuses it), since a script can hold secrets.

use super::CollectError;
use super::collector::{Collector, KindOutcome};
use super::snapshot::SnapshotSink;
use crate::jumpcloud::ListRequest;
use crate::jumpcloud::paging::record_id;

impl<S: SnapshotSink> Collector<'_, S> {
    /// `commands`, then per command the devices (`command_systems`, bound directly or through a
    /// device group) and the device groups (`command_system_groups`) it targets.
    pub(super) async fn commands(&self) -> Result<Vec<KindOutcome>, CollectError> {
        let mut ids = Vec::new();
        let list = self
            .listing(
                "commands",
                ListRequest::v1("commands", "/api/commands"),
                |record| ids.extend(record_id(record)),
            )
            .await?;
        let (systems, groups) = futures::try_join!(
            self.per_parent(
                "command_systems",
                "command_id",
                "/api/v2/commands/{id}/systems",
                &ids
            ),
            self.per_parent(
                "command_system_groups",
                "command_id",
                "/api/v2/commands/{id}/systemgroups",
                &ids
            ),
        )?;
        Ok(vec![list, systems, groups])
    }
}

//! The collection procedure: which endpoints make up each evidence kind, in which order, and
//! the accounting (records, totals, requests) that proves the snapshot complete.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use super::manifest::{EventsWindow, KindEntry, KindStatus, Manifest, ManifestOrg};
use super::snapshot::{BeforeCommit, CommitAsCollected, KindSink, SnapshotSink};
use super::{COLLECTION_FORMAT, CollectError};
use crate::jumpcloud::paging::{min_requests, record_id};
use crate::jumpcloud::{EventQuery, JumpCloudClient, JumpCloudError, ListRequest};

/// System Insights tables collected, each its own kind `system_insights_<table>`.
pub const INSIGHTS_TABLES: [&str; 19] = [
    "disk_encryption",
    "bitlocker_info",
    "alf",
    "windows_security_center",
    "windows_security_products",
    "os_version",
    "patches",
    "programs",
    "apps",
    "linux_packages",
    "sip_config",
    "secureboot",
    "tpm_info",
    "users",
    "groups",
    "user_groups",
    "usb_devices",
    "authorized_keys",
    "logged_in_users",
];

/// How many evidence kinds a collection records: every kind has a manifest entry, also when it
/// is not licensed, unavailable or skipped. Progress displays count against it; a test checks a
/// collection's manifest against it, so a new kind cannot leave it behind.
pub const KIND_COUNT: usize = 25 + INSIGHTS_TABLES.len();

/// The Directory Insights events kind.
const DI_KIND: &str = "directory_insights_events";

/// Request label of the identity requests.
pub const IDENTITY_LABEL: &str = "identity";

/// How far back JumpCloud keeps Directory Insights events: an older resume point leaves a gap.
pub const EVENTS_RETENTION_DAYS: u32 = 90;
// The default first window must fit in what JumpCloud keeps.
const _: () = assert!(crate::defaults::EVENTS_DAYS <= EVENTS_RETENTION_DAYS);

#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Directory Insights window in days, ending at the collection start, when the sink holds
    /// no events yet (later collections continue where the stored events end).
    pub events_days: u32,
    /// Whether the `device_access` kind (one request per device) is collected.
    pub device_access: crate::device_access::DeviceAccess,
    /// Policy results history window in days when the sink holds none yet (later collections
    /// continue where the stored results end).
    pub policy_results_days: u32,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            events_days: crate::defaults::EVENTS_DAYS,
            device_access: Default::default(),
            policy_results_days: crate::defaults::POLICY_RESULTS_DAYS,
        }
    }
}

/// Live progress, for displays. Called from concurrent tasks.
pub trait CollectProgress: Send + Sync {
    fn kind_started(&self, kind: &str);
    /// A listing's first page (or a count, or a list of parents) told how many records are
    /// coming for `kind`; called once per listing, so a kind of many listings adds up.
    fn records_expected(&self, _kind: &str, _records: u64) {}
    fn records_written(&self, kind: &str, records: u64);
    fn kind_finished(&self, kind: &str, records: u64, seconds: f64);
    /// Every kind is stored; the step before the commit (evaluating the controls) and the
    /// commit follow.
    fn collected(&self) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl CollectProgress for NoProgress {
    fn kind_started(&self, _: &str) {}
    fn records_written(&self, _: &str, _: u64) {}
    fn kind_finished(&self, _: &str, _: u64, _: f64) {}
}

/// Per-kind figures for the summary table and the benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct KindReport {
    pub kind: String,
    pub records: u64,
    /// HTTP attempts made for this kind (retries included).
    pub requests: u64,
    /// Fewest requests that could have read what the API reported.
    pub min_requests: u64,
    pub seconds: f64,
    pub status: KindStatus,
}

#[derive(Debug, Clone)]
pub struct CollectionReport<C> {
    pub manifest: Manifest,
    /// What the sink committed.
    pub committed: C,
    pub kinds: Vec<KindReport>,
    /// Identity requests (not part of any kind).
    pub identity_requests: u64,
    pub total_requests: u64,
    pub min_requests: u64,
    pub seconds: f64,
}

pub(super) struct KindOutcome {
    pub(super) entry: KindEntry,
    pub(super) min_requests: u64,
    pub(super) seconds: f64,
    /// For a history collected incrementally: the window it read.
    pub(super) window: Option<EventsWindow>,
}

type KindFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<KindOutcome>, CollectError>> + Send + 'a>>;

/// Collects every evidence kind into `sink`, then commits it with the manifest last. On any
/// error nothing is committed.
pub async fn collect<S: SnapshotSink>(
    client: &JumpCloudClient,
    sink: S,
    options: &CollectOptions,
    progress: &dyn CollectProgress,
) -> Result<CollectionReport<S::Committed>, CollectError> {
    collect_with(client, sink, &CommitAsCollected, options, progress).await
}

/// [`collect`] with `before_commit` run on the staged snapshot between the last kind written
/// and the commit (evaluating the controls: [`super::EvaluateControls`]).
pub async fn collect_with<S: SnapshotSink, B: BeforeCommit<S::Staged>>(
    client: &JumpCloudClient,
    mut sink: S,
    before_commit: &B,
    options: &CollectOptions,
    progress: &dyn CollectProgress,
) -> Result<CollectionReport<S::Committed>, CollectError> {
    let clock = Instant::now();
    let started_at = jiff::Timestamp::now();
    let identity = client.identify().await.map_err(CollectError::Identity)?;
    let org = ManifestOrg {
        id: identity.org.id.clone(),
        name: identity.org.name.clone(),
    };
    let stored_events_end = sink.begin(&org)?;
    let events_window = events_window(started_at, options.events_days, stored_events_end);
    let collector = Collector {
        client,
        sink: &sink,
        progress,
    };
    let org_path = format!("/api/organizations/{}", identity.org.id);
    let mut work: Vec<KindFuture<'_>> = vec![
        Box::pin(async {
            collector
                .single("organization", &org_path)
                .await
                .map(|k| vec![k])
        }),
        Box::pin(async { collector.administrators().await.map(|k| vec![k]) }),
        Box::pin(async {
            let request = ListRequest::v2_envelope("roles", "/api/v2/roles");
            collector
                .listing("roles", request, |_| {})
                .await
                .map(|k| vec![k])
        }),
        Box::pin(collector.users_and_leavers()),
        Box::pin(collector.devices_and_access(options.device_access)),
        Box::pin(collector.commands()),
        Box::pin(collector.policies()),
        Box::pin(collector.applications()),
        Box::pin(collector.groups("user_groups", "user_group_members", "/api/v2/usergroups")),
        Box::pin(collector.groups(
            "device_groups",
            "device_group_members",
            "/api/v2/systemgroups",
        )),
        Box::pin(async {
            let request = ListRequest::v2("authn_policies", "/api/v2/authn/policies");
            collector
                .listing("authn_policies", request, |_| {})
                .await
                .map(|k| vec![k])
        }),
        Box::pin(async {
            collector
                .events(EventQuery {
                    org_id: identity.org.id.clone(),
                    service: vec!["all".to_owned()],
                    start_time: events_window.start,
                    end_time: events_window.end,
                })
                .await
                .map(|k| vec![k])
        }),
        Box::pin(async {
            collector
                .policy_results_history(started_at, options.policy_results_days)
                .await
                .map(|k| vec![k])
        }),
    ];
    for table in INSIGHTS_TABLES {
        let collector = &collector;
        work.push(Box::pin(async move {
            let kind = format!("system_insights_{table}");
            let request = ListRequest::system_insights(&kind, table);
            collector
                .listing(&kind, request, |_| {})
                .await
                .map(|k| vec![k])
        }));
    }
    let outcomes: Vec<KindOutcome> = futures::future::try_join_all(work)
        .await?
        .into_iter()
        .flatten()
        .collect();

    let counts = client.request_counts();
    let identity_requests = counts.get(IDENTITY_LABEL).copied().unwrap_or(0);
    let mut kinds: Vec<KindReport> = outcomes
        .iter()
        .map(|outcome| KindReport {
            kind: outcome.entry.kind.clone(),
            records: outcome.entry.records,
            requests: counts.get(&outcome.entry.kind).copied().unwrap_or(0),
            min_requests: outcome.min_requests,
            seconds: outcome.seconds,
            status: outcome.entry.status,
        })
        .collect();
    kinds.sort_by(|a, b| a.kind.cmp(&b.kind));
    let histories = outcomes
        .iter()
        .filter_map(|o| Some((o.entry.kind.clone(), o.window.clone()?)))
        .collect();
    let mut entries: Vec<KindEntry> = outcomes.into_iter().map(|outcome| outcome.entry).collect();
    entries.sort_by(|a, b| a.kind.cmp(&b.kind));

    // A collection that got no events (not licensed) covered no window: an empty one at the
    // stored events' end, so that no later collection counts this one's time as covered.
    let events_complete = entries
        .iter()
        .any(|k| k.kind == DI_KIND && k.status == KindStatus::Complete);
    let events_window = if events_complete {
        events_window
    } else {
        let at = stored_events_end.map_or(events_window.start, |end| end.min(events_window.end));
        EventsWindow { start: at, end: at }
    };
    let administrator = identity.administrator.as_ref();
    let manifest = Manifest {
        format: COLLECTION_FORMAT,
        collector_version: env!("CARGO_PKG_VERSION").to_owned(),
        org,
        region: client.region(),
        key_fingerprint: client.key_fingerprint(),
        administrator_role: administrator.and_then(|admin| admin.role_name.clone()),
        administrator_key_expires_at: administrator.and_then(|admin| admin.key_expires_at),
        started_at,
        finished_at: jiff::Timestamp::now(),
        events_window,
        histories,
        kinds: entries,
    };
    progress.collected();
    let mut staged = sink.stage(&manifest)?;
    before_commit.before_commit(&mut staged).await?;
    let committed = sink.commit(staged).await?;
    // The identity requests are the fewest possible too: one org page (or more for a large
    // multi-tenant admin) and getSelf.
    let min_identity = min_requests(identity.organizations.len() as u64, 100) + 1;
    Ok(CollectionReport {
        total_requests: client.total_requests(),
        min_requests: kinds.iter().map(|k| k.min_requests).sum::<u64>() + min_identity,
        identity_requests,
        manifest,
        committed,
        kinds,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// The Directory Insights window of a collection starting at `now`: from where the stored
/// events end (bounded by JumpCloud's retention), or `days` back when nothing is stored.
pub fn events_window(
    now: jiff::Timestamp,
    days: u32,
    stored_events_end: Option<jiff::Timestamp>,
) -> EventsWindow {
    let days_back = |days: u32| now - jiff::SignedDuration::from_hours(24 * i64::from(days));
    let start = match stored_events_end {
        Some(end) => end.max(days_back(EVENTS_RETENTION_DAYS)).min(now),
        None => days_back(days),
    };
    EventsWindow { start, end: now }
}

#[derive(Deserialize)]
struct SuspendedProbe {
    #[serde(default)]
    suspended: Option<bool>,
    #[serde(default)]
    state: Option<String>,
}

fn is_suspended(record: &[u8]) -> bool {
    serde_json::from_slice::<SuspendedProbe>(record)
        .map(|probe| probe.suspended == Some(true) || probe.state.as_deref() == Some("SUSPENDED"))
        .unwrap_or(false)
}

pub(super) struct Collector<'a, S> {
    pub(super) client: &'a JumpCloudClient,
    pub(super) sink: &'a S,
    progress: &'a dyn CollectProgress,
}

/// Counts and writes one kind's records.
pub(super) struct KindWriter<'p, K> {
    kind: String,
    sink: K,
    progress: &'p dyn CollectProgress,
    started: Instant,
}

impl<K: KindSink + Send> KindWriter<'_, K> {
    async fn write(&mut self, record: &[u8]) -> Result<(), CollectError> {
        self.sink.write_record(record).await
    }

    async fn write_wrapped(
        &mut self,
        parent_field: &str,
        parent_id: &str,
        record: &[u8],
    ) -> Result<(), CollectError> {
        // The raw record is embedded verbatim; only the parent id is added around it.
        let parent = serde_json::to_string(parent_id).unwrap_or_else(|_| "null".to_owned());
        let mut line = Vec::with_capacity(record.len() + parent_field.len() + parent.len() + 16);
        line.extend_from_slice(format!("{{\"{parent_field}\":{parent},\"record\":").as_bytes());
        line.extend_from_slice(record);
        line.push(b'}');
        self.sink.write_record(&line).await
    }

    async fn finish(
        self,
        total_reported: Option<u64>,
        endpoints: Vec<String>,
        status: KindStatus,
        parent_field: Option<&str>,
        min_requests: u64,
    ) -> Result<KindOutcome, CollectError> {
        self.finish_with_reason(
            total_reported,
            endpoints,
            status,
            parent_field,
            min_requests,
            None,
        )
        .await
    }

    pub(super) async fn finish_with_reason(
        self,
        total_reported: Option<u64>,
        endpoints: Vec<String>,
        status: KindStatus,
        parent_field: Option<&str>,
        min_requests: u64,
        reason: Option<String>,
    ) -> Result<KindOutcome, CollectError> {
        let written = self.sink.finish().await?;
        let seconds = self.started.elapsed().as_secs_f64();
        self.progress
            .kind_finished(&self.kind, written.records, seconds);
        Ok(KindOutcome {
            entry: KindEntry {
                kind: self.kind,
                file: written.file,
                records: written.records,
                total_reported,
                sha256: written.sha256,
                bytes: written.bytes,
                endpoints,
                status,
                parent_field: parent_field.map(str::to_owned),
                reason,
            },
            min_requests,
            seconds,
            window: None,
        })
    }
}

impl<'a, S: SnapshotSink> Collector<'a, S> {
    pub(super) fn api(kind: &str) -> impl Fn(JumpCloudError) -> CollectError + '_ {
        move |source| CollectError::Api {
            kind: kind.to_owned(),
            source,
        }
    }

    pub(super) async fn open(&self, kind: &str) -> Result<KindWriter<'a, S::Kind>, CollectError> {
        self.progress.kind_started(kind);
        Ok(KindWriter {
            kind: kind.to_owned(),
            sink: self.sink.open_kind(kind).await?,
            progress: self.progress,
            started: Instant::now(),
        })
    }

    /// One object, one record.
    async fn single(&self, kind: &str, path: &str) -> Result<KindOutcome, CollectError> {
        let mut writer = self.open(kind).await?;
        let record = self
            .client
            .get_raw(kind, path)
            .await
            .map_err(Self::api(kind))?;
        writer.write(record.get().as_bytes()).await?;
        self.progress.records_expected(kind, 1);
        self.progress.records_written(kind, 1);
        let template = path
            .rsplit_once('/')
            .map(|(head, _)| format!("{head}/{{id}}"));
        writer
            .finish(
                None,
                vec![template.unwrap_or_else(|| path.to_owned())],
                KindStatus::Complete,
                None,
                1,
            )
            .await
    }

    /// A paged listing streamed to disk page by page; `inspect` sees every record.
    pub(super) async fn listing(
        &self,
        kind: &str,
        request: ListRequest,
        inspect: impl FnMut(&[u8]) + Send,
    ) -> Result<KindOutcome, CollectError> {
        let listing = self
            .client
            .open_listing(request)
            .await
            .map_err(Self::api(kind))?;
        self.opened_listing(kind, listing, inspect).await
    }

    /// Streams a listing whose first page is in.
    async fn opened_listing(
        &self,
        kind: &str,
        listing: crate::jumpcloud::Listing,
        mut inspect: impl FnMut(&[u8]) + Send,
    ) -> Result<KindOutcome, CollectError> {
        let mut writer = self.open(kind).await?;
        let endpoint = listing.endpoint().to_owned();
        let total = listing.total();
        self.progress.records_expected(kind, total);
        let limit = listing.limit();
        let mut pages = listing.pages();
        while let Some(page) = pages.next().await {
            let page = page.map_err(Self::api(kind))?;
            for record in page.records() {
                inspect(record);
                writer.write(record).await?;
            }
            self.progress.records_written(kind, page.len() as u64);
        }
        let minimum = min_requests(total, limit);
        writer
            .finish(
                Some(total),
                vec![endpoint],
                KindStatus::Complete,
                None,
                minimum,
            )
            .await
    }

    /// The console administrators (`/api/users`). The route is undocumented, like `getSelf`:
    /// when it answers 404 or 405 the kind is recorded as unavailable with that answer, and
    /// the snapshot goes on without it (the controls that need it say so).
    async fn administrators(&self) -> Result<KindOutcome, CollectError> {
        const KIND: &str = "administrators";
        const PATH: &str = "/api/users";
        let request = ListRequest::v1(KIND, PATH);
        let listing = match self.client.open_listing(request).await {
            Ok(listing) => listing,
            Err(error @ JumpCloudError::NotFound { .. })
            | Err(error @ JumpCloudError::BadRequest { status: 405, .. }) => {
                let writer = self.open(KIND).await?;
                return writer
                    .finish_with_reason(
                        None,
                        vec![PATH.to_owned()],
                        KindStatus::Unavailable,
                        None,
                        1,
                        Some(format!(
                            "the undocumented route answered HTTP {}: {error}",
                            error.http_status().unwrap_or(404)
                        )),
                    )
                    .await;
            }
            Err(error) => return Err(Self::api(KIND)(error)),
        };
        self.opened_listing(KIND, listing, |_| {}).await
    }

    /// One listing per parent, all into one kind, each record wrapped with its parent id.
    /// First pages of several parents are fetched concurrently; pages are written in order.
    pub(super) async fn per_parent(
        &self,
        kind: &str,
        parent_field: &str,
        template: &str,
        parents: &[String],
    ) -> Result<KindOutcome, CollectError> {
        let mut writer = self.open(kind).await?;
        let concurrency = self.client.concurrency();
        let client = self.client;
        let mut pages = stream::iter(parents.iter().cloned())
            .map(|parent| {
                let request = ListRequest::v2(kind, template.replace("{id}", &parent));
                async move {
                    let listing = client.open_listing(request).await?;
                    let total = listing.total();
                    let limit = listing.limit();
                    Ok::<_, JumpCloudError>(
                        listing
                            .pages()
                            .map_ok(move |page| (parent.clone(), total, limit, page)),
                    )
                }
            })
            .buffered(concurrency)
            .try_flatten();
        let mut total_reported = 0u64;
        let mut minimum = 0;
        while let Some(item) = pages.next().await {
            let (parent, total, limit, page) = item.map_err(Self::api(kind))?;
            if page.skip == 0 {
                self.progress.records_expected(kind, total);
                total_reported += total;
                minimum += min_requests(total, limit);
            }
            for record in page.records() {
                writer.write_wrapped(parent_field, &parent, record).await?;
            }
            self.progress.records_written(kind, page.len() as u64);
        }
        writer
            .finish(
                Some(total_reported),
                vec![template.to_owned()],
                KindStatus::Complete,
                Some(parent_field),
                minimum,
            )
            .await
    }

    /// One object per parent (`GET template` with the id), written raw in parent order.
    async fn details(
        &self,
        kind: &str,
        template: &str,
        parents: &[String],
    ) -> Result<KindOutcome, CollectError> {
        let mut writer = self.open(kind).await?;
        self.progress.records_expected(kind, parents.len() as u64);
        let client = self.client;
        let mut records = stream::iter(parents.iter().cloned())
            .map(|parent| {
                let path = template.replace("{id}", &parent);
                async move { client.get_raw(kind, &path).await }
            })
            .buffered(self.client.concurrency());
        while let Some(record) = records.next().await {
            let record = record.map_err(Self::api(kind))?;
            writer.write(record.get().as_bytes()).await?;
            self.progress.records_written(kind, 1);
        }
        writer
            .finish(
                Some(parents.len() as u64),
                vec![template.to_owned()],
                KindStatus::Complete,
                None,
                parents.len() as u64,
            )
            .await
    }

    /// Users, then the bindings of suspended users only (the leaver check needs them; fanning
    /// out over every user would cost three requests per user).
    async fn users_and_leavers(&self) -> Result<Vec<KindOutcome>, CollectError> {
        let mut suspended = Vec::new();
        let users = self
            .listing(
                "users",
                ListRequest::v1("users", "/api/systemusers"),
                |record| {
                    if is_suspended(record)
                        && let Some(id) = record_id(record)
                    {
                        suspended.push(id);
                    }
                },
            )
            .await?;
        let (systems, applications, groups) = futures::try_join!(
            self.per_parent(
                "suspended_user_systems",
                "user_id",
                "/api/v2/users/{id}/systems",
                &suspended
            ),
            self.per_parent(
                "suspended_user_applications",
                "user_id",
                "/api/v2/users/{id}/applications",
                &suspended
            ),
            self.per_parent(
                "suspended_user_groups",
                "user_id",
                "/api/v2/users/{id}/memberof",
                &suspended
            ),
        )?;
        Ok(vec![users, systems, applications, groups])
    }

    async fn policies(&self) -> Result<Vec<KindOutcome>, CollectError> {
        let mut ids = Vec::new();
        let list = self
            .listing(
                "policies",
                ListRequest::v2("policies", "/api/v2/policies"),
                |record| {
                    ids.extend(record_id(record));
                },
            )
            .await?;
        let (details, statuses) = futures::try_join!(
            self.details("policy_details", "/api/v2/policies/{id}", &ids),
            self.per_parent(
                "policy_statuses",
                "policy_id",
                "/api/v2/policies/{id}/policystatuses",
                &ids
            ),
        )?;
        Ok(vec![list, details, statuses])
    }

    async fn applications(&self) -> Result<Vec<KindOutcome>, CollectError> {
        let mut ids = Vec::new();
        let list = self
            .listing(
                "applications",
                ListRequest::v1("applications", "/api/applications"),
                |record| ids.extend(record_id(record)),
            )
            .await?;
        let (users, groups) = futures::try_join!(
            self.per_parent(
                "application_users",
                "application_id",
                "/api/v2/applications/{id}/users",
                &ids
            ),
            self.per_parent(
                "application_user_groups",
                "application_id",
                "/api/v2/applications/{id}/usergroups",
                &ids
            ),
        )?;
        Ok(vec![list, users, groups])
    }

    async fn groups(
        &self,
        kind: &'static str,
        members_kind: &'static str,
        path: &'static str,
    ) -> Result<Vec<KindOutcome>, CollectError> {
        let mut ids = Vec::new();
        let list = self
            .listing(kind, ListRequest::v2(kind, path), |record| {
                ids.extend(record_id(record))
            })
            .await?;
        let members = self
            .per_parent(
                members_kind,
                "group_id",
                &format!("{path}/{{id}}/membership"),
                &ids,
            )
            .await?;
        Ok(vec![list, members])
    }

    /// Directory Insights events of the window. HTTP 402 (not licensed) is recorded as such.
    async fn events(&self, query: EventQuery) -> Result<KindOutcome, CollectError> {
        const KIND: &str = DI_KIND;
        let endpoints = vec!["/insights/directory/v1/events".to_owned()];
        let mut writer = self.open(KIND).await?;
        let not_licensed = |writer: KindWriter<'a, S::Kind>, requests| {
            writer.finish(
                Some(0),
                endpoints.clone(),
                KindStatus::NotLicensed,
                None,
                requests,
            )
        };
        let expected = match self.client.count_events(KIND, &query).await {
            Ok(count) => count,
            Err(JumpCloudError::NotLicensed { .. }) => return not_licensed(writer, 1).await,
            Err(error) => return Err(Self::api(KIND)(error)),
        };
        if let Some(expected) = expected {
            self.progress.records_expected(KIND, expected);
        }
        let mut pages = self.client.events(KIND, query, expected);
        let mut received = 0u64;
        let mut fetched_pages = 0;
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(JumpCloudError::NotLicensed { .. }) if received == 0 => {
                    return not_licensed(writer, 2).await;
                }
                Err(error) => return Err(Self::api(KIND)(error)),
            };
            fetched_pages += 1;
            for record in page.records() {
                writer.write(record).await?;
            }
            received += page.len() as u64;
            self.progress.records_written(KIND, page.len() as u64);
        }
        if let Some(expected) = expected
            && expected != received
        {
            return Err(Self::api(KIND)(JumpCloudError::TruncatedCollection {
                endpoint: "/events".to_owned(),
                expected,
                received,
            }));
        }
        // The count request is part of the plan even where the route is missing (404).
        let minimum = 1 + expected.map_or(fetched_pages, |total| {
            // A full last page needs one more (empty) page to prove it was the last.
            total / crate::jumpcloud::paging::MAX_EVENTS_PAGE + 1
        });
        writer
            .finish(expected, endpoints, KindStatus::Complete, None, minimum)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> &[u8] {
        json.as_bytes()
    }

    #[test]
    fn the_events_window_continues_where_the_stored_events_end() {
        let now: jiff::Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        let days = |d: i64| now - jiff::SignedDuration::from_hours(24 * d);
        // Nothing stored: the configured number of days.
        assert_eq!(events_window(now, 30, None).start, days(30));
        // Stored up to two days ago: continue there, whatever the configured window.
        assert_eq!(events_window(now, 30, Some(days(2))).start, days(2));
        assert_eq!(events_window(now, 1, Some(days(2))).start, days(2));
        // Stored up to long ago: JumpCloud has nothing older than its retention.
        assert_eq!(events_window(now, 30, Some(days(200))).start, days(90));
        // A stored position in the future (clock skew) never inverts the window.
        let window = events_window(now, 30, Some(now + jiff::SignedDuration::from_hours(1)));
        assert_eq!((window.start, window.end), (now, now));
    }

    #[test]
    fn finds_ids_and_suspended_users() {
        assert_eq!(record_id(raw(r#"{"_id":"a"}"#)).as_deref(), Some("a"));
        assert_eq!(record_id(raw(r#"{"id":"b"}"#)).as_deref(), Some("b"));
        assert_eq!(record_id(raw(r#"{"x":1}"#)), None);
        assert!(is_suspended(raw(r#"{"suspended":true}"#)));
        assert!(is_suspended(raw(
            r#"{"state":"SUSPENDED","suspended":false}"#
        )));
        assert!(!is_suspended(raw(
            r#"{"state":"ACTIVATED","suspended":false}"#
        )));
        assert!(!is_suspended(raw(r#"[1]"#)));
    }
}

//! Control API types, shared by the simulator's `/__simulator/` routes and [`SimulatorControl`],
//! a small typed client for tests.

use std::collections::BTreeMap;

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::key_fingerprint;

/// An administrator as listed by `GET /__simulator/admins`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminView {
    pub id: String,
    pub email: String,
    pub role_name: String,
    /// The current key. The control API is a loopback test tool, so it does hand keys out.
    pub api_key: Option<String>,
    pub key_expires_at: Option<Timestamp>,
    pub org_ids: Vec<String>,
}

/// Body of `PUT /__simulator/rate-limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Requests per second; `None` lifts the limit.
    pub per_second: Option<u32>,
}

/// Request counters (API routes only; control requests are not counted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub total: u64,
    /// Per request path (without query).
    pub by_path: BTreeMap<String, u64>,
    /// Per key fingerprint ([`key_fingerprint`]); `none` for requests without a key.
    pub by_key: BTreeMap<String, u64>,
    /// Per response status code; `0` counts connections dropped by a `reset` fault.
    pub by_status: BTreeMap<String, u64>,
    /// Most API requests in progress at the same time since the last reset.
    #[serde(default)]
    pub max_in_flight: u64,
}

/// One API request as the simulator saw it (`GET /__simulator/requests`, oldest first; the
/// last 10,000 are kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string (`limit=100&skip=0&sort=_id`), empty when there was none.
    pub query: String,
    /// Response status; `0` when a `reset` fault dropped the connection.
    pub status: u16,
    /// When the request arrived and when its answer was ready, in milliseconds since the
    /// simulator started.
    pub started_ms: u64,
    pub finished_ms: u64,
    /// The request body of a Directory Insights request (its window and cursor), empty for
    /// console requests.
    #[serde(default)]
    pub body: String,
    /// The `x-org-id` values the request carried (each header, split at commas), in order.
    /// Organization ids only: the key and tokens are never logged.
    #[serde(default)]
    pub org_ids: Vec<String>,
}

impl RequestRecord {
    /// The value of a query parameter, when present.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// Body of `PUT /__simulator/get-self`: make the undocumented `/api/users/getSelf` answer this
/// status (e.g. 404 or 405) as if the route did not exist; `null` serves it again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GetSelfStatus {
    #[serde(default)]
    pub status: Option<u16>,
}

/// Body of `PUT /__simulator/route-status`: make one exact API path (e.g. the undocumented
/// `/api/users`) answer `status` as if the route did not exist; `null` serves it again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RouteStatus {
    pub path: String,
    #[serde(default)]
    pub status: Option<u16>,
}

/// Body of `POST /__simulator/advance`: move the clock `days` days, changing the orgs as a day
/// changes a real one (see [`DayChanges`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advance {
    pub days: u32,
}

/// What `POST /__simulator/advance` did: the clock after it, the days the region has advanced
/// since it started, and the changes of those `days` summed over the region's orgs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Advanced {
    pub now: Timestamp,
    pub day: u64,
    pub changes: DayChanges,
}

/// The changes of simulated days: every device checks in, ~1% of the users change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayChanges {
    /// Devices whose `lastContact` moved.
    pub devices_checked_in: usize,
    pub users_added: usize,
    pub users_suspended: usize,
    pub users_mfa_changed: usize,
    /// Users whose job title changed.
    pub users_attributes_changed: usize,
    pub events_added: usize,
}

impl DayChanges {
    pub(crate) fn add(&mut self, other: &DayChanges) {
        self.devices_checked_in += other.devices_checked_in;
        self.users_added += other.users_added;
        self.users_suspended += other.users_suspended;
        self.users_mfa_changed += other.users_mfa_changed;
        self.users_attributes_changed += other.users_attributes_changed;
        self.events_added += other.events_added;
    }
}

/// Body of `PUT /__simulator/insights-rows`: give a System Insights table of the region's first
/// org exactly `rows` rows (existing rows repeated with new `system_id`s, so every row stays
/// distinct and the table stays in `system_id` order), e.g. more than 10,000 for two pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InsightsRows {
    pub table: String,
    pub rows: usize,
}

impl Counters {
    /// Requests that carried this key.
    pub fn for_key(&self, key: &SecretString) -> u64 {
        self.by_key
            .get(&key_fingerprint(key.expose_secret()))
            .copied()
            .unwrap_or(0)
    }

    /// Requests whose path starts with `prefix`.
    pub fn for_path_prefix(&self, prefix: &str) -> u64 {
        self.by_path
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }
}

/// A fault for the next `times` API requests whose path starts with `path_prefix` (all when
/// `None`). Faults are applied in the order they were added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub times: u32,
    #[serde(default)]
    pub path_prefix: Option<String>,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            times: 1,
            path_prefix: None,
        }
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    pub fn on_path(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status (e.g. 429, 500, 502, 503, 504) and a JumpCloud error body,
    /// with a `Retry-After` header when `retry_after_secs` is set.
    Status {
        status: u16,
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Wait this long, then answer normally.
    Delay { delay_ms: u64 },
    /// Answer normally but cut the body in half (invalid JSON, correct status and headers).
    Malformed,
    /// Answer the page that starts `by` records earlier than asked (`skip - by`) with the
    /// total unchanged: the last `by` records of the previous page arrive again and the last
    /// `by` of this page never do, as when records are inserted in front of an unsorted
    /// listing between two pages. The count still matches the total.
    Shift { by: u32 },
    /// Drop the connection: status line and headers are sent, then the body fails and the
    /// connection closes (a reset mid-response, as a crashing proxy causes).
    Reset,
    /// Answer normally but without the total (no `x-total-count` header, no `totalCount` in
    /// a v1 envelope).
    NoTotal,
    /// As `no_total`, but only on a page after the first (`skip` > 0): requests for a first
    /// page pass untouched and do not use the fault up.
    NoTotalLater,
    /// Answer normally with the presented API key echoed into the body: into the total
    /// (`totalCount`, `x-total-count`, or `count` of `/events/count`), a numeric field, or
    /// into a string field `echo` of the first record (or of the object).
    EchoKey {
        #[serde(default)]
        into: EchoInto,
    },
    /// Answer a list page holding `records` records whatever `limit` asked for (the page's
    /// records repeated), as a server that ignores the page size does.
    Oversized { records: u32 },
    /// Answer normally with a string field `blob` of `bytes` bytes added to the first record
    /// (or to the object).
    HugeRecord { bytes: u64 },
    /// Directory Insights: answer a full page (`limit` events, the window's events repeated)
    /// with the same `X-Search_after` cursor every time, so paging never ends.
    RepeatCursor,
    /// Directory Insights: answer one event claimed to be a full page (`X-Result-Count` =
    /// `X-Limit`) with a new cursor every time, so paging never ends and never repeats.
    EndlessPages,
    /// Answer normally, then add `count` records of `records` to the org: the totals of the
    /// next page differ from this one.
    Grow {
        #[serde(default)]
        records: GrowRecords,
        #[serde(default = "one")]
        count: u32,
    },
}

/// Where an `echo_key` fault puts the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoInto {
    /// The total, a numeric field.
    #[default]
    Total,
    /// A string field of the first record.
    Record,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrowRecords {
    #[default]
    Users,
    Systems,
    /// Directory Insights events happening now (a live org's new events).
    Events,
}

/// Body of `POST /__simulator/orgs` (make admins multi-tenant).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddOrgRequest {
    /// Admins that get access to the new org; empty means every admin of the region.
    #[serde(default)]
    pub admin_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddOrgResponse {
    pub org_id: String,
    pub name: String,
}

/// Body of `PUT /__simulator/admins/{id}/key-expiry` and optional body of `issue-key`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyExpiry {
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

/// A service account as listed by `GET /__simulator/service-accounts`, with its current client
/// secrets (the control API is a loopback test tool, so it hands them out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceAccountView {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub role_name: String,
    pub disabled: bool,
    pub org_ids: Vec<String>,
    /// At most two.
    pub secrets: Vec<ClientSecretView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSecretView {
    pub id: String,
    pub secret: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// Body of `POST /__simulator/service-accounts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewServiceAccount {
    #[serde(default)]
    pub name: Option<String>,
    /// One of the administrator roles (`Read Only` when absent).
    #[serde(default)]
    pub role_name: Option<String>,
    #[serde(default)]
    pub secret_expires_at: Option<Timestamp>,
}

/// Body of `PUT /__simulator/token-lifetime`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenLifetime {
    /// Seconds an access token issued from now on lasts (3600 by default).
    pub seconds: u64,
}

/// Body of `PUT /__simulator/directory-insights`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectoryInsightsToggle {
    pub enabled: bool,
    /// Only this org; all orgs of the region when `None`.
    #[serde(default)]
    pub org_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("simulator control request {path} failed: {source}")]
    Http {
        path: String,
        source: reqwest::Error,
    },
    #[error("simulator control request {path} answered {status}: {body}")]
    Status {
        path: String,
        status: u16,
        body: String,
    },
    #[error("simulator control URL is invalid: {0}")]
    Url(#[from] url::ParseError),
}

/// Typed client for the control API of one region's listener.
#[derive(Debug, Clone)]
pub struct SimulatorControl {
    base: url::Url,
    http: reqwest::Client,
}

impl SimulatorControl {
    /// `base_url` is the region's base URL, e.g. from [`super::Simulator::base_url`].
    pub fn new(base_url: url::Url) -> Self {
        SimulatorControl {
            base: base_url,
            http: reqwest::Client::new(),
        }
    }

    async fn call<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Vec<u8>, ControlError> {
        let url = self.base.join(&format!("__simulator/{path}"))?;
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let http = |source| ControlError::Http {
            path: path.to_string(),
            source,
        };
        let response = request.send().await.map_err(http)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(http)?;
        if !status.is_success() {
            return Err(ControlError::Status {
                path: path.into(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(bytes.to_vec())
    }

    async fn call_json<B: Serialize, T: for<'de> Deserialize<'de>>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ControlError> {
        let bytes = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ControlError::Status {
            path: path.into(),
            status: 200,
            body: format!("unexpected body: {e}"),
        })
    }

    pub async fn admins(&self) -> Result<Vec<AdminView>, ControlError> {
        self.call_json::<(), _>(reqwest::Method::GET, "admins", None)
            .await
    }

    pub async fn revoke_key(&self, admin_id: &str) -> Result<(), ControlError> {
        self.call::<()>(
            reqwest::Method::POST,
            &format!("admins/{admin_id}/revoke-key"),
            None,
        )
        .await
        .map(drop)
    }

    /// Issues a new key (the admin's previous key stops working) and returns it.
    pub async fn issue_key(
        &self,
        admin_id: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<SecretString, ControlError> {
        let view: AdminView = self
            .call_json(
                reqwest::Method::POST,
                &format!("admins/{admin_id}/issue-key"),
                Some(&KeyExpiry { expires_at }),
            )
            .await?;
        Ok(SecretString::from(view.api_key.unwrap_or_default()))
    }

    /// Makes the admin's current key expired (expiry one second in the past).
    pub async fn expire_key(&self, admin_id: &str) -> Result<(), ControlError> {
        self.call::<()>(
            reqwest::Method::POST,
            &format!("admins/{admin_id}/expire-key"),
            None,
        )
        .await
        .map(drop)
    }

    pub async fn set_key_expiry(
        &self,
        admin_id: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            &format!("admins/{admin_id}/key-expiry"),
            Some(&KeyExpiry { expires_at }),
        )
        .await
        .map(drop)
    }

    pub async fn service_accounts(&self) -> Result<Vec<ServiceAccountView>, ControlError> {
        self.call_json::<(), _>(reqwest::Method::GET, "service-accounts", None)
            .await
    }

    /// Creates a service account with one secret and returns it.
    pub async fn create_service_account(
        &self,
        request: &NewServiceAccount,
    ) -> Result<ServiceAccountView, ControlError> {
        self.call_json(reqwest::Method::POST, "service-accounts", Some(request))
            .await
    }

    /// Adds the account's second client secret (409 when it has two already) and returns the
    /// account.
    pub async fn add_client_secret(
        &self,
        account_id: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<ServiceAccountView, ControlError> {
        self.call_json(
            reqwest::Method::POST,
            &format!("service-accounts/{account_id}/secrets"),
            Some(&KeyExpiry { expires_at }),
        )
        .await
    }

    /// Deletes one client secret; the tokens issued with it stop working.
    pub async fn revoke_client_secret(
        &self,
        account_id: &str,
        secret_id: &str,
    ) -> Result<(), ControlError> {
        self.call::<()>(
            reqwest::Method::DELETE,
            &format!("service-accounts/{account_id}/secrets/{secret_id}"),
            None,
        )
        .await
        .map(drop)
    }

    /// Makes one client secret expired (expiry one second in the past).
    pub async fn expire_client_secret(
        &self,
        account_id: &str,
        secret_id: &str,
    ) -> Result<(), ControlError> {
        self.call::<()>(
            reqwest::Method::POST,
            &format!("service-accounts/{account_id}/secrets/{secret_id}/expire"),
            None,
        )
        .await
        .map(drop)
    }

    /// Disables (`true`) or re-enables the account; a disabled account's tokens stop working.
    pub async fn set_service_account_disabled(
        &self,
        account_id: &str,
        disabled: bool,
    ) -> Result<(), ControlError> {
        let action = if disabled { "disable" } else { "enable" };
        self.call::<()>(
            reqwest::Method::POST,
            &format!("service-accounts/{account_id}/{action}"),
            None,
        )
        .await
        .map(drop)
    }

    pub async fn delete_service_account(&self, account_id: &str) -> Result<(), ControlError> {
        self.call::<()>(
            reqwest::Method::DELETE,
            &format!("service-accounts/{account_id}"),
            None,
        )
        .await
        .map(drop)
    }

    /// Ends every access token's session (the secrets stay valid).
    pub async fn revoke_tokens(&self) -> Result<(), ControlError> {
        self.call::<()>(reqwest::Method::POST, "tokens/revoke", None)
            .await
            .map(drop)
    }

    /// How long access tokens issued from now on last.
    pub async fn set_token_lifetime(&self, seconds: u64) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            "token-lifetime",
            Some(&TokenLifetime { seconds }),
        )
        .await
        .map(drop)
    }

    /// Adds an org reachable by `admin_ids` (all admins when empty); returns its id.
    pub async fn add_org(&self, admin_ids: &[String]) -> Result<String, ControlError> {
        let response: AddOrgResponse = self
            .call_json(
                reqwest::Method::POST,
                "orgs",
                Some(&AddOrgRequest {
                    admin_ids: admin_ids.to_vec(),
                }),
            )
            .await?;
        Ok(response.org_id)
    }

    /// Per-org record counts (`{org_id: {users, systems, ...}}`).
    pub async fn orgs(&self) -> Result<BTreeMap<String, Value>, ControlError> {
        self.call_json::<(), _>(reqwest::Method::GET, "orgs", None)
            .await
    }

    pub async fn set_directory_insights(&self, enabled: bool) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            "directory-insights",
            Some(&DirectoryInsightsToggle {
                enabled,
                org_id: None,
            }),
        )
        .await
        .map(drop)
    }

    pub async fn inject(&self, fault: Fault) -> Result<(), ControlError> {
        self.call(reqwest::Method::POST, "faults", Some(&fault))
            .await
            .map(drop)
    }

    pub async fn faults(&self) -> Result<Vec<Fault>, ControlError> {
        self.call_json::<(), _>(reqwest::Method::GET, "faults", None)
            .await
    }

    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        self.call::<()>(reqwest::Method::DELETE, "faults", None)
            .await
            .map(drop)
    }

    /// The API requests seen so far, oldest first (the last 10,000).
    pub async fn requests(&self) -> Result<Vec<RequestRecord>, ControlError> {
        self.call_json::<(), _>(reqwest::Method::GET, "requests", None)
            .await
    }

    /// Makes `/api/users/getSelf` answer `status` (e.g. 404 or 405) as if the undocumented
    /// route did not exist; `None` serves it again.
    pub async fn set_get_self_status(&self, status: Option<u16>) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            "get-self",
            Some(&GetSelfStatus { status }),
        )
        .await
        .map(drop)
    }

    /// Makes the exact API path `path` answer `status` (e.g. 404 for `/api/users`); `None`
    /// serves it again.
    pub async fn set_route_status(
        &self,
        path: &str,
        status: Option<u16>,
    ) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            "route-status",
            Some(&RouteStatus {
                path: path.to_owned(),
                status,
            }),
        )
        .await
        .map(drop)
    }

    /// Gives the System Insights `table` of the first org exactly `rows` rows.
    pub async fn set_insights_rows(&self, table: &str, rows: usize) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            "insights-rows",
            Some(&InsightsRows {
                table: table.to_owned(),
                rows,
            }),
        )
        .await
        .map(drop)
    }

    /// Moves the simulated clock `days` days ahead, each day changing the orgs as real orgs
    /// change (deterministic from the seed and the day).
    pub async fn advance_days(&self, days: u32) -> Result<Advanced, ControlError> {
        self.call_json(reqwest::Method::POST, "advance", Some(&Advance { days }))
            .await
    }

    /// Answers API requests beyond `per_second` per second (bursts of one second's worth)
    /// with 429 and `Retry-After`; `None` lifts the limit. `reset` keeps it.
    pub async fn set_rate_limit(&self, per_second: Option<u32>) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            "rate-limit",
            Some(&RateLimit { per_second }),
        )
        .await
        .map(drop)
    }

    pub async fn counters(&self) -> Result<Counters, ControlError> {
        self.call_json::<(), _>(reqwest::Method::GET, "counters", None)
            .await
    }

    /// Clears faults, counters and the request log (the org, admins and keys stay as they are).
    pub async fn reset(&self) -> Result<(), ControlError> {
        self.call::<()>(reqwest::Method::POST, "reset", None)
            .await
            .map(drop)
    }
}

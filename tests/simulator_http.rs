//! The simulator over real HTTP on 127.0.0.1: pagination, auth, org header rules, Directory
//! Insights, faults, control API and determinism. Raw reqwest, no JumpCloud client involved.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use jumpcloud_simulator::control::{Fault, FaultKind, GrowRecords};
use jumpcloud_simulator::{
    OrgSize, Region, SimAdmin, Simulator, SimulatorConfig, SimulatorControl,
};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

fn fixed_now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn empty_org() -> OrgSize {
    OrgSize {
        users: 0,
        devices: 0,
        policies: 0,
        applications: 0,
        user_groups: 0,
        device_groups: 0,
        events: 0,
    }
}

async fn start(org: OrgSize) -> Simulator {
    start_with(SimulatorConfig {
        org,
        now: Some(fixed_now()),
        ..SimulatorConfig::default()
    })
    .await
}

async fn start_with(config: SimulatorConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

struct Api {
    base: url::Url,
    http: reqwest::Client,
    key: SecretString,
}

impl Api {
    fn new(sim: &Simulator, region: Region) -> Self {
        Api {
            base: sim.base_url(region).unwrap(),
            http: reqwest::Client::new(),
            key: sim.read_only_key(region),
        }
    }

    fn with_key(&self, key: SecretString) -> Self {
        Api {
            base: self.base.clone(),
            http: self.http.clone(),
            key,
        }
    }

    fn control(&self) -> SimulatorControl {
        SimulatorControl::new(self.base.clone())
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.base.join(path).unwrap())
            .header("x-api-key", self.key.expose_secret())
    }

    fn events(&self, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.base.join("insights/directory/v1/events").unwrap())
            .header("x-api-key", self.key.expose_secret())
            .json(&body)
    }

    async fn json(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        send(self.get(path)).await
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, headers, value)
}

fn admin(sim: &Simulator, role: &str) -> SimAdmin {
    sim.admins(Region::Us)
        .into_iter()
        .find(|a| a.role_name == role)
        .unwrap()
}

/// Pages a v1 route with limit 100; returns (ids, totals reported on each page).
async fn page_v1(api: &Api, path: &str) -> (Vec<String>, HashSet<u64>) {
    let (mut ids, mut totals, mut skip) = (Vec::new(), HashSet::new(), 0);
    loop {
        let (status, _, body) = api
            .json(&format!("{path}?limit=100&skip={skip}&sort=_id"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let total = body["totalCount"].as_u64().unwrap();
        totals.insert(total);
        let results = body["results"].as_array().unwrap();
        ids.extend(
            results
                .iter()
                .map(|r| r["_id"].as_str().unwrap().to_string()),
        );
        skip += results.len();
        if results.len() < 100 || skip as u64 >= total {
            return (ids, totals);
        }
    }
}

/// Pages a v2 route with `limit`; returns (ids, totals from `x-total-count`).
async fn page_v2(api: &Api, path: &str, limit: usize) -> (Vec<String>, HashSet<u64>) {
    let (mut ids, mut totals, mut skip) = (Vec::new(), HashSet::new(), 0);
    loop {
        let (status, headers, body) = api.json(&format!("{path}?limit={limit}&skip={skip}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let total: u64 = headers["x-total-count"].to_str().unwrap().parse().unwrap();
        totals.insert(total);
        let results = body.as_array().unwrap();
        ids.extend(results.iter().map(|r| {
            r["id"]
                .as_str()
                .or(r["system_id"].as_str())
                .unwrap()
                .to_string()
        }));
        skip += results.len();
        if results.len() < limit || skip as u64 >= total {
            return (ids, totals);
        }
    }
}

fn assert_exact(ids: &[String], totals: &HashSet<u64>, expected: usize, what: &str) {
    assert_eq!(ids.len(), expected, "{what}: records");
    assert_eq!(totals, &HashSet::from([expected as u64]), "{what}: totals");
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), expected, "{what}: duplicates");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "{what}: not in id order"
    );
}

#[tokio::test]
async fn v1_and_v2_pagination_is_exact_at_page_boundaries() {
    for n in [0, 1, 99, 100, 101] {
        let sim = start(OrgSize {
            users: n,
            devices: n,
            applications: n,
            user_groups: n,
            device_groups: n,
            policies: 1,
            ..empty_org()
        })
        .await;
        let api = Api::new(&sim, Region::Us);
        for path in ["api/systemusers", "api/systems", "api/applications"] {
            let (ids, totals) = page_v1(&api, path).await;
            assert_exact(&ids, &totals, n, path);
        }
        for path in ["api/v2/usergroups", "api/v2/systemgroups"] {
            let (ids, totals) = page_v2(&api, path, 100).await;
            assert_exact(&ids, &totals, n, path);
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn pagination_is_exact_at_10001_records() {
    let sim = start(OrgSize {
        users: 10_001,
        user_groups: 10_001,
        ..empty_org()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let (ids, totals) = page_v1(&api, "api/systemusers").await;
    assert_exact(&ids, &totals, 10_001, "users");
    let (ids, totals) = page_v2(&api, "api/v2/usergroups", 100).await;
    assert_exact(&ids, &totals, 10_001, "user groups");
    // The last page holds exactly one record, and a skip past the end gives an empty page.
    let (_, _, body) = api.json("api/systemusers?limit=100&skip=10000").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let (_, _, body) = api.json("api/systemusers?limit=100&skip=20000").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 0);
    assert_eq!(body["totalCount"], 10_001);
}

#[tokio::test]
async fn system_insights_pages_up_to_10000_and_only_covers_enabled_devices() {
    let sim = start(OrgSize {
        devices: 300,
        ..empty_org()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let (_, _, systems) = api.json("api/systems?limit=100").await;
    let mut enabled = 0;
    let (mut mac, mut windows) = (HashSet::new(), HashSet::new());
    for skip in [0, 100, 200] {
        let (_, _, page) = api
            .json(&format!("api/systems?limit=100&skip={skip}"))
            .await;
        for s in page["results"].as_array().unwrap() {
            if s["systemInsights"]["state"] == "enabled" {
                enabled += 1;
                match s["osFamily"].as_str().unwrap() {
                    "darwin" => mac.insert(s["_id"].as_str().unwrap().to_string()),
                    "windows" => windows.insert(s["_id"].as_str().unwrap().to_string()),
                    _ => false,
                };
            }
        }
    }
    assert_eq!(systems["totalCount"], 300);
    assert!(enabled < 300, "some devices must have System Insights off");

    let (ids, totals) = page_v2(&api, "api/v2/systeminsights/os_version", 10_000).await;
    assert_eq!(ids.len(), enabled);
    assert_eq!(totals, HashSet::from([enabled as u64]));
    let (ids, _) = page_v2(&api, "api/v2/systeminsights/os_version", 7).await;
    assert_eq!(ids.len(), enabled, "small pages give the same rows");
    let (alf, _) = page_v2(&api, "api/v2/systeminsights/alf", 10_000).await;
    assert_eq!(
        alf.iter().cloned().collect::<HashSet<_>>(),
        mac,
        "alf rows exist for SI-enabled Macs only"
    );
    let (bitlocker, _) = page_v2(&api, "api/v2/systeminsights/bitlocker_info", 10_000).await;
    assert_eq!(bitlocker.iter().cloned().collect::<HashSet<_>>(), windows);
    let (products, _) = page_v2(
        &api,
        "api/v2/systeminsights/windows_security_products",
        10_000,
    )
    .await;
    assert_eq!(
        products.len(),
        2 * windows.len(),
        "an antivirus and a firewall row per Windows device"
    );
    for table in ["disk_encryption", "windows_security_center"] {
        let (status, _, _) = api
            .json(&format!("api/v2/systeminsights/{table}?limit=10000"))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    let one = mac.iter().next().unwrap();
    let (_, headers, rows) = api
        .json(&format!(
            "api/v2/systeminsights/alf?limit=10&filter=system_id:eq:{one}"
        ))
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(headers["x-total-count"], "1");
    assert_eq!(rows[0]["system_id"], one.as_str());

    let (status, _, body) = api.json("api/v2/systeminsights/alf?limit=10001").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("10000"),
        "{body}"
    );
}

#[tokio::test]
async fn limits_above_the_maximum_are_rejected_like_jumpcloud() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    for path in [
        "api/systemusers",
        "api/systems",
        "api/applications",
        "api/organizations",
        "api/users",
        "api/v2/policies",
        "api/v2/usergroups",
        "api/v2/roles",
        "api/v2/authn/policies",
    ] {
        let (status, _, body) = api.json(&format!("{path}?limit=101")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{path}: {body}"
        );
        let (status, _, _) = api.json(&format!("{path}?limit=100")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, _) = api.json("api/systemusers?limit=ten").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = api.json("api/systemusers?skip=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Default page size is 10, and `-_id` reverses the stable order.
    let (_, _, body) = api.json("api/systemusers").await;
    assert_eq!(body["results"].as_array().unwrap().len(), 10);
    let (_, _, asc) = api.json("api/systemusers?limit=100&sort=_id").await;
    let (_, _, desc) = api.json("api/systemusers?limit=100&sort=-_id").await;
    let mut reversed = desc["results"].as_array().unwrap().clone();
    reversed.reverse();
    assert_eq!(&reversed, asc["results"].as_array().unwrap());
}

#[tokio::test]
async fn authentication_rejects_missing_unknown_foreign_revoked_and_expired_keys() {
    let sim = start_with(SimulatorConfig {
        regions: vec![Region::Us, Region::Eu],
        now: Some(fixed_now()),
        ..SimulatorConfig::default()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let not_found =
        json!({"error": "Unauthorized", "message": "Unauthorized: api key user not found"});

    let (status, _, _) = api.json("api/systemusers").await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = send(api.http.get(api.base.join("api/systemusers").unwrap())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "missing key: {body}");

    let wrong = api.with_key(SecretString::from(format!("jca_{}", "x".repeat(36))));
    let (status, _, body) = wrong.json("api/systemusers").await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, not_found.clone())
    );

    let foreign = api.with_key(sim.read_only_key(Region::Eu));
    let (status, _, body) = foreign.json("api/systemusers").await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, not_found.clone()),
        "an EU key on the US host"
    );
    let (status, _, _) = Api::new(&sim, Region::Eu).json("api/systemusers").await;
    assert_eq!(status, StatusCode::OK, "the EU key works on the EU host");

    // The admin generated with an already expired key.
    let expired_admin = sim
        .admins(Region::Us)
        .into_iter()
        .find(|a| a.key_expires_at.is_some_and(|t| t < fixed_now()))
        .unwrap();
    let (status, _, body) = api
        .with_key(expired_admin.api_key.unwrap())
        .json("api/systems")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let control = api.control();
    let manager = admin(&sim, "Manager");
    let manager_api = api.with_key(manager.api_key.clone().unwrap());
    assert_eq!(manager_api.json("api/systems").await.0, StatusCode::OK);
    control.expire_key(&manager.id).await.unwrap();
    assert_eq!(
        manager_api.json("api/systems").await.0,
        StatusCode::UNAUTHORIZED,
        "expired through the control API"
    );
    control.set_key_expiry(&manager.id, None).await.unwrap();
    assert_eq!(
        manager_api.json("api/systems").await.0,
        StatusCode::OK,
        "expiry cleared"
    );

    let new_key = control.issue_key(&manager.id, None).await.unwrap();
    assert_ne!(
        new_key.expose_secret(),
        manager.api_key.as_ref().unwrap().expose_secret()
    );
    let (status, _, body) = manager_api.json("api/systems").await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, not_found.clone()),
        "the old key stops working"
    );
    assert_eq!(
        api.with_key(new_key.clone()).json("api/systems").await.0,
        StatusCode::OK,
        "the new key works"
    );
    assert_eq!(
        admin(&sim, "Manager").api_key.unwrap().expose_secret(),
        new_key.expose_secret(),
        "Simulator::admins sees the new key"
    );

    control.revoke_key(&manager.id).await.unwrap();
    let (status, _, body) = api.with_key(new_key).json("api/systems").await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, not_found));
    assert!(admin(&sim, "Manager").api_key.is_none());
}

#[tokio::test]
async fn command_runner_keys_may_only_read_their_own_admin() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us).with_key(admin(&sim, "Command Runner").api_key.unwrap());
    for path in ["api/systemusers", "api/organizations", "api/v2/policies"] {
        let (status, _, body) = api.json(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            body["message"].as_str().unwrap().starts_with("Forbidden"),
            "{body}"
        );
    }
    let (status, _, body) =
        send(api.events(json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, me) = api.json("api/users/getSelf").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["roleName"], "Command Runner");
}

#[tokio::test]
async fn get_self_and_admin_list_expose_roles_and_key_expiry() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let (status, _, me) = api.json("api/users/getSelf").await;
    assert_eq!(status, StatusCode::OK);
    let read_only = admin(&sim, "Read Only");
    assert_eq!(me["_id"], read_only.id.as_str());
    assert_eq!(me["roleName"], "Read Only");
    assert_eq!(me["apiKeyHash"]["expireAt"], "2027-06-01T12:00:00.000Z");
    assert!(me["apiKeyHash"]["createdAt"].is_string());
    let prefix = me["apiKeyHash"]["prefix"].as_str().unwrap();
    assert!(
        read_only
            .api_key
            .unwrap()
            .expose_secret()
            .starts_with(prefix)
            && prefix.len() < 10
    );

    let (ids, totals) = page_v1(&api, "api/users").await;
    let admins = sim.admins(Region::Us);
    assert_exact(&ids, &totals, admins.len(), "admins");
    assert_eq!(
        admins.iter().filter(|a| a.role_name == "Read Only").count(),
        1
    );
    let soon = fixed_now() + jiff::SignedDuration::from_hours(24 * 10);
    assert!(
        admins.iter().any(|a| a
            .key_expires_at
            .is_some_and(|t| t > fixed_now() && t < soon)),
        "a key expiring within 10 days"
    );
    assert!(
        admins
            .iter()
            .any(|a| a.api_key.is_some() && a.key_expires_at.is_none()),
        "a key without expiry"
    );
    assert!(
        admins.iter().any(|a| a.api_key.is_none()),
        "an admin without key"
    );

    let (status, _, roles) = api.json("api/v2/roles?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    assert!(roles["totalCount"].as_u64().unwrap() >= 8);
    assert!(
        roles["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "Read Only")
    );
}

#[tokio::test]
async fn org_header_rules_single_and_multi_tenant() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let org_id = sim.org_id(Region::Us).unwrap();
    let forbidden = json!({"message": "Forbidden: organization selection not allowed via header", "error": "Forbidden: organization selection not allowed via header"});
    for path in [
        "api/organizations",
        "api/users",
        "api/users/getSelf",
        &format!("api/organizations/{org_id}"),
    ] {
        let (status, _, body) = send(api.get(path).header("x-org-id", &org_id)).await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, forbidden.clone()),
            "{path}"
        );
    }
    // Single tenant: the header is optional on org routes; an empty one works too.
    assert_eq!(
        send(api.get("api/systemusers").header("x-org-id", &org_id))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(api.get("api/systemusers").header("x-org-id", ""))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(api.get("api/systemusers").header("x-org-id", "not-an-id"))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            api.get("api/systemusers")
                .header("x-org-id", "0123456789abcdef01234567")
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    let (_, _, orgs) = api.json("api/organizations").await;
    assert_eq!(orgs["totalCount"], 1);
    let (status, _, org) = api.json(&format!("api/organizations/{org_id}")).await;
    assert_eq!(status, StatusCode::OK);
    for field in ["requireAdminMFA", "passwordPolicy", "features"] {
        assert!(!org["settings"][field].is_null(), "{field}");
    }
    assert_eq!(org["settings"]["passwordPolicy"]["minLength"], 10);
    assert_eq!(
        org["settings"]["features"]["directoryInsights"]["enabled"],
        true
    );
    assert!(org["settings"]["features"]["systemInsights"]["enabled"].is_boolean());

    // Multi-tenant: the Read Only admin gets a second org.
    let control = api.control();
    let read_only = admin(&sim, "Read Only");
    let second = control
        .add_org(std::slice::from_ref(&read_only.id))
        .await
        .unwrap();
    assert_eq!(
        admin(&sim, "Read Only").org_ids,
        vec![org_id.clone(), second.clone()]
    );
    let (status, _, body) = api.json("api/systemusers").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Unauthorized", "message": "Unauthorized: no organization selected"})
        )
    );
    let (status, _, body) =
        send(api.events(json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"}))).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"message": "Unauthorized: no organization selected"})
        )
    );
    let (status, _, first_users) = send(
        api.get("api/systemusers?limit=100")
            .header("x-org-id", &org_id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, second_users) = send(
        api.get("api/systemusers?limit=100")
            .header("x-org-id", &second),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(first_users["totalCount"], second_users["totalCount"]);
    assert_eq!(second_users["results"][0]["organization"], second.as_str());
    let (status, _, events) = send(
        api.events(
            json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z", "limit": 10000}),
        )
        .header("x-org-id", &org_id)
        .header("x-org-id", &second),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let orgs_seen: HashSet<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["organization"].as_str().unwrap())
        .collect();
    assert_eq!(
        orgs_seen,
        HashSet::from([org_id.as_str(), second.as_str()]),
        "DI takes repeated x-org-id"
    );
    let (_, _, orgs) = api.json("api/organizations").await;
    assert_eq!(orgs["totalCount"], 2);
    assert_eq!(
        api.json(&format!("api/organizations/{second}")).await.0,
        StatusCode::OK
    );

    // Another admin does not reach the second org.
    let manager = api.with_key(admin(&sim, "Manager").api_key.unwrap());
    assert_eq!(
        manager.json("api/systemusers").await.0,
        StatusCode::OK,
        "single-tenant admin needs no header"
    );
    assert_eq!(
        send(manager.get("api/systemusers").header("x-org-id", &second))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        manager.json(&format!("api/organizations/{second}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn directory_insights_pages_with_search_after_and_answers_402_when_unlicensed() {
    for n in [0usize, 1, 99, 100, 101] {
        let sim = start(OrgSize {
            users: 20,
            events: n,
            ..empty_org()
        })
        .await;
        let api = Api::new(&sim, Region::Us);
        let mut ids = Vec::new();
        let mut search_after: Option<Value> = None;
        loop {
            let mut body = json!({"service": ["all"], "start_time": "2026-04-01T00:00:00Z", "end_time": "2026-06-02T00:00:00Z", "limit": 100});
            if let Some(after) = &search_after {
                body["search_after"] = after.clone();
            }
            let (status, headers, page) = send(api.events(body)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let count: usize = headers["x-result-count"].to_str().unwrap().parse().unwrap();
            let limit: usize = headers["x-limit"].to_str().unwrap().parse().unwrap();
            assert_eq!(count, page.as_array().unwrap().len());
            assert_eq!(limit, 100);
            ids.extend(
                page.as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string()),
            );
            search_after =
                Some(serde_json::from_str(headers["x-search_after"].to_str().unwrap()).unwrap());
            if count < limit {
                break;
            }
        }
        assert_eq!(ids.len(), n);
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), n);
    }

    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let (status, _, asc) =
        send(api.events(
            json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z", "limit": 10000}),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let asc = asc.as_array().unwrap().clone();
    assert_eq!(asc.len(), OrgSize::small().events);
    let (_, _, desc) = send(api.events(json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z", "limit": 10000, "sort": "DESC"}))).await;
    let mut desc = desc.as_array().unwrap().clone();
    desc.reverse();
    assert_eq!(asc, desc);
    let (_, _, sso) =
        send(api.events(
            json!({"service": ["sso"], "start_time": "2026-05-01T00:00:00Z", "limit": 10000}),
        ))
        .await;
    assert!(
        !sso.as_array().unwrap().is_empty()
            && sso
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["service"] == "sso")
    );
    let (_, headers, _) =
        send(api.events(json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"}))).await;
    assert_eq!(headers["x-limit"], "1000", "default limit");

    // `/events/count` agrees with what paging returns, for all services and for one.
    let count = |body: Value| {
        api.http
            .post(api.base.join("insights/directory/v1/events/count").unwrap())
            .header("x-api-key", api.key.expose_secret())
            .json(&body)
    };
    let (status, _, all_count) = send(count(
        json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{all_count}");
    assert_eq!(all_count["count"], json!(asc.len()));
    let (_, _, sso_count) = send(count(
        json!({"service": ["sso"], "start_time": "2026-05-01T00:00:00Z"}),
    ))
    .await;
    assert_eq!(sso_count["count"], json!(sso.as_array().unwrap().len()));

    for bad in [
        json!({"service": ["all"]}),
        json!({"start_time": "2026-05-01T00:00:00Z"}),
        json!({"service": ["all"], "start_time": "yesterday"}),
        json!({"service": ["nope"], "start_time": "2026-05-01T00:00:00Z"}),
    ] {
        let (status, _, body) = send(api.events(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["message"].is_string());
    }

    api.control().set_directory_insights(false).await.unwrap();
    let (status, _, body) =
        send(api.events(json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"}))).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert!(body["message"].is_string());
    let (_, _, org) = api
        .json(&format!(
            "api/organizations/{}",
            sim.org_id(Region::Us).unwrap()
        ))
        .await;
    assert_eq!(
        org["settings"]["features"]["directoryInsights"]["enabled"],
        false
    );
}

#[tokio::test]
async fn status_faults_answer_429_and_5xx_for_the_next_n_matching_requests() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let control = api.control();
    control
        .inject(
            Fault::new(FaultKind::Status {
                status: 429,
                retry_after_secs: Some(3),
            })
            .times(2)
            .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    assert_eq!(
        api.json("api/systems").await.0,
        StatusCode::OK,
        "other paths are not affected"
    );
    for _ in 0..2 {
        let (status, headers, body) = api.json("api/systemusers").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "3");
        assert!(body["message"].is_string());
    }
    assert_eq!(
        api.json("api/systemusers").await.0,
        StatusCode::OK,
        "the fault is used up"
    );

    control
        .inject(Fault::new(FaultKind::Status {
            status: 429,
            retry_after_secs: None,
        }))
        .await
        .unwrap();
    let (status, headers, _) = api.json("api/v2/policies").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_none());

    for code in [500u16, 502, 503, 504] {
        control
            .inject(Fault::new(FaultKind::Status {
                status: code,
                retry_after_secs: None,
            }))
            .await
            .unwrap();
        let (status, _, body) = api.json("api/systems").await;
        assert_eq!(status.as_u16(), code);
        assert!(body["error"].is_string() && body["message"].is_string());
    }
    assert_eq!(api.json("api/systems").await.0, StatusCode::OK);

    control
        .inject(
            Fault::new(FaultKind::Status {
                status: 503,
                retry_after_secs: None,
            })
            .times(5),
        )
        .await
        .unwrap();
    assert_eq!(control.faults().await.unwrap().len(), 1);
    control.clear_faults().await.unwrap();
    assert_eq!(
        api.json("api/systems").await.0,
        StatusCode::OK,
        "faults cleared"
    );
}

#[tokio::test]
async fn delay_malformed_and_grow_faults() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let control = api.control();

    control
        .inject(Fault::new(FaultKind::Delay { delay_ms: 5_000 }))
        .await
        .unwrap();
    let error = api
        .get("api/systems")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");

    control
        .inject(Fault::new(FaultKind::Malformed))
        .await
        .unwrap();
    let response = api.get("api/systemusers?limit=5").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.unwrap();
    assert!(
        !body.is_empty() && serde_json::from_slice::<Value>(&body).is_err(),
        "truncated JSON"
    );
    assert_eq!(api.json("api/systemusers?limit=5").await.0, StatusCode::OK);

    control
        .inject(
            Fault::new(FaultKind::Grow {
                records: GrowRecords::Users,
                count: 1,
            })
            .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let (_, _, first) = api.json("api/systemusers?limit=100").await;
    let (_, _, second) = api.json("api/systemusers?limit=100&skip=100").await;
    assert_eq!(
        first["totalCount"].as_u64().unwrap() + 1,
        second["totalCount"].as_u64().unwrap(),
        "a user was added between pages"
    );
    let (_, _, all) = api.json("api/systemusers?limit=100").await;
    let newest = all["results"].as_array().unwrap().last().unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, headers, _) = api.json(&format!("api/v2/users/{newest}/systems")).await;
    assert_eq!(
        (status, headers["x-total-count"].to_str().unwrap()),
        (StatusCode::OK, "0"),
        "the new user has no bindings yet"
    );

    control
        .inject(Fault::new(FaultKind::Grow {
            records: GrowRecords::Systems,
            count: 2,
        }))
        .await
        .unwrap();
    let (_, _, before) = api.json("api/systems?limit=1").await;
    let (_, _, after) = api.json("api/systems?limit=1").await;
    assert_eq!(
        before["totalCount"].as_u64().unwrap() + 2,
        after["totalCount"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn counters_count_requests_per_path_key_and_status() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let control = api.control();
    let manager = admin(&sim, "Manager");
    api.json("api/systemusers").await;
    api.json("api/systemusers?skip=10").await;
    api.json("api/v2/policies").await;
    let revoked_key = manager.api_key.clone().unwrap();
    control.revoke_key(&manager.id).await.unwrap();
    api.with_key(revoked_key.clone()).json("api/systems").await;
    send(api.http.get(api.base.join("api/systems").unwrap())).await;

    let counters = control.counters().await.unwrap();
    assert_eq!(counters.total, 5, "control requests are not counted");
    assert_eq!(counters.by_path["/api/systemusers"], 2);
    assert_eq!(counters.for_path_prefix("/api/v2/"), 1);
    assert_eq!(counters.for_key(&api.key), 3);
    assert_eq!(counters.for_key(&revoked_key), 1);
    assert_eq!(counters.by_key["none"], 1);
    assert_eq!(counters.by_status["200"], 3);
    assert_eq!(counters.by_status["401"], 2);
    let printed = serde_json::to_string(&counters).unwrap();
    assert!(
        !printed.contains(api.key.expose_secret()),
        "counters hold fingerprints, not keys"
    );

    control.reset().await.unwrap();
    assert_eq!(control.counters().await.unwrap().total, 0);
}

#[tokio::test]
async fn same_seed_gives_byte_identical_orgs() {
    async fn snapshot(seed: u64) -> Vec<Vec<u8>> {
        let sim = start_with(SimulatorConfig {
            seed,
            now: Some(fixed_now()),
            ..SimulatorConfig::default()
        })
        .await;
        let api = Api::new(&sim, Region::Us);
        let (_, _, policies) = api.json("api/v2/policies?limit=100").await;
        let policy = policies[0]["id"].as_str().unwrap().to_string();
        let mut out = Vec::new();
        for path in [
            "api/systemusers?limit=100".to_string(),
            "api/systems?limit=100".into(),
            "api/applications?limit=100".into(),
            "api/users?limit=100".into(),
            "api/v2/usergroups?limit=100".into(),
            "api/v2/authn/policies?limit=100".into(),
            "api/v2/systeminsights/os_version?limit=10000".into(),
            format!("api/v2/policies/{policy}/policystatuses?limit=100"),
        ] {
            out.push(
                api.get(&path)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
                    .to_vec(),
            );
        }
        let events = api.events(
            json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z", "limit": 10000}),
        );
        out.push(events.send().await.unwrap().bytes().await.unwrap().to_vec());
        out.push(
            sim.read_only_key(Region::Us)
                .expose_secret()
                .as_bytes()
                .to_vec(),
        );
        out
    }
    let a = snapshot(7).await;
    let b = snapshot(7).await;
    assert!(a == b, "same seed, same bytes");
    let c = snapshot(8).await;
    assert!(
        a[0] != c[0] && a[a.len() - 1] != c[c.len() - 1],
        "another seed, another org and keys"
    );
}

#[tokio::test]
async fn graph_routes_and_policy_results_are_consistent() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let (systems, _) = page_v1(&api, "api/systems").await;
    let systems: HashSet<String> = systems.into_iter().collect();
    let (_, _, policies) = api.json("api/v2/policies?limit=100").await;
    let mut ghosts = 0;
    for policy in policies.as_array().unwrap() {
        let id = policy["id"].as_str().unwrap();
        let (status, _, detail) = api.json(&format!("api/v2/policies/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(detail["values"].is_array() && detail["template"]["osMetaFamily"].is_string());
        let (_, _, statuses) = api
            .json(&format!("api/v2/policies/{id}/policystatuses?limit=100"))
            .await;
        ghosts += statuses
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !systems.contains(s["systemID"].as_str().unwrap()))
            .count();
    }
    assert!(
        ghosts > 0,
        "results for deleted devices exist (support PR #358)"
    );
    let (_, _, screen_lock) = api
        .json(&format!(
            "api/v2/policies/{}",
            policies[0]["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        screen_lock["values"][0]["value"].as_u64().is_some(),
        "{screen_lock}"
    );

    let (_, _, groups) = api.json("api/v2/usergroups?limit=100").await;
    let all = groups[0]["id"].as_str().unwrap();
    let (_, headers, members) = api
        .json(&format!("api/v2/usergroups/{all}/membership?limit=100"))
        .await;
    assert_eq!(headers["x-total-count"], "60");
    let user = members[0]["id"].as_str().unwrap();
    for route in ["systems", "applications", "memberof"] {
        let (status, headers, _) = api.json(&format!("api/v2/users/{user}/{route}")).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert!(headers.contains_key("x-total-count"));
    }
    let (_, _, apps) = api.json("api/applications?limit=100").await;
    let app = apps["results"][0]["_id"].as_str().unwrap();
    let (_, headers, _) = api
        .json(&format!("api/v2/applications/{app}/users?limit=100"))
        .await;
    assert!(
        headers["x-total-count"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let (status, _, _) = api
        .json(&format!("api/v2/applications/{app}/usergroups"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, sg) = api.json("api/v2/systemgroups?limit=100").await;
    let (status, _, _) = api
        .json(&format!(
            "api/v2/systemgroups/{}/membership",
            sg[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.json("api/v2/users/0123456789abcdef01234567/systems")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.json("api/v2/nothing").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn simulate_subcommand_prints_urls_and_writes_credentials_without_leaking_keys() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_jumpcloud-operator"))
        .args([
            "simulate",
            "--users",
            "5",
            "--devices",
            "5",
            "--regions",
            "us,eu",
            "--credentials-file",
        ])
        .arg(&credentials)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let us = ready["regions"]["us"].as_str().unwrap().to_string();
    assert!(us.starts_with("http://127.0.0.1:") && ready["regions"]["eu"].is_string());

    let written: Value = serde_json::from_slice(&std::fs::read(&credentials).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&credentials)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let admins = written["regions"]["us"]["admins"].as_array().unwrap();
    let key = admins
        .iter()
        .find(|a| a["role_name"] == "Read Only")
        .unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let response = reqwest::Client::new()
        .get(format!("{us}/api/systemusers"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["totalCount"], 5);

    // SIGTERM-free stop that works everywhere; then check nothing printed a key.
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let printed = format!(
        "{line}{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for admin in admins {
        if let Some(k) = admin["api_key"].as_str() {
            assert!(!printed.contains(k), "a key was printed");
            assert!(!printed.contains(&k[..12]));
        }
    }
    assert!(printed.contains("Read Only"), "{printed}");
}

#[tokio::test]
async fn response_delay_applies_to_the_api_but_not_to_the_control_api() {
    let sim = start_with(SimulatorConfig {
        response_delay: Duration::from_secs(5),
        now: Some(fixed_now()),
        ..SimulatorConfig::default()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let error = api
        .get("api/systems")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let control = sim.control(Region::Us).unwrap();
    let admins = control.admins().await.unwrap();
    assert_eq!(admins.len(), sim.admins(Region::Us).len());
    let read_only = admins.iter().find(|a| a.role_name == "Read Only").unwrap();
    assert_eq!(
        read_only.api_key.as_deref(),
        Some(sim.read_only_key(Region::Us).expose_secret())
    );
    let orgs = control.orgs().await.unwrap();
    let org = &orgs[&sim.org_id(Region::Us).unwrap()];
    assert_eq!(org["users"], OrgSize::small().users);
    assert_eq!(org["systems"], OrgSize::small().devices);
    assert_eq!(org["events"], OrgSize::small().events);
    assert!(sim.control(Region::Eu).is_none() && sim.base_url(Region::Eu).is_none());
}

#[tokio::test]
async fn shift_no_total_reset_and_get_self_controls_and_the_request_log() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let control = api.control();
    let ids = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["_id"].as_str().unwrap().to_owned())
            .collect()
    };

    // Sorting: `_id` ascending is the stable order; `-_id` reverses it.
    let (_, _, ascending) = api.json("api/systemusers?limit=100&sort=_id").await;
    let (_, _, descending) = api.json("api/systemusers?limit=100&sort=-_id").await;
    let mut reversed = ids(&descending);
    reversed.reverse();
    assert_eq!(ids(&ascending), reversed);
    let mut sorted = ids(&ascending);
    sorted.sort();
    assert_eq!(ids(&ascending), sorted);

    // shift: the page starts earlier but keeps its length and total.
    control
        .inject(Fault::new(FaultKind::Shift { by: 2 }).on_path("/api/systemusers"))
        .await
        .unwrap();
    let (_, _, shifted) = api.json("api/systemusers?limit=10&skip=10&sort=_id").await;
    assert_eq!(ids(&shifted), ids(&ascending)[8..18]);
    assert_eq!(shifted["totalCount"], ascending["totalCount"]);
    let (_, _, last) = {
        control
            .inject(Fault::new(FaultKind::Shift { by: 2 }).on_path("/api/systemusers"))
            .await
            .unwrap();
        api.json("api/systemusers?limit=100&skip=55&sort=_id").await
    };
    assert_eq!(
        ids(&last),
        ids(&ascending)[53..58],
        "the last page keeps its length"
    );

    // no_total: no header on v2, no totalCount in a v1 envelope.
    control
        .inject(Fault::new(FaultKind::NoTotal).times(2))
        .await
        .unwrap();
    let (status, headers, groups) = api.json("api/v2/usergroups?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-total-count").is_none());
    assert_eq!(groups.as_array().unwrap().len(), 5);
    let (_, _, users) = api.json("api/systemusers?limit=5").await;
    assert!(users.get("totalCount").is_none(), "{users}");
    assert_eq!(users["results"].as_array().unwrap().len(), 5);

    // reset: the headers arrive, then the connection drops mid-body.
    control
        .inject(Fault::new(FaultKind::Reset).on_path("/api/systems"))
        .await
        .unwrap();
    let response = api.get("api/systems?limit=5").send().await;
    let failed = match response {
        Ok(response) => response.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(failed, "the body must not arrive");
    assert_eq!(api.json("api/systems?limit=5").await.0, StatusCode::OK);

    // get-self: 404 or 405 as if the undocumented route did not exist, then back.
    for code in [404u16, 405] {
        control.set_get_self_status(Some(code)).await.unwrap();
        let (status, _, body) = api.json("api/users/getSelf").await;
        assert_eq!(status.as_u16(), code);
        assert!(body["message"].is_string(), "{body}");
    }
    control.set_get_self_status(None).await.unwrap();
    assert_eq!(api.json("api/users/getSelf").await.0, StatusCode::OK);

    // The request log holds each API request with its query and status, in order.
    let log = control.requests().await.unwrap();
    let first = &log[0];
    assert_eq!(first.path, "/api/systemusers");
    assert_eq!(first.param("sort").as_deref(), Some("_id"));
    assert_eq!(first.param("limit").as_deref(), Some("100"));
    assert!(first.finished_ms >= first.started_ms);
    assert!(
        log.iter()
            .any(|r| r.path == "/api/systems" && r.status == 0)
    );
    let counters = control.counters().await.unwrap();
    assert_eq!(counters.total, log.len() as u64);
    assert!(counters.max_in_flight >= 1);
    control.reset().await.unwrap();
    assert!(control.requests().await.unwrap().is_empty());
}

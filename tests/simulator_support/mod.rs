//! Shared setup for the simulator's HTTP tests: a simulator on a fixed clock, a raw reqwest
//! client with a key, and paging helpers that check totals, duplicates and order. No JumpCloud
//! client involved: these tests pin the simulator's wire behaviour on its own.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::HashSet;

use jiff::Timestamp;
use jumpcloud_simulator::{
    OrgSize, Region, SimAdmin, Simulator, SimulatorConfig, SimulatorControl,
};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub fn fixed_now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

pub fn empty_org() -> OrgSize {
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

pub async fn start(org: OrgSize) -> Simulator {
    start_with(SimulatorConfig {
        org,
        now: Some(fixed_now()),
        ..SimulatorConfig::default()
    })
    .await
}

pub async fn start_with(config: SimulatorConfig) -> Simulator {
    Simulator::start(config).await.expect("simulator starts")
}

pub struct Api {
    pub base: url::Url,
    pub http: reqwest::Client,
    pub key: SecretString,
    /// The region's first organization: the `x-org-id` Directory Insights requests carry.
    pub org_id: String,
}

impl Api {
    pub fn new(sim: &Simulator, region: Region) -> Self {
        Api {
            base: sim.base_url(region).unwrap(),
            http: reqwest::Client::new(),
            key: sim.read_only_key(region),
            org_id: sim.org_id(region).unwrap(),
        }
    }

    pub fn with_key(&self, key: SecretString) -> Self {
        Api {
            base: self.base.clone(),
            http: self.http.clone(),
            key,
            org_id: self.org_id.clone(),
        }
    }

    pub fn control(&self) -> SimulatorControl {
        SimulatorControl::new(self.base.clone())
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.base.join(path).unwrap())
            .header("x-api-key", self.key.expose_secret())
    }

    /// `POST /events` with the key and the organization id, as Directory Insights documents.
    pub fn events(&self, body: Value) -> reqwest::RequestBuilder {
        self.events_without_org(body)
            .header("x-org-id", &self.org_id)
    }

    /// `POST /events` with the key only: the caller adds `x-org-id` headers, or none.
    pub fn events_without_org(&self, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.base.join("insights/directory/v1/events").unwrap())
            .header("x-api-key", self.key.expose_secret())
            .json(&body)
    }

    pub async fn json(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        send(self.get(path)).await
    }
}

pub async fn send(
    request: reqwest::RequestBuilder,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, headers, value)
}

pub fn admin(sim: &Simulator, role: &str) -> SimAdmin {
    sim.admins(Region::Us)
        .into_iter()
        .find(|a| a.role_name == role)
        .unwrap()
}

/// Pages a v1 route with limit 100; returns (ids, totals reported on each page).
pub async fn page_v1(api: &Api, path: &str) -> (Vec<String>, HashSet<u64>) {
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
pub async fn page_v2(api: &Api, path: &str, limit: usize) -> (Vec<String>, HashSet<u64>) {
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

pub fn assert_exact(ids: &[String], totals: &HashSet<u64>, expected: usize, what: &str) {
    assert_eq!(ids.len(), expected, "{what}: records");
    assert_eq!(totals, &HashSet::from([expected as u64]), "{what}: totals");
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), expected, "{what}: duplicates");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "{what}: not in id order"
    );
}

//! The simulator's hostile fault kinds and controls over raw HTTP: what exactly each one
//! answers, so the client tests built on them test what they claim.

use jumpcloud_simulator::control::{EchoInto, Fault, FaultKind};
use jumpcloud_simulator::{OrgSize, Region, Simulator, SimulatorConfig, SimulatorControl};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

struct Api {
    sim: Simulator,
    http: reqwest::Client,
    key: SecretString,
}

impl Api {
    async fn start() -> Self {
        let sim = Simulator::start(SimulatorConfig {
            org: OrgSize::small(),
            now: Some("2026-06-01T12:00:00Z".parse().unwrap()),
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let key = sim.read_only_key(Region::Us);
        Api {
            sim,
            http: reqwest::Client::new(),
            key,
        }
    }

    fn control(&self) -> SimulatorControl {
        SimulatorControl::new(self.sim.base_url(Region::Us).unwrap())
    }

    async fn fault(&self, kind: FaultKind, path: &str) {
        self.control()
            .inject(Fault::new(kind).on_path(path))
            .await
            .unwrap();
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        let url = self
            .sim
            .base_url(Region::Us)
            .unwrap()
            .join(path_and_query)
            .unwrap();
        self.http
            .get(url)
            .header("x-api-key", self.key.expose_secret())
            .send()
            .await
            .unwrap()
    }

    async fn events(&self) -> reqwest::Response {
        let url = self
            .sim
            .base_url(Region::Us)
            .unwrap()
            .join("insights/directory/v1/events")
            .unwrap();
        self.http
            .post(url)
            .header("x-api-key", self.key.expose_secret())
            .header("x-org-id", self.sim.org_id(Region::Us).unwrap())
            .json(&json!({"service": ["all"], "start_time": "2026-01-01T00:00:00Z", "limit": 100}))
            .send()
            .await
            .unwrap()
    }
}

const ECHO_TOTAL: FaultKind = FaultKind::EchoKey {
    into: EchoInto::Total,
};

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn echo_key_puts_the_key_into_a_total_or_a_record() {
    let api = Api::start().await;
    let key = api.key.expose_secret().to_owned();
    api.fault(ECHO_TOTAL, "/api/systemusers").await;
    let body: Value = api
        .get("api/systemusers?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["totalCount"], json!(key));
    assert_eq!(body["results"].as_array().unwrap().len(), 2);

    api.fault(ECHO_TOTAL, "/api/v2/usergroups").await;
    let response = api.get("api/v2/usergroups?limit=2").await;
    assert_eq!(header(&response, "x-total-count"), key);

    api.fault(
        FaultKind::EchoKey {
            into: EchoInto::Record,
        },
        "/api/systemusers",
    )
    .await;
    let body: Value = api
        .get("api/systemusers?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["results"][0]["echo"], json!(key));
    assert!(body["results"][1].get("echo").is_none());
    assert!(body["totalCount"].is_u64());
}

#[tokio::test]
async fn oversized_and_huge_record_pages() {
    let api = Api::start().await;
    api.fault(FaultKind::Oversized { records: 500 }, "/api/systemusers")
        .await;
    let body: Value = api
        .get("api/systemusers?limit=10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 500);
    assert_eq!(body["totalCount"], json!(60));

    api.fault(
        FaultKind::HugeRecord { bytes: 100_000 },
        "/api/v2/systeminsights/alf",
    )
    .await;
    let rows: Vec<Value> = api
        .get("api/v2/systeminsights/alf?limit=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["blob"].as_str().unwrap().len(), 100_000);
    assert!(rows[0]["system_id"].is_string());
}

#[tokio::test]
async fn no_total_later_spares_first_pages() {
    let api = Api::start().await;
    api.fault(FaultKind::NoTotalLater, "/api/systemusers").await;
    let first: Value = api
        .get("api/systemusers?limit=10&skip=0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["totalCount"], json!(60));
    let later: Value = api
        .get("api/systemusers?limit=10&skip=10")
        .await
        .json()
        .await
        .unwrap();
    assert!(later.get("totalCount").is_none(), "{later}");
    assert_eq!(later["results"].as_array().unwrap().len(), 10);
    assert!(api.control().faults().await.unwrap().is_empty());
}

#[tokio::test]
async fn repeat_cursor_and_endless_pages_never_end() {
    let api = Api::start().await;
    let control = api.control();
    control
        .inject(
            Fault::new(FaultKind::RepeatCursor)
                .times(2)
                .on_path("/insights/directory/v1/events"),
        )
        .await
        .unwrap();
    for _ in 0..2 {
        let response = api.events().await;
        assert_eq!(header(&response, "x-search_after"), "[0,\"repeat\"]");
        assert_eq!(header(&response, "x-result-count"), "100");
        let events: Vec<Value> = response.json().await.unwrap();
        assert_eq!(events.len(), 100);
    }
    control
        .inject(
            Fault::new(FaultKind::EndlessPages)
                .times(2)
                .on_path("/insights/directory/v1/events"),
        )
        .await
        .unwrap();
    let mut cursors = Vec::new();
    for _ in 0..2 {
        let response = api.events().await;
        assert_eq!(header(&response, "x-result-count"), "100");
        cursors.push(header(&response, "x-search_after"));
        let events: Vec<Value> = response.json().await.unwrap();
        assert_eq!(events.len(), 1);
    }
    assert_ne!(cursors[0], cursors[1]);
}

#[tokio::test]
async fn route_status_and_insights_rows_controls() {
    let api = Api::start().await;
    let control = api.control();
    control
        .set_route_status("/api/users", Some(404))
        .await
        .unwrap();
    assert_eq!(api.get("api/users").await.status(), StatusCode::NOT_FOUND);
    // Exact paths only: getSelf is untouched.
    assert_eq!(api.get("api/users/getSelf").await.status(), StatusCode::OK);
    control.set_route_status("/api/users", None).await.unwrap();
    assert_eq!(api.get("api/users").await.status(), StatusCode::OK);

    control
        .set_insights_rows("os_version", 10_003)
        .await
        .unwrap();
    let response = api
        .get("api/v2/systeminsights/os_version?limit=10000&skip=10000")
        .await;
    assert_eq!(header(&response, "x-total-count"), "10003");
    let rows: Vec<Value> = response.json().await.unwrap();
    assert_eq!(rows.len(), 3);
    let all: Vec<Value> = api
        .get("api/v2/systeminsights/os_version?limit=10000")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = all
        .iter()
        .map(|r| r["system_id"].as_str().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "in system_id order");
    let texts: std::collections::HashSet<String> = all.iter().map(Value::to_string).collect();
    assert_eq!(texts.len(), all.len(), "every row distinct");
    control.set_insights_rows("os_version", 3).await.unwrap();
    let response = api.get("api/v2/systeminsights/os_version?limit=10").await;
    assert_eq!(header(&response, "x-total-count"), "3");
    assert!(control.set_insights_rows("no_such_table", 3).await.is_err());
}

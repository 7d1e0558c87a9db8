//! Directory Insights over real HTTP: `search_after` paging and 402 when unlicensed.

mod simulator_support;

use std::collections::HashSet;

use jumpcloud_simulator::{OrgSize, Region};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use simulator_support::*;

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
            .header("x-org-id", &api.org_id)
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

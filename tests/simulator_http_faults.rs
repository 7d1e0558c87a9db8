//! Injected faults over real HTTP: status codes for the next N matching requests, delay,
//! malformed bodies, growing totals, shifted pages, missing totals, resets, getSelf and route
//! controls, and the request log.

mod simulator_support;

use std::time::Duration;

use jumpcloud_simulator::control::{Fault, FaultKind, GrowRecords};
use jumpcloud_simulator::{OrgSize, Region};
use reqwest::StatusCode;
use serde_json::Value;

use simulator_support::*;

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

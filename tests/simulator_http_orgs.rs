//! The `x-org-id` header rules of single- and multi-tenant admins, over real HTTP.

mod simulator_support;

use std::collections::HashSet;

use jumpcloud_simulator::{OrgSize, Region};
use reqwest::StatusCode;
use serde_json::json;

use simulator_support::*;

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
    let (status, _, body) = send(
        api.events_without_org(json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "Bad Request: x-org-id is required: send the organization id"})
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
        api.events_without_org(
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

/// Directory Insights documents `x-org-id` beside `x-api-key` in its security requirement: the
/// simulator requires it even of a single-tenant key, and refuses a wrong one.
#[tokio::test]
async fn directory_insights_requires_the_org_id_and_refuses_a_wrong_one() {
    let sim = start(OrgSize::small()).await;
    let api = Api::new(&sim, Region::Us);
    let body = json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"});
    let status = |request: reqwest::RequestBuilder| async { send(request).await.0 };
    assert_eq!(status(api.events(body.clone())).await, StatusCode::OK);
    let (missing, _, message) = send(api.events_without_org(body.clone())).await;
    assert_eq!(missing, StatusCode::BAD_REQUEST, "{message}");
    assert!(
        message["message"].as_str().unwrap().contains("x-org-id"),
        "{message}"
    );
    for (wrong, refused) in [
        ("not-an-id", StatusCode::BAD_REQUEST),
        ("0123456789abcdef01234567", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(
            status(
                api.events_without_org(body.clone())
                    .header("x-org-id", wrong)
            )
            .await,
            refused,
            "{wrong}"
        );
    }
    // An org that exists but that this key does not reach.
    let control = api.control();
    let manager = admin(&sim, "Manager");
    let other = control
        .add_org(std::slice::from_ref(&manager.id))
        .await
        .unwrap();
    assert_eq!(
        status(
            api.events_without_org(body.clone())
                .header("x-org-id", &other)
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
}

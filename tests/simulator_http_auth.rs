//! Authentication and roles over real HTTP: missing, unknown, foreign-region, revoked and
//! expired keys; what a command runner may read; getSelf and the admin list.

mod simulator_support;

use jumpcloud_simulator::{OrgSize, Region, SimulatorConfig};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use simulator_support::*;

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

//! Service accounts over real HTTP: the token endpoint (client_secret_basic, RFC 6749 errors
//! that tell an unknown client, a wrong, expired or revoked secret and a disabled account
//! apart), bearer tokens on every route, tokens refused as `x-api-key`, token expiry, the
//! second client secret, and `admin_old_api_key_attempt` when a revoked key is presented.

mod simulator_support;

use std::time::{Duration, Instant};

use base64::Engine;
use jumpcloud_simulator::{Region, SimServiceAccount, SimulatorConfig};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use simulator_support::*;

fn basic(client_id: &str, secret: &str) -> String {
    let encode =
        |part: &str| url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn token_request(api: &Api, authorization: Option<&str>, form: &str) -> (StatusCode, Value) {
    let mut request = api
        .http
        .post(api.base.join("oauth2/token").unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let (status, _, body) = send(request).await;
    (status, body)
}

const FORM: &str = "grant_type=client_credentials&scope=api";

async fn token_for(api: &Api, account: &SimServiceAccount, secret: usize) -> String {
    let (status, body) = token_request(
        api,
        Some(&basic(
            &account.client_id,
            account.secrets[secret].1.expose_secret(),
        )),
        FORM,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn with_bearer(api: &Api, path: &str, token: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(
        api.http
            .get(api.base.join(path).unwrap())
            .bearer_auth(token),
    )
    .await;
    (status, body)
}

fn description(body: &Value) -> &str {
    body["error_description"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_token_endpoint_issues_tokens_and_names_each_refusal() {
    let sim = start(empty_org()).await;
    let api = Api::new(&sim, Region::Us);
    let account = sim.read_only_service_account(Region::Us);
    let secret = account.secrets[0].1.expose_secret().to_owned();

    let (status, body) = token_request(&api, Some(&basic(&account.client_id, &secret)), FORM).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].as_str().unwrap().starts_with("jcat_"));

    let refusals = [
        (
            None,
            FORM,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no client authentication",
        ),
        (
            Some(basic("nobody", &secret)),
            FORM,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client",
        ),
        (
            Some(basic(&account.client_id, "wrong")),
            FORM,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "does not match",
        ),
        (
            Some(basic(&account.client_id, &secret)),
            "grant_type=password&scope=api",
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "client_credentials",
        ),
        (
            Some(basic(&account.client_id, &secret)),
            "grant_type=client_credentials",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope=api",
        ),
    ];
    for (authorization, form, want_status, want_error, want_text) in refusals {
        let (status, body) = token_request(&api, authorization.as_deref(), form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (want_status, Some(want_error)),
            "{body}"
        );
        assert!(description(&body).contains(want_text), "{body}");
    }
    // The secret in the body instead of HTTP Basic is refused: JumpCloud takes client_secret_basic.
    let (status, body) = token_request(
        &api,
        None,
        &format!(
            "{FORM}&client_id={}&client_secret={secret}",
            account.client_id
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let control = api.control();
    control
        .expire_client_secret(&account.id, &account.secrets[0].0)
        .await
        .unwrap();
    let (status, body) = token_request(&api, Some(&basic(&account.client_id, &secret)), FORM).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(description(&body).contains("expired"), "{body}");

    let rotated = control.add_client_secret(&account.id, None).await.unwrap();
    assert_eq!(rotated.secrets.len(), 2);
    let second = &rotated.secrets[1].secret;
    let (status, _) = token_request(&api, Some(&basic(&account.client_id, second)), FORM).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the second secret works while the first is expired"
    );
    let third = control
        .add_client_secret(&account.id, None)
        .await
        .unwrap_err();
    assert!(third.to_string().contains("409"), "{third}");

    control
        .set_service_account_disabled(&account.id, true)
        .await
        .unwrap();
    let (status, body) = token_request(&api, Some(&basic(&account.client_id, second)), FORM).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(description(&body).contains("disabled"), "{body}");
    control.delete_service_account(&account.id).await.unwrap();
    let (_, body) = token_request(&api, Some(&basic(&account.client_id, second)), FORM).await;
    assert!(description(&body).contains("unknown client"), "{body}");
}

#[tokio::test]
async fn a_bearer_token_authenticates_every_route_and_is_refused_as_an_api_key() {
    let sim = start(empty_org()).await;
    let api = Api::new(&sim, Region::Us);
    let account = sim.read_only_service_account(Region::Us);
    let token = token_for(&api, &account, 0).await;

    for path in [
        "api/organizations",
        "api/systemusers",
        "api/v2/policies",
        "api/v2/systeminsights/os_version",
    ] {
        let (status, body) = with_bearer(&api, path, &token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, _, _) = send(
        api.http
            .post(api.base.join("insights/directory/v1/events").unwrap())
            .bearer_auth(&token)
            .header("x-org-id", &api.org_id)
            .json(&json!({"service": ["all"], "start_time": "2026-05-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "Directory Insights takes the token too"
    );

    let (status, body) = with_bearer(&api, "api/users/getSelf", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["roleName"], "Read Only");
    assert_eq!(body["serviceAccount"], true);

    // The bug of another client: the token sent as x-api-key.
    let as_key = api.with_key(token.clone().into());
    let (status, _, body) = as_key.json("api/systemusers").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{body}"
    );
    let (status, _, body) = send(api.get("api/systemusers").bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "both headers: {body}");

    let (status, body) = with_bearer(&api, "api/systemusers", "jcat_never_issued").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // An administrator-role account reads too; its role is what getSelf says.
    let admin_account = sim
        .service_accounts(Region::Us)
        .into_iter()
        .find(|a| a.role_name == "Administrator")
        .unwrap();
    let admin_token = token_for(&api, &admin_account, 0).await;
    let (_, body) = with_bearer(&api, "api/users/getSelf", &admin_token).await;
    assert_eq!(body["roleName"], "Administrator");
}

#[tokio::test]
async fn tokens_expire_and_end_with_their_secret_or_account() {
    let sim = start(empty_org()).await;
    let api = Api::new(&sim, Region::Us);
    let control = api.control();
    let account = sim.read_only_service_account(Region::Us);

    control.set_token_lifetime(1).await.unwrap();
    let short = token_for(&api, &account, 0).await;
    let (status, _) = with_bearer(&api, "api/systemusers", &short).await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = with_bearer(&api, "api/systemusers", &short).await;
        if status == StatusCode::UNAUTHORIZED {
            break body;
        }
        assert!(Instant::now() < deadline, "the 1 s token never expired");
        tokio::task::yield_now().await;
    };
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    control.set_token_lifetime(3600).await.unwrap();

    let rotated = control.add_client_secret(&account.id, None).await.unwrap();
    let first = token_for(&api, &account, 0).await;
    let (status, body) = token_request(
        &api,
        Some(&basic(&account.client_id, &rotated.secrets[1].secret)),
        FORM,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let second = body["access_token"].as_str().unwrap().to_owned();
    control
        .revoke_client_secret(&account.id, &account.secrets[0].0)
        .await
        .unwrap();
    let (status, _) = with_bearer(&api, "api/systemusers", &first).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the revoked secret's token ends"
    );
    let (status, _) = with_bearer(&api, "api/systemusers", &second).await;
    assert_eq!(status, StatusCode::OK, "the second secret's token goes on");

    control
        .set_service_account_disabled(&account.id, true)
        .await
        .unwrap();
    let (status, body) = with_bearer(&api, "api/systemusers", &second).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("disabled"),
        "{body}"
    );
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_logged_as_an_old_key_attempt() {
    let sim = start_with(SimulatorConfig {
        now: Some(fixed_now()),
        org: empty_org(),
        ..SimulatorConfig::default()
    })
    .await;
    let api = Api::new(&sim, Region::Us);
    let admin = admin(&sim, "Read Only");
    let old_key = admin.api_key.clone().unwrap();
    let new_key = api.control().issue_key(&admin.id, None).await.unwrap();

    let old = api.with_key(old_key);
    let (status, _, body) = send(
        old.get("api/systemusers")
            .header("user-agent", "legacy-collector/2.3 (cron)")
            .header("x-forwarded-for", "203.0.113.7"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let fresh = api.with_key(new_key);
    let (status, _, events) = send(fresh.events(json!({
        // The window ends before the current millisecond unless told otherwise.
        "service": ["directory"], "start_time": "2026-01-01T00:00:00Z",
        "end_time": "2030-01-01T00:00:00Z", "limit": 10000
    })))
    .await;
    assert_eq!(status, StatusCode::OK);
    let attempts: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "admin_old_api_key_attempt")
        .collect();
    assert_eq!(attempts.len(), 1, "{events}");
    let attempt = attempts[0];
    assert_eq!(attempt["initiated_by"]["email"], admin.email.as_str());
    assert_eq!(attempt["client_ip"], "203.0.113.7");
    assert_eq!(attempt["useragent"]["name"], "legacy-collector");
    assert_eq!(attempt["success"], false);

    // Filtered on the event type, as the operator asks after a rotation.
    let (status, _, filtered) = send(fresh.events(json!({
        "service": ["directory"], "start_time": "2026-01-01T00:00:00Z",
        "end_time": "2030-01-01T00:00:00Z",
        "search_term": {"and": [{"event_type": "admin_old_api_key_attempt"}]},
    })))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(filtered.as_array().unwrap().len(), 1, "{filtered}");
    let (status, _, _) = send(fresh.events(json!({
        "service": ["directory"], "start_time": "2026-01-01T00:00:00Z",
        "search_term": {"and": [{"client_ip": "203.0.113.7"}]},
    })))
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a filter the simulator cannot apply is refused, not ignored"
    );
}

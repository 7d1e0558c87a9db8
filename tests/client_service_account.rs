//! The client with a service account against the simulator: one token for many requests, sent
//! as a bearer token only, renewed before it expires and once after the server ends its session,
//! and each refusal of the client (wrong or revoked secret, expired secret, disabled account,
//! other region) told apart, with neither the secret nor a token in any error.

mod client_support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use jumpcloud_operator::jumpcloud::{
    ClientCredentials, CredentialKind, JumpCloudClient, JumpCloudError, ListRequest, TokenRejection,
};
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::{SimServiceAccount, Simulator, SimulatorConfig};
use secrecy::ExposeSecret;

use client_support::*;

fn account_client(
    sim: &Simulator,
    region: Region,
    account: &SimServiceAccount,
    secret: usize,
) -> JumpCloudClient {
    let credentials = ClientCredentials::new(
        &account.client_id,
        account.secrets[secret].1.expose_secret(),
    )
    .expect("valid client credentials");
    JumpCloudClient::new(fast_config(sim, region), credentials).expect("valid config")
}

async fn token_requests(sim: &Simulator) -> usize {
    control(sim)
        .requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.path == "/oauth2/token")
        .count()
}

fn assert_no_secret(error: &JumpCloudError, account: &SimServiceAccount) {
    let text = format!("{error} {error:?}");
    for (_, secret) in &account.secrets {
        assert!(!text.contains(secret.expose_secret()), "{text}");
    }
    assert!(!text.contains("jcat_"), "a token in {text}");
}

async fn list_users(client: &JumpCloudClient) -> Result<usize, JumpCloudError> {
    let mut pages = client
        .open_listing(ListRequest::v1("users", "/api/systemusers"))
        .await?
        .pages();
    let mut records = 0;
    while let Some(page) = pages.next().await {
        records += page?.len();
    }
    Ok(records)
}

#[tokio::test]
async fn one_token_serves_a_whole_listing_as_a_bearer_token() {
    let sim = simulator(org_with_users(250)).await;
    let account = sim.read_only_service_account(Region::Us);
    let client = account_client(&sim, Region::Us, &account, 0);
    assert_eq!(client.credential_kind(), CredentialKind::ServiceAccount);
    assert_eq!(client.token_expires_at().await, None);

    client.verify_key().await.unwrap();
    assert_eq!(list_users(&client).await.unwrap(), 250);
    // The simulator refuses a request that carries x-api-key beside the token (400) and a
    // token sent as x-api-key (401): every request above succeeded, so neither happened.
    assert_eq!(token_requests(&sim).await, 1, "one token for every request");
    let expires = client
        .token_expires_at()
        .await
        .expect("a token was fetched");
    let left = expires.duration_since(jiff::Timestamp::now());
    assert!(
        left > jiff::SignedDuration::from_secs(3500),
        "expires_in was read: {left:?}"
    );
    assert_eq!(client.request_counts().get("token"), Some(&1));
}

#[tokio::test]
async fn the_token_is_renewed_before_it_expires_during_a_long_collection() {
    let sim = simulator(org_with_users(60)).await;
    let control = control(&sim);
    control.set_token_lifetime(2).await.unwrap();
    let account = sim.read_only_service_account(Region::Us);
    let client = account_client(&sim, Region::Us, &account, 0);

    // Keeps requesting until a second token was issued: every request must succeed, so the
    // renewal happened before the first token ran out, not after a refusal.
    let deadline = Instant::now() + Duration::from_secs(20);
    while token_requests(&sim).await < 2 {
        assert!(
            Instant::now() < deadline,
            "no renewal within 20 s of a 2 s token"
        );
        list_users(&client)
            .await
            .expect("no request fails across the renewal");
    }
    let refused = control
        .requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(refused, 0, "no request met an expired token");
}

#[tokio::test]
async fn a_token_whose_session_ended_is_renewed_once_and_the_request_succeeds() {
    let sim = simulator(org_with_users(10)).await;
    let account = sim.read_only_service_account(Region::Us);
    let client = account_client(&sim, Region::Us, &account, 0);
    client.verify_key().await.unwrap();
    control(&sim).revoke_tokens().await.unwrap();

    client.verify_key().await.expect("renewed after the 401");
    assert_eq!(token_requests(&sim).await, 2);
}

#[tokio::test]
async fn each_refusal_of_the_client_is_told_apart() {
    let sim = Simulator::start(SimulatorConfig {
        regions: vec![
            jumpcloud_simulator::Region::Us,
            jumpcloud_simulator::Region::Eu,
        ],
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    let control = control(&sim);
    let cause = |error: &JumpCloudError| match error.last_attempt() {
        JumpCloudError::TokenRejected { cause, .. } => Some(*cause),
        _ => None,
    };

    // Another region's account at this region's token endpoint.
    let eu = sim.read_only_service_account(Region::Eu);
    let wrong_region = JumpCloudClient::new(
        fast_config(&sim, Region::Us),
        ClientCredentials::new(&eu.client_id, eu.secrets[0].1.expose_secret()).unwrap(),
    )
    .unwrap();
    let error = wrong_region.verify_key().await.unwrap_err();
    assert_eq!(
        cause(&error),
        Some(TokenRejection::InvalidClient),
        "{error}"
    );
    assert!(error.is_terminal());
    assert_no_secret(&error, &eu);

    let account = sim.read_only_service_account(Region::Us);
    let wrong = JumpCloudClient::new(
        fast_config(&sim, Region::Us),
        ClientCredentials::new(&account.client_id, "not-the-secret").unwrap(),
    )
    .unwrap();
    let error = wrong.verify_key().await.unwrap_err();
    assert_eq!(
        cause(&error),
        Some(TokenRejection::InvalidClient),
        "{error}"
    );

    // A secret revoked while its token is in use: the 401 renews once, and the renewal is
    // refused with invalid_client.
    let client = account_client(&sim, Region::Us, &account, 0);
    client.verify_key().await.unwrap();
    control
        .revoke_client_secret(&account.id, &account.secrets[0].0)
        .await
        .unwrap();
    let error = client.verify_key().await.unwrap_err();
    assert_eq!(
        cause(&error),
        Some(TokenRejection::InvalidClient),
        "{error}"
    );
    assert_no_secret(&error, &account);

    let rotated = control.add_client_secret(&account.id, None).await.unwrap();
    let account = sim.read_only_service_account(Region::Us);
    assert_eq!(account.secrets.len(), 1);
    let client = account_client(&sim, Region::Us, &account, 0);
    client.verify_key().await.expect("the new secret works");
    control
        .expire_client_secret(&account.id, &rotated.secrets[0].id)
        .await
        .unwrap();
    let fresh = account_client(&sim, Region::Us, &account, 0);
    let error = fresh.verify_key().await.unwrap_err();
    assert_eq!(
        cause(&error),
        Some(TokenRejection::SecretExpired),
        "{error}"
    );
    assert!(
        error.to_string().contains("create a new client secret"),
        "{error}"
    );

    control
        .set_service_account_disabled(&account.id, true)
        .await
        .unwrap();
    let error = account_client(&sim, Region::Us, &account, 0)
        .verify_key()
        .await
        .unwrap_err();
    assert_eq!(
        cause(&error),
        Some(TokenRejection::AccountDisabled),
        "{error}"
    );
    assert_no_secret(&error, &account);
}

#[tokio::test]
async fn a_failing_token_endpoint_is_transient_and_retried() {
    use jumpcloud_simulator::control::{Fault, FaultKind};
    let sim = simulator(org_with_users(10)).await;
    let account = sim.read_only_service_account(Region::Us);
    let control = control(&sim);
    let unavailable = |times: u32| {
        let control = control.clone();
        async move {
            control
                .inject(
                    Fault::new(FaultKind::Status {
                        status: 503,
                        retry_after_secs: None,
                    })
                    .on_path("/oauth2/token")
                    .times(times),
                )
                .await
                .unwrap();
        }
    };
    unavailable(2).await;
    let client = account_client(&sim, Region::Us, &account, 0);
    client
        .verify_key()
        .await
        .expect("the third token request succeeds");
    assert_eq!(token_requests(&sim).await, 3);

    unavailable(100).await;
    let fresh = account_client(
        &sim,
        Region::Us,
        &sim.read_only_service_account(Region::Us),
        0,
    );
    let error = fresh.verify_key().await.unwrap_err();
    assert!(
        !error.is_terminal(),
        "an unavailable token endpoint is transient: {error}"
    );
    assert_eq!(error.last_attempt().reason(), "ServerError");
}

#[tokio::test]
async fn an_answer_that_carries_the_access_token_is_refused() {
    use jumpcloud_simulator::control::{EchoInto, Fault, FaultKind};
    let sim = simulator(org_with_users(10)).await;
    let account = sim.read_only_service_account(Region::Us);
    // The simulator echoes what authenticated the request: here the bearer token.
    control(&sim)
        .inject(
            Fault::new(FaultKind::EchoKey {
                into: EchoInto::Record,
            })
            .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let client = account_client(&sim, Region::Us, &account, 0);
    let error = list_users(&client).await.unwrap_err();
    assert_eq!(error.last_attempt().reason(), "KeyEchoed", "{error}");
    assert_no_secret(&error, &account);
}

/// A server whose token endpoint answers and whose API quotes the bearer token in its 401.
async fn quoting_server() -> url::Url {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new()
        .route(
            "/oauth2/token",
            axum::routing::post(|| async {
                (
                    StatusCode::OK,
                    r#"{"access_token":"jcat_quotedTOKEN123456789","token_type":"bearer","expires_in":3600}"#,
                )
            }),
        )
        .fallback(|headers: HeaderMap| async move {
            let sent = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            (
                StatusCode::UNAUTHORIZED,
                format!(r#"{{"message":"token not accepted: {sent}"}}"#),
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url::Url::parse(&format!("http://{addr}/")).unwrap()
}

#[tokio::test]
async fn an_error_that_quotes_the_access_token_does_not_carry_it() {
    let base = quoting_server().await;
    let mut config = jumpcloud_operator::jumpcloud::ClientConfig::new(Region::Us);
    config.base_url_override = Some(base);
    let client = JumpCloudClient::new(
        config,
        ClientCredentials::new("client-1", "not-a-real-secret").unwrap(),
    )
    .unwrap();
    let error = client.verify_key().await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        matches!(error.last_attempt(), JumpCloudError::TokenRefused { .. }),
        "{text}"
    );
    assert!(
        text.contains("token not accepted"),
        "the message is kept: {text}"
    );
    assert!(!text.contains("quotedTOKEN"), "the token leaked: {text}");
}

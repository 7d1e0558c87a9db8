//! Error classes, retries (counted by the simulator, never timed), regions and org selection.

mod client_support;

use std::time::Duration;

use client_support::*;
use jumpcloud_operator::jumpcloud::{
    ApiKey, JumpCloudClient, JumpCloudError, ListRequest, RetryLimit,
};
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::control::{Fault, FaultKind};
use jumpcloud_simulator::{OrgSize, Simulator, SimulatorConfig};
use secrecy::ExposeSecret;

fn status(status: u16, retry_after_secs: Option<u64>) -> FaultKind {
    FaultKind::Status {
        status,
        retry_after_secs,
    }
}

async fn list_users(client: &JumpCloudClient) -> Result<usize, JumpCloudError> {
    Ok(client
        .list_all::<serde_json::Value>(ListRequest::v1("users", "/api/systemusers"))
        .await?
        .len())
}

async fn users_requests(sim: &Simulator) -> u64 {
    control(sim)
        .counters()
        .await
        .unwrap()
        .for_path_prefix("/api/systemusers")
}

#[tokio::test]
async fn retryable_statuses_are_retried_until_success() {
    let sim = simulator(OrgSize::small()).await;
    let users = OrgSize::small().users;
    for code in [429, 502, 503, 504] {
        control(&sim).reset().await.unwrap();
        control(&sim)
            .inject(
                Fault::new(status(code, None))
                    .times(2)
                    .on_path("/api/systemusers"),
            )
            .await
            .unwrap();
        let client = client(&sim);
        assert_eq!(list_users(&client).await.unwrap(), users, "{code}");
        assert_eq!(
            users_requests(&sim).await,
            3,
            "{code}: two failures, one success"
        );
        assert_eq!(client.request_counts().get("users"), Some(&3));
    }
}

/// The gap between the failed request and its retry, from the simulator's request log.
async fn gap_before_retry(sim: &Simulator, path: &str) -> Duration {
    let log = control(sim).requests().await.unwrap();
    let attempts: Vec<_> = log.iter().filter(|r| r.path == path).collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    Duration::from_millis(attempts[1].started_ms - attempts[0].finished_ms)
}

#[tokio::test]
async fn retry_after_is_honoured_on_every_retried_status() {
    let sim = simulator(OrgSize::small()).await;
    // The test policy never backs off longer than 20 ms: waits of a second happen only if the
    // Retry-After header was read.
    for code in [429, 502, 503, 504] {
        control(&sim).reset().await.unwrap();
        control(&sim)
            .inject(Fault::new(status(code, Some(1))).on_path("/api/systemusers"))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        assert!(list_users(&client(&sim)).await.is_ok(), "{code}");
        assert!(started.elapsed() >= Duration::from_secs(1), "{code}");
        assert_eq!(users_requests(&sim).await, 2, "{code}");
        let gap = gap_before_retry(&sim, "/api/systemusers").await;
        assert!(
            gap >= Duration::from_millis(990),
            "{code}: retried after {gap:?}"
        );
    }
}

#[tokio::test]
async fn a_wait_past_the_deadline_gives_up_at_once() {
    let sim = simulator(OrgSize::small()).await;

    control(&sim).reset().await.unwrap();
    control(&sim)
        .inject(
            Fault::new(status(429, Some(600)))
                .times(5)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let mut config = fast_config(&sim, Region::Us);
    config.total_deadline = Duration::from_secs(60);
    let client = client_with(&sim, config, sim.read_only_key(Region::Us));
    let error = list_users(&client).await.unwrap_err();
    let JumpCloudError::RetriesExhausted {
        attempts: 1,
        limit:
            RetryLimit::Deadline {
                deadline,
                next_wait,
                ..
            },
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(
        (*deadline, *next_wait),
        (Duration::from_secs(60), Duration::from_secs(600))
    );
    assert_eq!(
        error.last_attempt(),
        &JumpCloudError::RateLimited {
            endpoint: "/api/systemusers".into(),
            retry_after: Some(Duration::from_secs(600))
        }
    );
    // The message says which limit ended it, with the numbers.
    let text = error.to_string();
    assert!(
        text.contains(
            "gave up after 1 attempt: the next wait (600.0s) would pass the request deadline (60.0s"
        ),
        "{text}"
    );
    assert_eq!(error.reason(), "RateLimited");
    assert_eq!(
        users_requests(&sim).await,
        1,
        "a 600 s Retry-After cannot fit a 60 s deadline"
    );
    assert!(!error.is_terminal());
}

#[tokio::test]
async fn retries_stop_after_the_attempt_limit() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(
            Fault::new(status(503, None))
                .times(50)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let error = list_users(&client(&sim)).await.unwrap_err();
    assert_eq!(error.reason(), "ServerError");
    assert_eq!(
        users_requests(&sim).await,
        5,
        "max_attempts of the test policy"
    );
    let text = error.to_string();
    assert!(
        text.contains("HTTP 503")
            && text.contains("gave up after 5 attempts: the attempt cap of 5 was reached"),
        "{text}"
    );
    assert!(!text.contains("deadline"), "{text}");
}

#[tokio::test]
async fn a_single_http_500_is_retried_and_a_lasting_one_meets_its_cap() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(Fault::new(status(500, None)).on_path("/api/systemusers"))
        .await
        .unwrap();
    let users = list_users(&client(&sim)).await.unwrap();
    assert_eq!(users, 60, "one 500, then the listing");

    control(&sim).reset().await.unwrap();
    control(&sim)
        .inject(
            Fault::new(status(500, None))
                .times(50)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let mut config = fast_config(&sim, Region::Us);
    config.retry.max_attempts = 20;
    let client = client_with(&sim, config, sim.read_only_key(Region::Us));
    let error = list_users(&client).await.unwrap_err();
    assert_eq!(
        users_requests(&sim).await,
        4,
        "HTTP 500 has a cap of 4 attempts"
    );
    assert_eq!(error.reason(), "ServerError");
    assert_eq!(error.http_status(), Some(500));
    let text = error.to_string();
    assert!(
        text.contains("/api/systemusers: server error (HTTP 500")
            && text.contains("gave up after 4 attempts: the attempt cap of 4 was reached"),
        "{text}"
    );
}

#[tokio::test]
async fn terminal_statuses_are_never_retried() {
    let sim = simulator(OrgSize::small()).await;
    for (code, reason) in [
        (400, "BadRequest"),
        (401, "Unauthorized"),
        (402, "NotLicensed"),
        (403, "Forbidden"),
        (404, "NotFound"),
        (501, "ServerError"),
    ] {
        control(&sim).reset().await.unwrap();
        control(&sim)
            .inject(
                Fault::new(status(code, None))
                    .times(3)
                    .on_path("/api/systemusers"),
            )
            .await
            .unwrap();
        let error = list_users(&client(&sim)).await.unwrap_err();
        assert_eq!(error.reason(), reason, "{code}");
        assert_eq!(users_requests(&sim).await, 1, "{code} must not be retried");
        assert!(error.to_string().contains("/api/systemusers"), "{error}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_a_clear_401_after_exactly_one_request() {
    let sim = simulator(OrgSize::small()).await;
    let admin = read_only_admin(&sim);
    let key = admin.api_key.clone().unwrap();
    control(&sim).revoke_key(&admin.id).await.unwrap();
    let client = client_with(&sim, fast_config(&sim, Region::Us), key.clone());
    let error = client.verify_key().await.unwrap_err();
    let JumpCloudError::Unauthorized { endpoint, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/api/organizations");
    assert!(error.is_terminal());
    assert!(error.to_string().contains("check --region"));
    assert_eq!(control(&sim).counters().await.unwrap().total, 1);
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
    ] {
        assert!(!text.contains(key.expose_secret()), "{text}");
    }
}

#[tokio::test]
async fn timeouts_and_malformed_bodies() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(Fault::new(FaultKind::Delay { delay_ms: 3_000 }).on_path("/api/systemusers"))
        .await
        .unwrap();
    let mut config = fast_config(&sim, Region::Us);
    config.request_timeout = Duration::from_millis(300);
    let slow_client = client_with(&sim, config, sim.read_only_key(Region::Us));
    assert!(
        list_users(&slow_client).await.is_ok(),
        "a timeout is retried"
    );
    assert_eq!(slow_client.request_counts().get("users"), Some(&2));
    // The simulator counts a request when it answers; the timed-out one never is answered
    // (the client hung up), so only the retry shows there.
    assert_eq!(users_requests(&sim).await, 1);

    control(&sim).reset().await.unwrap();
    control(&sim)
        .inject(Fault::new(FaultKind::Malformed).on_path("/api/systemusers"))
        .await
        .unwrap();
    let error = list_users(&client(&sim)).await.unwrap_err();
    let JumpCloudError::MalformedResponse {
        endpoint, offset, ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/api/systemusers");
    assert!(*offset > 0);
}

#[tokio::test]
async fn refused_connections_fail_fast_as_unreachable() {
    // A socket bound but never listening: the port stays reserved for the whole test (no other
    // test can take it), and connecting to it is refused.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let mut config = jumpcloud_operator::jumpcloud::ClientConfig::new(Region::Us);
    config.base_url_override = Some(format!("http://127.0.0.1:{port}/").parse().unwrap());
    config.retry.max_attempts = 8;
    config.retry.base_delay = Duration::from_millis(1);
    let client = JumpCloudClient::new(config, ApiKey::new("jca_unused_key_123").unwrap()).unwrap();
    let error = client.verify_key().await.unwrap_err();
    assert_eq!(error.reason(), "Unreachable");
    assert!(error.to_string().contains("--base-url"), "{error}");
    assert_eq!(
        client.total_requests(),
        3,
        "refused connections are retried, but only briefly"
    );
    drop(reserved);
}

#[tokio::test]
async fn connection_resets_are_retried() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(
            Fault::new(FaultKind::Reset)
                .times(2)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let client = client(&sim);
    assert_eq!(list_users(&client).await.unwrap(), OrgSize::small().users);
    let counters = control(&sim).counters().await.unwrap();
    assert_eq!(
        counters.by_status.get("0"),
        Some(&2),
        "two dropped connections"
    );
    assert_eq!(users_requests(&sim).await, 3);
    assert_eq!(client.request_counts().get("users"), Some(&3));

    // Resets that never stop end in a transport error naming the endpoint.
    control(&sim).reset().await.unwrap();
    control(&sim)
        .inject(
            Fault::new(FaultKind::Reset)
                .times(50)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let error = list_users(&client).await.unwrap_err();
    assert_eq!(error.reason(), "TransportError", "{error}");
    assert!(error.to_string().contains("/api/systemusers"), "{error}");
}

#[tokio::test]
async fn a_request_that_keeps_timing_out_ends_in_timeout_at_the_deadline() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim)
        .inject(
            Fault::new(FaultKind::Delay { delay_ms: 5_000 })
                .times(100)
                .on_path("/api/systemusers"),
        )
        .await
        .unwrap();
    let mut config = fast_config(&sim, Region::Us);
    config.request_timeout = Duration::from_millis(200);
    config.total_deadline = Duration::from_millis(900);
    config.retry.max_attempts = 100;
    let client = client_with(&sim, config, sim.read_only_key(Region::Us));
    let started = std::time::Instant::now();
    let error = list_users(&client).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        error.last_attempt(),
        &JumpCloudError::Timeout {
            endpoint: "/api/systemusers".into()
        }
    );
    assert!(
        matches!(
            &error,
            JumpCloudError::RetriesExhausted {
                limit: RetryLimit::Deadline { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_terminal());
    let attempts = client.request_counts()["users"];
    assert!((3..=6).contains(&attempts), "{attempts} attempts");
    // The deadline bounds the last attempt too: no attempt runs on past it by a full timeout.
    assert!(elapsed < Duration::from_millis(900 + 150), "{elapsed:?}");
}

#[tokio::test]
async fn a_role_that_may_not_read_is_forbidden_naming_the_endpoint_once() {
    let sim = simulator(OrgSize::small()).await;
    let runner = sim
        .admins(Region::Us)
        .into_iter()
        .find(|admin| admin.role_name == "Command Runner")
        .unwrap();
    let client = client_with(&sim, fast_config(&sim, Region::Us), runner.api_key.unwrap());
    let error = list_users(&client).await.unwrap_err();
    let JumpCloudError::Forbidden { endpoint, message } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(endpoint, "/api/systemusers");
    assert!(message.starts_with("Forbidden"), "{message}");
    assert!(error.is_terminal());
    assert!(error.to_string().contains("/api/systemusers"), "{error}");
    assert_eq!(users_requests(&sim).await, 1, "403 is never retried");
}

#[tokio::test]
async fn identity_survives_a_missing_get_self() {
    let sim = simulator(OrgSize::small()).await;
    for code in [404, 405] {
        control(&sim).reset().await.unwrap();
        control(&sim).set_get_self_status(Some(code)).await.unwrap();
        let identity = client(&sim).identify().await.unwrap();
        assert_eq!(Some(identity.org.id), sim.org_id(Region::Us), "{code}");
        assert_eq!(identity.administrator, None, "{code}");
        let counters = control(&sim).counters().await.unwrap();
        assert_eq!(
            counters.by_status.get(&code.to_string()),
            Some(&1),
            "{code}"
        );
    }
    control(&sim).set_get_self_status(None).await.unwrap();
    assert!(
        client(&sim)
            .identify()
            .await
            .unwrap()
            .administrator
            .is_some()
    );
}

#[tokio::test]
async fn concurrency_never_exceeds_the_limit_and_requests_overlap() {
    for limit in [2usize, 16] {
        // Each answer takes 20 ms, so requests that may overlap do.
        let sim = Simulator::start(SimulatorConfig {
            org: OrgSize::small(),
            response_delay: Duration::from_millis(20),
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let mut config = fast_config(&sim, Region::Us);
        config.concurrency = limit;
        let client = client_with(&sim, config, sim.read_only_key(Region::Us));
        let dir = tempfile::tempdir().unwrap();
        let report = collect_into(&client, dir.path()).await;
        assert!(report.total_requests > 20);
        let max = control(&sim).counters().await.unwrap().max_in_flight;
        assert!(max <= limit as u64, "limit {limit}: {max} in flight");
        assert!(max > 1, "limit {limit}: requests never overlapped");
        if limit == 16 {
            assert_eq!(
                jumpcloud_operator::jumpcloud::ClientConfig::new(Region::Us).concurrency,
                jumpcloud_operator::defaults::MAX_CONCURRENCY,
                "the default run"
            );
            assert!(max > 8, "the adaptive limit grew past its start: {max}");
        }
    }
}

#[tokio::test]
async fn a_key_sent_to_another_region_is_rejected() {
    let sim = Simulator::start(SimulatorConfig {
        regions: vec![Region::Us.into(), Region::Eu.into()],
        ..SimulatorConfig::default()
    })
    .await
    .unwrap();
    let eu_key = sim.read_only_key(Region::Eu);
    let wrong = client_with(&sim, fast_config(&sim, Region::Us), eu_key.clone());
    assert_eq!(wrong.identify().await.unwrap_err().reason(), "Unauthorized");
    let right = client_with(&sim, fast_config(&sim, Region::Eu), eu_key);
    let identity = right.identify().await.unwrap();
    assert_eq!(Some(identity.org.id), sim.org_id(Region::Eu));
}

#[tokio::test]
async fn identity_reports_the_org_and_the_administrator() {
    let sim = simulator(OrgSize::small()).await;
    let identity = client(&sim).identify().await.unwrap();
    assert_eq!(identity.organizations.len(), 1);
    assert_eq!(Some(identity.org.id.clone()), sim.org_id(Region::Us));
    let admin = identity.administrator.expect("getSelf");
    let expected = read_only_admin(&sim);
    assert_eq!(admin.id, expected.id);
    assert_eq!(admin.role_name.as_deref(), Some("Read Only"));
    assert_eq!(admin.key_expires_at, expected.key_expires_at);
}

#[tokio::test]
async fn multi_tenant_keys_need_an_org_id_and_get_the_header_only_where_allowed() {
    let sim = simulator(OrgSize::small()).await;
    let admin = read_only_admin(&sim);
    let second = control(&sim)
        .add_org(std::slice::from_ref(&admin.id))
        .await
        .unwrap();

    let error = client(&sim).identify().await.unwrap_err();
    assert_eq!(error, JumpCloudError::OrgIdRequired { count: 2 });
    assert!(error.is_terminal());

    // The simulator answers 403 to x-org-id on org routes and 401 to org routes without it, so
    // a successful identify plus an org-scoped listing proves both header rules.
    let mut config = fast_config(&sim, Region::Us);
    config.org_id = Some(second.clone());
    let client = client_with(&sim, config, sim.read_only_key(Region::Us));
    let identity = client.identify().await.unwrap();
    assert_eq!(identity.org.id, second);
    assert_eq!(identity.organizations.len(), 2);
    assert!(list_users(&client).await.is_ok());
    assert!(client.verify_key().await.is_ok());

    let mut config = fast_config(&sim, Region::Us);
    config.org_id = Some("5f0000000000000000000000".into());
    let stranger = client_with(&sim, config, sim.read_only_key(Region::Us));
    assert_eq!(
        stranger.identify().await.unwrap_err().reason(),
        "OrgNotAccessible"
    );
}

#[tokio::test]
async fn directory_insights_off_is_not_licensed() {
    let sim = simulator(OrgSize::small()).await;
    control(&sim).set_directory_insights(false).await.unwrap();
    let client = client(&sim);
    let now = jiff::Timestamp::now();
    let query = jumpcloud_operator::jumpcloud::EventQuery {
        org_id: sim.org_id(Region::Us).unwrap(),
        service: vec!["all".into()],
        start_time: now - jiff::SignedDuration::from_hours(24),
        end_time: now,
    };
    use futures::StreamExt;
    let first = client.events("events", query, None).next().await.unwrap();
    assert_eq!(first.unwrap_err().reason(), "NotLicensed");
}

#[tokio::test]
async fn verify_key_is_one_request() {
    let sim = simulator(OrgSize::small()).await;
    let client = client(&sim);
    client.verify_key().await.unwrap();
    assert_eq!(control(&sim).counters().await.unwrap().total, 1);
    assert_eq!(client.total_requests(), 1);
}

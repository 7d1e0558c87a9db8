//! `spec.evidence.deviceAccess` reaches the operator's collection: `never` sends no
//! `/api/v2/systems/{id}/users` request and the stored snapshot records the kind as skipped,
//! with the reason naming the setting.

mod operator_support;

use jumpcloud_operator::region::Region;
use operator_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_access_never_skips_the_per_device_requests() {
    let env = Env::start(&[Region::Us]).await;
    let key = env.read_only_key(Region::Us);
    env.secret("access", "jc", &[("api-key", &key)]).await;
    let mut spec = spec("jc");
    spec["evidence"] = json!({"deviceAccess": "never"});
    env.connection("access", "acme", spec).await;
    env.wait_for("access", "acme", DEFAULT_WAIT, "Ready", is_ready)
        .await;
    let snapshot = env.latest_snapshot("access", "acme").await.unwrap();
    let access = snapshot.kind("device_access").expect("the kind is listed");
    assert_eq!(access.status, "skipped");
    let sources = snapshot.index.sources.as_array().unwrap();
    let source = sources
        .iter()
        .find(|s| s["kind"] == "device_access")
        .unwrap();
    let reason = source["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("deviceAccess is never"), "{source}");
    let requests = env
        .control(Region::Us)
        .requests()
        .await
        .expect("request log");
    assert!(requests.iter().any(|r| r.path == "/api/systems"));
    assert!(
        !requests
            .iter()
            .any(|r| r.path.starts_with("/api/v2/systems/") && r.path.ends_with("/users")),
        "a device's users were asked"
    );
}

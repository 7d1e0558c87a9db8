//! A real kube-rs `Controller` (main resource + metadata-only Secret watch + SSA status) runs
//! against the server, sees every change, survives dropped watches and 410 Gone, and does not
//! hot-loop on its own no-op status writes.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Widget, eventually, install_crd, widget};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use kube_test_server::KubeTestServer;
use serde_json::json;

struct Ctx {
    client: kube::Client,
    reconciles: Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

/// Deliberately careless: always writes status by SSA, even when unchanged. The server must
/// turn identical writes into no-ops without watch events, or this would loop forever.
async fn reconcile(w: Arc<Widget>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    *ctx.reconciles
        .lock()
        .expect("lock")
        .entry(w.name_any())
        .or_default() += 1;
    ctx.total.fetch_add(1, Ordering::SeqCst);
    let ns = w.namespace().unwrap_or_default();
    let secret_name = w.spec.secret_name.clone().unwrap_or_default();
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), &ns)
        .get_opt(&secret_name)
        .await?;
    let (status, reason) = match secret {
        Some(_) => ("True", "SecretFound"),
        None => ("False", "SecretNotFound"),
    };
    let body = json!({
        "apiVersion": "example.test/v1", "kind": "Widget",
        "status": {"observedGeneration": w.meta().generation, "conditions": [{"type": "Ready", "status": status, "reason": reason}]}
    });
    Api::<Widget>::namespaced(ctx.client.clone(), &ns)
        .patch_status(
            &w.name_any(),
            &PatchParams::apply("widget-controller").force(),
            &Patch::Apply(&body),
        )
        .await?;
    Ok(Action::await_change())
}

fn error_policy(_: Arc<Widget>, _: &ReconcileError, _: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

async fn ready_reason(api: &Api<Widget>, name: &str) -> Option<String> {
    let w = api.get_opt(name).await.ok()??;
    let c = w
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    c.reason
}

async fn wait_reason(api: &Api<Widget>, name: &str, want: &str) {
    eventually(
        &format!("{name} Ready reason {want}"),
        Duration::from_secs(20),
        || async { (ready_reason(api, name).await.as_deref() == Some(want)).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn controller_with_metadata_secret_watch_sees_every_change() {
    let server = KubeTestServer::start().await.expect("server");
    let client = server.client().await;
    install_crd(&client).await;
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let mut w1 = widget("w1", 1);
    w1.spec.secret_name = Some("creds".into());
    widgets
        .create(&PostParams::default(), &w1)
        .await
        .expect("w1");

    let ctx = Arc::new(Ctx {
        client: client.clone(),
        reconciles: Mutex::default(),
        total: AtomicUsize::new(0),
    });
    let controller = Controller::new(widgets.clone(), watcher::Config::default());
    let store = controller.store();
    let secret_meta: Api<PartialObjectMeta<Secret>> = Api::all(client.clone());
    // Every Secret the metadata watcher hands to the mapper, as (name, resourceVersion).
    let mapped: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mapped_in = mapped.clone();
    let task = tokio::spawn(
        controller
            .watches(
                secret_meta,
                watcher::Config::default(),
                move |s: PartialObjectMeta<Secret>| {
                    let (ns, name) = (s.namespace(), s.name_any());
                    mapped_in
                        .lock()
                        .expect("lock")
                        .push((name.clone(), s.resource_version().unwrap_or_default()));
                    store
                        .state()
                        .into_iter()
                        .filter(|w| {
                            w.namespace() == ns
                                && w.spec.secret_name.as_deref() == Some(name.as_str())
                        })
                        .map(|w| ObjectRef::from_obj(&*w))
                        .collect::<Vec<_>>()
                },
            )
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|_| async {}),
    );

    wait_reason(&widgets, "w1", "SecretNotFound").await;
    let mut s = Secret::default();
    s.metadata.name = Some("creds".into());
    s.string_data = Some([("apiKey".to_string(), "k1".to_string())].into());
    secrets
        .create(&PostParams::default(), &s)
        .await
        .expect("secret");
    wait_reason(&widgets, "w1", "SecretFound").await;

    // No hot loop. Each status change triggers one follow-up reconcile (as on a real cluster),
    // whose identical status write must be a silent no-op. Two later objects going through full
    // reconciles act as barriers: w1 must stay quiet meanwhile.
    for (i, name) in ["w2", "w3"].into_iter().enumerate() {
        let quiet_since = ctx.reconciles.lock().expect("lock")["w1"];
        let mut w = widget(name, 1);
        w.spec.secret_name = Some("creds".into());
        widgets
            .create(&PostParams::default(), &w)
            .await
            .expect("create");
        wait_reason(&widgets, name, "SecretFound").await;
        if i == 1 {
            assert_eq!(
                ctx.reconciles.lock().expect("lock")["w1"],
                quiet_since,
                "w1 reconciled again without a change"
            );
        }
    }

    // Secret watch is metadata-only.
    let secret_watches: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.resource == "secrets" && r.verb == "watch")
        .collect();
    assert!(!secret_watches.is_empty());
    assert!(
        secret_watches.iter().all(|r| r
            .accept
            .as_deref()
            .is_some_and(|a| a.contains("as=PartialObjectMetadata"))),
        "{secret_watches:?}"
    );

    // Drop all watches and keep the Secret re-watch failing while the Secret is deleted: the
    // watcher resumes from its resourceVersion and still sees the deletion.
    let before_drop = server.requests().len();
    server
        .faults()
        .fail_next(2, Some("watch"), Some("secrets"), None, 500);
    server.faults().drop_watches();
    secrets
        .delete("creds", &DeleteParams::default())
        .await
        .expect("delete secret");
    wait_reason(&widgets, "w1", "SecretNotFound").await;
    wait_reason(&widgets, "w2", "SecretNotFound").await;
    let rewatch = server
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.resource == "secrets" && r.verb == "watch" && r.status == 200)
        .expect("re-watch");
    assert!(rewatch.query.contains("resourceVersion="), "{rewatch:?}");
    let relists: Vec<_> = server
        .requests()
        .split_off(before_drop)
        .into_iter()
        .filter(|r| r.verb == "list")
        .collect();
    assert!(
        relists.is_empty(),
        "resumed watches must not relist: {relists:?}"
    );

    // 410 Gone, deterministically: keep the Secret watch down (every re-watch fails), create
    // the Secret while it is down, then compact the history at that write. The watcher's
    // resourceVersion is older than the compaction (it cannot have seen the write, not even
    // in a bookmark), so its next watch gets 410 and it must relist; the new Secret can reach
    // the mapper only through that list (a watch from the list's version does not replay it).
    let mark = server.requests().len();
    let since_mark = || server.requests().split_off(mark);
    server
        .faults()
        .fail_next(usize::MAX, Some("watch"), Some("secrets"), None, 500);
    server.faults().drop_watches();
    eventually(
        "a failed Secret re-watch (the watch is down)",
        Duration::from_secs(20),
        || async {
            since_mark()
                .iter()
                .any(|r| r.resource == "secrets" && r.verb == "watch" && r.status == 500)
                .then_some(())
        },
    )
    .await;
    mapped.lock().expect("lock").clear();
    let created = secrets
        .create(&PostParams::default(), &s)
        .await
        .expect("secret again");
    let created_rv = created.resource_version().expect("rv");
    server.compact_history();
    assert_eq!(server.resource_version().to_string(), created_rv);
    server.faults().clear();
    eventually(
        "the Secret created while the watch was down reaches the mapper",
        Duration::from_secs(30),
        || async {
            mapped
                .lock()
                .expect("lock")
                .contains(&("creds".to_string(), created_rv.clone()))
                .then_some(())
        },
    )
    .await;
    wait_reason(&widgets, "w1", "SecretFound").await;
    // The request log shows the order: a watch from before the compaction (answered with a
    // 410 ERROR event), then a new list.
    let log: Vec<_> = since_mark()
        .into_iter()
        .filter(|r| r.resource == "secrets" && r.status == 200 && r.verb != "create")
        .collect();
    let expired = log
        .iter()
        .position(|r| r.verb == "watch")
        .expect("a successful Secret re-watch");
    let from: u64 = log[expired]
        .query
        .split('&')
        .find_map(|kv| kv.strip_prefix("resourceVersion="))
        .expect("re-watch from a resourceVersion")
        .parse()
        .expect("numeric resourceVersion");
    let created_rv: u64 = created_rv.parse().expect("numeric");
    assert!(
        from < created_rv,
        "re-watch from {from}, compacted at {created_rv}"
    );
    assert!(
        log[expired..].iter().any(|r| r.verb == "list"),
        "no relist after the 410: {log:?}"
    );

    // What a Role for this controller must allow.
    let usage = server.rbac_usage(|_| true);
    let verbs = |g: &str, r: &str| {
        usage
            .get(&(g.to_string(), r.to_string()))
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(verbs("example.test", "widgets/status"), ["patch"]);
    assert!(verbs("", "secrets").starts_with(&[
        "create".to_string(),
        "delete".into(),
        "get".into(),
        "list".into()
    ]));
    assert!(verbs("example.test", "widgets").contains(&"watch".to_string()));

    task.abort();
    server.shutdown().await;
}

//! API semantics through a real `kube::Client`: CRUD, status subresource, generation,
//! conflicts, validation, server-side apply, watches (incl. 410 Gone), finalizers, GC, lists.

mod common;

use std::time::Duration;

use common::{Widget, WidgetStatus, install_crd, widget};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{PartialObjectMeta, Status};
use kube_test_server::KubeTestServer;
use serde_json::json;

/// Server-side watch timeout (seconds) for watches a test reads and then drops itself: long
/// enough that a watch never ends on its own before a loaded machine gets to its events.
const WATCH_TIMEOUT: u32 = 240;

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn setup() -> (KubeTestServer, Api<Widget>) {
    let server = KubeTestServer::start().await.expect("server starts");
    let client = server.client().await;
    install_crd(&client).await;
    (server, Api::namespaced(client, "default"))
}

/// Start time is measured by `examples/startup.rs` (see README), not asserted here.
#[tokio::test]
async fn starts_and_serves_version() {
    let server = KubeTestServer::start().await.expect("server starts");
    let v = server
        .client()
        .await
        .apiserver_version()
        .await
        .expect("version");
    assert_eq!(v.minor, "32");
    server.shutdown().await;
}

#[tokio::test]
async fn servers_started_together_are_independent() {
    let servers = futures::future::try_join_all((0..4).map(|_| KubeTestServer::start()))
        .await
        .expect("servers start");
    let ports: std::collections::BTreeSet<_> = servers.iter().map(|s| s.url().port()).collect();
    assert_eq!(ports.len(), 4, "one port each");
    for (i, server) in servers.iter().enumerate() {
        let cms: Api<ConfigMap> = Api::default_namespaced(server.client().await);
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(format!("only-in-{i}"));
        cms.create(&PostParams::default(), &cm).await.expect("cm");
    }
    for (i, server) in servers.into_iter().enumerate() {
        let cms: Api<ConfigMap> = Api::default_namespaced(server.client().await);
        let names: Vec<String> = cms
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|c| c.metadata.name.expect("name"))
            .collect();
        assert_eq!(names, [format!("only-in-{i}")]);
        server.shutdown().await;
    }
}

#[tokio::test]
async fn create_defaults_generation_and_status_subresource() {
    let (_server, widgets) = setup().await;
    let w = widgets
        .create(&PostParams::default(), &widget("a", 3))
        .await
        .expect("created");
    assert_eq!(w.spec.color.as_deref(), Some("red"), "default applied");
    assert_eq!(w.spec.max_size, Some(10));
    assert_eq!(w.metadata.generation, Some(1));
    assert_eq!(w.metadata.namespace.as_deref(), Some("default"));
    assert!(w.metadata.uid.is_some() && w.metadata.creation_timestamp.is_some());
    let rv1: u64 = w
        .metadata
        .resource_version
        .clone()
        .expect("rv")
        .parse()
        .expect("numeric rv");

    // Status through /status: generation unchanged, rv increases.
    let status = json!({"status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}});
    let s = widgets
        .patch_status("a", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status patch");
    assert_eq!(s.metadata.generation, Some(1));
    let rv2: u64 = s
        .metadata
        .resource_version
        .clone()
        .expect("rv")
        .parse()
        .expect("numeric");
    assert!(rv2 > rv1);

    // Spec change through the main resource: status in the body is ignored, generation bumps.
    let mut changed = s.clone();
    changed.spec.size = 4;
    changed.status = Some(WidgetStatus::default());
    let u = widgets
        .replace("a", &PostParams::default(), &changed)
        .await
        .expect("replace");
    assert_eq!(u.metadata.generation, Some(2));
    assert_eq!(
        u.status.as_ref().map(|s| s.conditions.len()),
        Some(1),
        "status kept"
    );

    // Spec in a /status write is ignored.
    let p = json!({"spec": {"size": 9}, "status": {"observedGeneration": 2}});
    let s2 = widgets
        .patch_status("a", &PatchParams::default(), &Patch::Merge(&p))
        .await
        .expect("status");
    assert_eq!(s2.spec.size, 4);
    assert_eq!(s2.metadata.generation, Some(2));

    // Stale resourceVersion => 409 Conflict.
    let e = api_err(
        widgets
            .replace("a", &PostParams::default(), &changed)
            .await
            .expect_err("stale"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));

    // Errors are Status objects with real reasons.
    let e = api_err(widgets.get("nope").await.expect_err("missing"));
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "widgets.example.test \"nope\" not found");
    let e = api_err(
        widgets
            .create(&PostParams::default(), &widget("a", 1))
            .await
            .expect_err("dup"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
}

#[tokio::test]
async fn noop_writes_change_nothing_and_emit_no_event() {
    let (server, widgets) = setup().await;
    widgets
        .create(&PostParams::default(), &widget("a", 3))
        .await
        .expect("created");
    let status = json!({"apiVersion": "example.test/v1", "kind": "Widget", "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let pp = PatchParams::apply("tester").force();
    let first = widgets
        .patch_status("a", &pp, &Patch::Apply(&status))
        .await
        .expect("apply");
    let rv = server.resource_version();
    let mut events = widgets
        .watch(
            &WatchParams::default().timeout(WATCH_TIMEOUT),
            &first.metadata.resource_version.clone().expect("rv"),
        )
        .await
        .expect("watch")
        .boxed();
    let again = widgets
        .patch_status("a", &pp, &Patch::Apply(&status))
        .await
        .expect("apply again");
    assert_eq!(
        again.metadata.resource_version,
        first.metadata.resource_version
    );
    let merge = widgets
        .patch_status(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})),
        )
        .await
        .expect("merge");
    assert_eq!(
        merge.metadata.resource_version,
        first.metadata.resource_version
    );
    assert_eq!(server.resource_version(), rv, "no write happened");
    // A real change is the first event the watch sees.
    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("label");
    loop {
        match events.try_next().await.expect("stream ok") {
            Some(WatchEvent::Bookmark(_)) => continue,
            Some(WatchEvent::Modified(w)) => {
                break assert_eq!(w.metadata.labels.expect("labels")["x"], "y");
            }
            other => panic!("expected the label change first, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn invalid_custom_resources_are_refused_with_the_field_named() {
    let (_server, widgets) = setup().await;
    let mut w = widget("bad", 3);
    w.spec.color = Some("mauve".into());
    let e = api_err(
        widgets
            .create(&PostParams::default(), &w)
            .await
            .expect_err("enum"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        r#"Widget.example.test "bad" is invalid: spec.color: Unsupported value: "mauve": supported values: "red", "green", "blue""#
    );

    let e = api_err(
        widgets
            .create(&PostParams::default(), &widget("big", 11))
            .await
            .expect_err("cel"),
    );
    assert_eq!(
        e.message,
        r#"Widget.example.test "big" is invalid: spec.size: Invalid value: 11: size must not exceed maxSize"#
    );

    let e = api_err(
        widgets
            .create(&PostParams::default(), &widget("zero", 0))
            .await
            .expect_err("minimum"),
    );
    assert!(
        e.message.contains(
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
        ),
        "{}",
        e.message
    );

    // Transition rule with oldSelf.
    widgets
        .create(&PostParams::default(), &widget("ok", 1))
        .await
        .expect("valid");
    let e = api_err(
        widgets
            .patch(
                "ok",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"color": "blue"}})),
            )
            .await
            .expect_err("immutable"),
    );
    assert!(
        e.message
            .contains("spec.color: Invalid value: \"blue\": color is immutable"),
        "{}",
        e.message
    );

    // Required, and type errors.
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        widgets.clone().into_client(),
        "default",
        &kube::api::ApiResource::erase::<Widget>(&()),
    );
    let obj: kube::api::DynamicObject = serde_json::from_value(json!({"apiVersion": "example.test/v1", "kind": "Widget", "metadata": {"name": "t"}, "spec": {"size": "three"}})).expect("obj");
    let e = api_err(
        raw.create(&PostParams::default(), &obj)
            .await
            .expect_err("type"),
    );
    assert!(
        e.message.contains(
            "spec.size: Invalid value: \"string\": spec.size in body must be of type integer"
        ),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn server_side_apply_owns_fields_and_reports_conflicts() {
    let (_server, widgets) = setup().await;
    let body = json!({"apiVersion": "example.test/v1", "kind": "Widget", "metadata": {"name": "s"}, "spec": {"size": 2}});
    let w = widgets
        .patch("s", &PatchParams::apply("alice"), &Patch::Apply(&body))
        .await
        .expect("apply creates");
    assert_eq!(w.spec.size, 2);
    assert_eq!(
        w.metadata
            .managed_fields
            .as_ref()
            .map(|m| m[0].manager.clone()),
        Some(Some("alice".into()))
    );
    let bob = json!({"apiVersion": "example.test/v1", "kind": "Widget", "metadata": {"name": "s"}, "spec": {"size": 3}});
    let e = api_err(
        widgets
            .patch("s", &PatchParams::apply("bob"), &Patch::Apply(&bob))
            .await
            .expect_err("conflict"),
    );
    assert_eq!(e.code, 409);
    assert!(
        e.message.contains("conflict with \"alice\"") && e.message.contains(".spec.size"),
        "{}",
        e.message
    );
    let w = widgets
        .patch("s", &PatchParams::apply("bob").force(), &Patch::Apply(&bob))
        .await
        .expect("force");
    assert_eq!(w.spec.size, 3);
    // Same value from a second manager: shared ownership, no conflict.
    widgets
        .patch("s", &PatchParams::apply("carol"), &Patch::Apply(&bob))
        .await
        .expect("shared");
    // Status apply on a missing object is 404.
    let none = json!({"apiVersion": "example.test/v1", "kind": "Widget", "status": {}});
    let e = api_err(
        widgets
            .patch_status("none", &PatchParams::apply("x"), &Patch::Apply(&none))
            .await
            .expect_err("404"),
    );
    assert_eq!(e.code, 404);
}

#[tokio::test]
async fn watch_replays_from_resource_version_and_reports_gone() {
    let (server, widgets) = setup().await;
    let a = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("a");
    let rv_a = a.metadata.resource_version.clone().expect("rv");
    widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .expect("b");
    widgets
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let events: Vec<_> = widgets
        .watch(&WatchParams::default().timeout(WATCH_TIMEOUT), &rv_a)
        .await
        .expect("watch")
        .take(2)
        .try_collect()
        .await
        .expect("events");
    assert!(
        matches!(&events[0], WatchEvent::Added(w) if w.metadata.name.as_deref() == Some("b")),
        "{events:?}"
    );
    assert!(
        matches!(&events[1], WatchEvent::Deleted(w) if w.metadata.name.as_deref() == Some("a")),
        "{events:?}"
    );

    server.compact_history();
    let first = widgets
        .watch(&WatchParams::default(), &rv_a)
        .await
        .expect("watch starts")
        .boxed()
        .next()
        .await;
    match first {
        Some(Ok(WatchEvent::Error(e))) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
}

#[tokio::test]
async fn label_selector_transitions() {
    let (_server, widgets) = setup().await;
    let w = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("a");
    let wp = WatchParams::default()
        .labels("app=x")
        .timeout(WATCH_TIMEOUT);
    let mut s = widgets
        .watch(&wp, &w.metadata.resource_version.clone().expect("rv"))
        .await
        .expect("watch")
        .boxed();
    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
        )
        .await
        .expect("label");
    widgets
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "y"}}})),
        )
        .await
        .expect("relabel");
    let mut seen = vec![];
    while seen.len() < 2 {
        match s.try_next().await.expect("ok").expect("open") {
            WatchEvent::Added(_) => seen.push("ADDED"),
            WatchEvent::Deleted(_) => seen.push("DELETED"),
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["ADDED", "DELETED"]);
}

#[tokio::test]
async fn finalizers_and_owner_garbage_collection() {
    let (server, widgets) = setup().await;
    let client = server.client().await;
    let mut w = widget("owner", 1);
    w.metadata.finalizers = Some(vec!["example.test/hold".into()]);
    let owner = widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("owner");
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("dependent".into());
    cm.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "example.test/v1".into(),
            kind: "Widget".into(),
            name: "owner".into(),
            uid: owner.metadata.uid.clone().expect("uid"),
            ..Default::default()
        },
    ]);
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("dependent");

    // As the apiserver: 200 with the object, now carrying deletionTimestamp.
    let answered = widgets
        .delete("owner", &DeleteParams::default())
        .await
        .expect("delete accepted")
        .left()
        .expect("the object, not a Status");
    assert!(answered.metadata.deletion_timestamp.is_some());
    let r = server.requests().pop().expect("recorded");
    assert_eq!((r.verb.as_str(), r.status), ("delete", 200));
    let pending = widgets.get("owner").await.expect("still there");
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert_eq!(pending.metadata.generation, Some(2));
    assert!(
        cms.get_opt("dependent").await.expect("get").is_some(),
        "dependent kept while owner exists"
    );

    widgets
        .patch(
            "owner",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("finalizer removed");
    assert!(widgets.get_opt("owner").await.expect("get").is_none());
    assert!(
        cms.get_opt("dependent").await.expect("get").is_none(),
        "dependent collected"
    );
}

#[tokio::test]
async fn lists_paginate_filter_and_serve_metadata_only() {
    let (server, widgets) = setup().await;
    for i in 0..5 {
        let mut w = widget(&format!("w{i}"), 1);
        w.metadata.labels = Some(
            [(
                "parity".to_string(),
                if i % 2 == 0 { "even" } else { "odd" }.to_string(),
            )]
            .into(),
        );
        widgets
            .create(&PostParams::default(), &w)
            .await
            .expect("create");
    }
    let page1 = widgets
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(page1.items.len(), 2);
    let token = page1.metadata.continue_.clone().expect("continue token");
    let page2 = widgets
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(page2.items.len(), 3);
    assert_eq!(page2.metadata.continue_, None);
    assert_eq!(
        widgets
            .list(&ListParams::default().labels("parity in (even)"))
            .await
            .expect("labels")
            .items
            .len(),
        3
    );
    assert_eq!(
        widgets
            .list(&ListParams::default().labels("parity!=even"))
            .await
            .expect("labels")
            .items
            .len(),
        2
    );
    assert_eq!(
        widgets
            .list(&ListParams::default().fields("metadata.name=w3"))
            .await
            .expect("fields")
            .items
            .len(),
        1
    );

    let secrets: Api<Secret> = Api::default_namespaced(server.client().await);
    let mut s = Secret::default();
    s.metadata.name = Some("creds".into());
    s.string_data = Some([("k".to_string(), "v".to_string())].into());
    secrets
        .create(&PostParams::default(), &s)
        .await
        .expect("secret");
    let stored = secrets.get("creds").await.expect("secret");
    assert_eq!(
        stored.data.expect("data")["k"].0,
        b"v",
        "stringData merged into data"
    );
    assert_eq!(stored.string_data, None);
    let meta: Api<PartialObjectMeta<Secret>> = Api::default_namespaced(server.client().await);
    let list = meta
        .list_metadata(&ListParams::default())
        .await
        .expect("metadata list");
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("creds"));
    // The request log is written before the response is sent: no waiting needed. What the
    // server answers to this Accept header is checked on the raw bytes in `semantics.rs`.
    let r = server.requests().pop().expect("recorded");
    assert_eq!(
        (r.verb.as_str(), r.resource.as_str(), r.status),
        ("list", "secrets", 200)
    );
    assert!(
        r.accept
            .as_deref()
            .is_some_and(|a| a.contains("as=PartialObjectMetadataList")),
        "{r:?}"
    );
}

#[tokio::test]
async fn unsupported_field_selectors_are_refused() {
    let (_server, widgets) = setup().await;
    let e = api_err(
        widgets
            .list(&ListParams::default().fields("spec.color=red"))
            .await
            .expect_err("unsupported"),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (400, "field label not supported: spec.color")
    );
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_then_changes() {
    use kube::runtime::watcher::{self, Event};
    let (_server, widgets) = setup().await;
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("a");
    widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .expect("b");
    let mut stream = watcher::watcher(
        widgets.clone(),
        watcher::Config::default().streaming_lists(),
    )
    .boxed();
    let mut initial = vec![];
    loop {
        match stream.try_next().await.expect("ok").expect("open") {
            Event::Init => {}
            Event::InitApply(w) => initial.push(w.metadata.name.expect("name")),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["a", "b"]);
    widgets
        .create(&PostParams::default(), &widget("c", 1))
        .await
        .expect("c");
    match stream.try_next().await.expect("ok").expect("open") {
        Event::Apply(w) => assert_eq!(w.metadata.name.as_deref(), Some("c")),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn faults_and_request_log() {
    let (server, widgets) = setup().await;
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("a");
    server
        .faults()
        .fail_next(1, Some("get"), Some("widgets"), None, 500);
    let e = api_err(widgets.get("a").await.expect_err("injected"));
    assert_eq!((e.code, e.reason.as_str()), (500, "InternalError"));
    widgets.get("a").await.expect("only one failure");
    // A differently worded reason keeps the code: kube's `get_opt` (which compares the reason)
    // does not see a 404 here.
    server
        .faults()
        .fail_next_with_reason(1, Some("get"), Some("widgets"), None, 404, "Gone Away");
    let e = api_err(widgets.get("a").await.expect_err("injected"));
    assert_eq!((e.code, e.reason.as_str()), (404, "Gone Away"));
    server
        .faults()
        .fail_next_with_reason(1, Some("get"), Some("widgets"), None, 404, "Gone Away");
    assert!(widgets.get_opt("a").await.is_err());
    // kube's default client retries 429/503/504 by itself: one 503 is invisible to callers.
    server.clear_requests();
    server
        .faults()
        .fail_next(1, Some("get"), Some("widgets"), None, 503);
    widgets.get("a").await.expect("retried by kube");
    let codes: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(codes, [503, 200]);

    // Delays: only a lower bound is asserted (the injected delay is behaviour; how fast the
    // rest is, is not).
    server.faults().set_delay(Some(Duration::from_millis(300)));
    let t0 = std::time::Instant::now();
    widgets.get("a").await.expect("delayed");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    server.faults().clear();
    server.faults().delay_next(
        1,
        Some("get"),
        Some("widgets"),
        None,
        Duration::from_millis(300),
    );
    let t0 = std::time::Instant::now();
    widgets.get("a").await.expect("delayed once");
    assert!(t0.elapsed() >= Duration::from_millis(300));

    server.clear_requests();
    let body = json!({"apiVersion": "example.test/v1", "kind": "Widget", "status": {"observedGeneration": 1}});
    widgets
        .patch_status(
            "a",
            &PatchParams::apply("widget-controller").force(),
            &Patch::Apply(&body),
        )
        .await
        .expect("ssa");
    let r = server.requests().pop().expect("recorded");
    assert_eq!(
        (r.verb.as_str(), r.group.as_str(), r.resource.as_str()),
        ("patch", "example.test", "widgets")
    );
    assert_eq!(
        (
            r.subresource.as_deref(),
            r.namespace.as_deref(),
            r.name.as_deref()
        ),
        (Some("status"), Some("default"), Some("a"))
    );
    assert_eq!(r.field_manager.as_deref(), Some("widget-controller"));
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
}

#[tokio::test]
async fn crd_versions_are_served_with_conversion_none() {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let (server, _widgets) = setup().await;
    let client = server.client().await;
    let crd = common::WIDGET_CRD.replace(
        "  versions:\n  - name: v1\n",
        "  versions:\n  - name: v1beta1\n    served: true\n    storage: false\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n  - name: v1\n",
    );
    let crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition = serde_saphyr::from_str(&crd).expect("yaml");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    let current = crds.get("widgets.example.test").await.expect("crd");
    let mut updated = crd.clone();
    updated.metadata.resource_version = current.metadata.resource_version;
    crds.replace("widgets.example.test", &PostParams::default(), &updated)
        .await
        .expect("add v1beta1");

    let beta = ApiResource::from_gvk(&GroupVersionKind::gvk("example.test", "v1beta1", "Widget"));
    let old: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &beta);
    let obj: DynamicObject = serde_json::from_value(json!({"apiVersion": "example.test/v1beta1", "kind": "Widget", "metadata": {"name": "b"}, "spec": {"size": 1}})).expect("obj");
    old.create(&PostParams::default(), &obj)
        .await
        .expect("created at v1beta1");
    let w = Api::<Widget>::default_namespaced(client.clone())
        .get("b")
        .await
        .expect("read at v1");
    assert_eq!(w.spec.size, 1);
    let discovery = kube::Discovery::new(client).run().await.expect("discovery");
    let group = discovery.get("example.test").expect("group");
    assert_eq!(group.preferred_version_or_latest(), "v1");
    assert_eq!(group.versions().count(), 2);
}

#[tokio::test]
async fn status_apply_removes_conditions_a_manager_stops_applying() {
    let (_server, widgets) = setup().await;
    widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("a");
    let status = |conds: serde_json::Value| json!({"apiVersion": "example.test/v1", "kind": "Widget", "status": {"conditions": conds}});
    let ours = PatchParams::apply("operator").force();
    widgets
        .patch_status("a", &ours, &Patch::Apply(&status(json!([{"type": "Ready", "status": "False"}, {"type": "Reconciling", "status": "True"}]))))
        .await
        .expect("ready + reconciling");
    widgets
        .patch_status(
            "a",
            &PatchParams::apply("policy-engine"),
            &Patch::Apply(&status(json!([{"type": "Compliant", "status": "True"}]))),
        )
        .await
        .expect("someone else's condition");
    let w = widgets
        .patch_status(
            "a",
            &ours,
            &Patch::Apply(&status(json!([{"type": "Ready", "status": "True"}]))),
        )
        .await
        .expect("ready only");
    let types: Vec<(String, String)> = w
        .status
        .expect("status")
        .conditions
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect();
    assert_eq!(
        types,
        [
            ("Ready".to_string(), "True".to_string()),
            ("Compliant".to_string(), "True".to_string())
        ]
    );
}

#[tokio::test]
async fn concurrent_writers_get_monotonic_versions_and_watchers_see_every_change() {
    let server = KubeTestServer::start().await.expect("server");
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client().await);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("c".into());
    let created = cms.create(&PostParams::default(), &cm).await.expect("cm");
    let mut watch = cms
        .watch(
            &WatchParams::default().fields("metadata.name=c"),
            &created.metadata.resource_version.clone().expect("rv"),
        )
        .await
        .expect("watch")
        .boxed();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let cms = cms.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let p = json!({"data": {format!("w{w}"): i.to_string()}});
                    cms.patch("c", &PatchParams::default(), &Patch::Merge(&p))
                        .await
                        .expect("patch");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let mut last = 0u64;
    let mut modified = 0;
    while modified < 100 {
        match watch.try_next().await.expect("ok").expect("open") {
            WatchEvent::Modified(c) => {
                let rv: u64 = c
                    .metadata
                    .resource_version
                    .expect("rv")
                    .parse()
                    .expect("numeric");
                assert!(rv > last, "resourceVersion went from {last} to {rv}");
                last = rv;
                modified += 1;
            }
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let data = cms.get("c").await.expect("get").data.expect("data");
    assert!((0..4).all(|w| data[&format!("w{w}")] == "24"), "{data:?}");
}

#[tokio::test]
async fn bounded_history_expires_old_resource_versions() {
    let options = kube_test_server::Options {
        history_limit: 3,
        ..Default::default()
    };
    let server = KubeTestServer::start_with(options).await.expect("server");
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client().await);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("c".into());
    let first = cms.create(&PostParams::default(), &cm).await.expect("cm");
    for i in 0..5 {
        cms.patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"i": i.to_string()}})),
        )
        .await
        .expect("patch");
    }
    let rv = first.metadata.resource_version.expect("rv");
    match cms
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed()
        .next()
        .await
    {
        Some(Ok(WatchEvent::Error(e))) => assert_eq!(e.code, 410),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    let recent = server.resource_version() - 1;
    match cms
        .watch(
            &WatchParams::default().timeout(WATCH_TIMEOUT),
            &recent.to_string(),
        )
        .await
        .expect("watch")
        .boxed()
        .next()
        .await
    {
        Some(Ok(WatchEvent::Modified(c))) => assert_eq!(c.data.expect("data")["i"], "4"),
        other => panic!("expected the last change, got {other:?}"),
    }
}

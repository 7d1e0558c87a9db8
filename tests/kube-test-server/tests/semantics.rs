//! Behaviour checked on the wire or in detail: metadata-only responses (raw bytes), periodic
//! bookmarks, JSON patch, deletecollection, generation on metadata-only writes, cluster-scoped
//! custom resources, the `metadata.namespace` field selector, Orphan propagation, and the
//! status code of DELETE.

mod common;

use std::time::Duration;

use common::{Widget, install_crd, widget};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{PartialObjectMeta, Status};
use kube::{Client, ResourceExt};
use kube_test_server::{KubeTestServer, Options, RecordedRequest};
use serde_json::{Value, json};

/// Server-side timeout for watches the test ends itself (never reached).
const WATCH_TIMEOUT: u32 = 240;

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn setup() -> (KubeTestServer, Client, Api<Widget>) {
    let server = KubeTestServer::start().await.expect("server starts");
    let client = server.client().await;
    install_crd(&client).await;
    let widgets = Api::namespaced(client.clone(), "default");
    (server, client, widgets)
}

fn request(method: &str, uri: &str, accept: Option<&str>, body: Vec<u8>) -> http::Request<Vec<u8>> {
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(a) = accept {
        b = b.header(http::header::ACCEPT, a);
    }
    if !body.is_empty() {
        b = b.header(http::header::CONTENT_TYPE, "application/json");
    }
    b.body(body).expect("valid request")
}

/// GET through the client's connection, decoded from the raw body (no typed decoding).
async fn raw_get(client: &Client, uri: &str, accept: Option<&str>) -> Value {
    let text = client
        .request_text(request("GET", uri, accept, vec![]))
        .await
        .expect("raw GET");
    serde_json::from_str(&text).expect("JSON body")
}

fn last_request(server: &KubeTestServer, verb: &str, resource: &str) -> RecordedRequest {
    server
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.verb == verb && r.resource == resource)
        .expect("request recorded")
}

fn secret(name: &str, value: &str) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some(name.into());
    s.string_data = Some([("apiKey".to_string(), value.to_string())].into());
    s
}

fn assert_partial(obj: &Value, name: &str) {
    assert_eq!(obj["kind"], "PartialObjectMetadata", "{obj}");
    assert_eq!(obj["apiVersion"], "meta.k8s.io/v1", "{obj}");
    assert_eq!(obj["metadata"]["name"], name, "{obj}");
    assert!(obj["metadata"]["resourceVersion"].is_string(), "{obj}");
    let keys: Vec<&String> = obj.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["apiVersion", "kind", "metadata"],
        "only metadata: {obj}"
    );
}

#[tokio::test]
async fn metadata_only_get_list_and_watch_send_partial_object_metadata() {
    let server = KubeTestServer::start().await.expect("server");
    let client = server.client().await;
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    secrets
        .create(&PostParams::default(), &secret("creds", "k1"))
        .await
        .expect("secret");

    // The Accept headers kube sends for metadata-only calls, taken from what it sent.
    let meta: Api<PartialObjectMeta<Secret>> = Api::default_namespaced(client.clone());
    let list = meta
        .list_metadata(&ListParams::default())
        .await
        .expect("list_metadata");
    let list_accept = last_request(&server, "list", "secrets")
        .accept
        .expect("Accept");
    meta.get_metadata("creds").await.expect("get_metadata");
    let get_accept = last_request(&server, "get", "secrets")
        .accept
        .expect("Accept");
    drop(
        meta.watch_metadata(
            &WatchParams::default().timeout(WATCH_TIMEOUT),
            &list.metadata.resource_version.clone().expect("rv"),
        )
        .await
        .expect("watch_metadata"),
    );
    let watch_accept = last_request(&server, "watch", "secrets")
        .accept
        .expect("Accept");
    assert!(list_accept.contains("as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"));
    assert!(get_accept.contains("as=PartialObjectMetadata;g=meta.k8s.io;v=v1"));
    assert!(watch_accept.contains("as=PartialObjectMetadata;g=meta.k8s.io;v=v1"));

    let path = "/api/v1/namespaces/default/secrets";
    // Without the header: the full objects, data included (so the checks below can fail).
    let full = raw_get(&client, path, None).await;
    assert_eq!(full["kind"], "SecretList");
    assert!(full["items"][0]["data"]["apiKey"].is_string(), "{full}");

    let list = raw_get(&client, path, Some(&list_accept)).await;
    assert_eq!(list["kind"], "PartialObjectMetadataList", "{list}");
    assert_eq!(list["apiVersion"], "meta.k8s.io/v1", "{list}");
    assert!(list["metadata"]["resourceVersion"].is_string(), "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_partial(&items[0], "creds");

    let one = raw_get(&client, &format!("{path}/creds"), Some(&get_accept)).await;
    assert_partial(&one, "creds");

    // A raw watch: ADDED, MODIFIED and DELETED all carry metadata only.
    let rv = list["metadata"]["resourceVersion"].as_str().expect("rv");
    let uri = format!("{path}?watch=true&resourceVersion={rv}&timeoutSeconds={WATCH_TIMEOUT}");
    let body = client
        .request_stream(request("GET", &uri, Some(&watch_accept), vec![]))
        .await
        .expect("raw watch");
    let mut lines = std::pin::pin!(body.lines());
    secrets
        .create(&PostParams::default(), &secret("later", "k2"))
        .await
        .expect("second secret");
    secrets
        .patch(
            "later",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"apiKey": "k3"}})),
        )
        .await
        .expect("data change");
    secrets
        .delete("later", &DeleteParams::default())
        .await
        .expect("delete");
    for want in ["ADDED", "MODIFIED", "DELETED"] {
        let line = lines
            .next()
            .await
            .expect("watch still open")
            .expect("readable");
        let ev: Value = serde_json::from_str(&line).expect("one JSON event per line");
        assert_eq!(ev["type"], want, "{ev}");
        assert_partial(&ev["object"], "later");
    }
}

#[tokio::test]
async fn periodic_bookmarks_only_when_asked() {
    let options = Options {
        bookmark_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let server = KubeTestServer::start_with(options).await.expect("server");
    let client = server.client().await;
    install_crd(&client).await;
    let widgets: Api<Widget> = Api::default_namespaced(client.clone());
    let a = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("a");
    let rv = a.resource_version().expect("rv");
    let mut with = widgets
        .watch(&WatchParams::default().timeout(WATCH_TIMEOUT), &rv)
        .await
        .expect("watch with bookmarks")
        .boxed();
    let mut without = widgets
        .watch(
            &WatchParams::default()
                .disable_bookmarks()
                .timeout(WATCH_TIMEOUT),
            &rv,
        )
        .await
        .expect("watch without bookmarks")
        .boxed();
    let queries: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.verb == "watch")
        .map(|r| r.query)
        .collect();
    assert!(
        queries[0].contains("allowWatchBookmarks=true"),
        "{queries:?}"
    );
    assert!(!queries[1].contains("allowWatchBookmarks"), "{queries:?}");

    // A write to another resource: no widget event carries its resourceVersion, so only a
    // periodic BOOKMARK can bring it to the widget watch.
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("elsewhere".into());
    let cm = cms.create(&PostParams::default(), &cm).await.expect("cm");
    let cm_rv = cm.resource_version().expect("rv");
    loop {
        match with.try_next().await.expect("ok").expect("open") {
            WatchEvent::Bookmark(b) if b.metadata.resource_version == cm_rv => {
                assert_eq!(b.types.kind, "Widget");
                assert!(
                    b.metadata.annotations.is_empty(),
                    "not an initial-events-end"
                );
                break;
            }
            WatchEvent::Bookmark(_) => {}
            other => panic!("expected only bookmarks, got {other:?}"),
        }
    }
    // Meanwhile the other watch had as many chances to send one (its first would have come at
    // once): its first event is the next real change.
    widgets
        .create(&PostParams::default(), &widget("b", 1))
        .await
        .expect("b");
    match without.try_next().await.expect("ok").expect("open") {
        WatchEvent::Added(w) => assert_eq!(w.name_any(), "b"),
        other => panic!("expected ADDED b and no bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn json_patch_applies_and_a_failed_test_op_is_invalid() {
    let (server, _client, widgets) = setup().await;
    widgets
        .create(&PostParams::default(), &widget("a", 3))
        .await
        .expect("a");
    let ops = |v: Value| -> Patch<()> { Patch::Json(serde_json::from_value(v).expect("ops")) };
    let w = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &ops(json!([
                {"op": "test", "path": "/spec/size", "value": 3},
                {"op": "replace", "path": "/spec/size", "value": 4},
                {"op": "add", "path": "/metadata/labels", "value": {"app": "x"}}
            ])),
        )
        .await
        .expect("json patch");
    assert_eq!(w.spec.size, 4);
    assert_eq!(w.labels()["app"], "x");
    assert_eq!(w.metadata.generation, Some(2));
    let r = last_request(&server, "patch", "widgets");
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json-patch+json")
    );

    let rv = w.resource_version();
    let e = api_err(
        widgets
            .patch(
                "a",
                &PatchParams::default(),
                &ops(json!([
                    {"op": "test", "path": "/spec/size", "value": 99},
                    {"op": "replace", "path": "/spec/size", "value": 5}
                ])),
            )
            .await
            .expect_err("failed test op"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
    assert!(e.message.contains("/spec/size"), "{}", e.message);
    let now = widgets.get("a").await.expect("get");
    assert_eq!(
        (now.spec.size, now.resource_version()),
        (4, rv),
        "nothing applied"
    );

    // A patch that yields an invalid object is refused by validation like any write.
    let e = api_err(
        widgets
            .patch(
                "a",
                &PatchParams::default(),
                &ops(json!([{"op": "replace", "path": "/spec/size", "value": 0}])),
            )
            .await
            .expect_err("invalid result"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(e.message.contains("spec.size"), "{}", e.message);
}

#[tokio::test]
async fn deletecollection_honours_the_label_selector() {
    let (server, _client, widgets) = setup().await;
    for (name, parity) in [("w0", "even"), ("w1", "odd"), ("w2", "even"), ("w3", "odd")] {
        let mut w = widget(name, 1);
        w.metadata.labels = Some([("parity".to_string(), parity.to_string())].into());
        widgets
            .create(&PostParams::default(), &w)
            .await
            .expect("create");
    }
    let deleted = widgets
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("parity=even"),
        )
        .await
        .expect("deletecollection")
        .left()
        .expect("the deleted objects");
    let names: Vec<String> = deleted.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["w0", "w2"]);
    let r = last_request(&server, "deletecollection", "widgets");
    assert_eq!(r.status, 200);
    let left: Vec<String> = widgets
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(left, ["w1", "w3"]);
}

#[tokio::test]
async fn generation_moves_on_spec_changes_only() {
    let (_server, _client, widgets) = setup().await;
    let created = widgets
        .create(&PostParams::default(), &widget("a", 1))
        .await
        .expect("a");
    assert_eq!(created.metadata.generation, Some(1));
    let mut last_rv = created.resource_version();
    let merge = |v: Value| Patch::Merge(v);
    let metadata_writes = [
        json!({"metadata": {"labels": {"app": "x"}}}),
        json!({"metadata": {"annotations": {"note": "hello"}}}),
        json!({"metadata": {"finalizers": ["example.test/hold"]}}),
        json!({"metadata": {"finalizers": null, "labels": null}}),
    ];
    for p in metadata_writes {
        let w = widgets
            .patch("a", &PatchParams::default(), &merge(p.clone()))
            .await
            .expect("metadata write");
        assert_ne!(w.resource_version(), last_rv, "{p} was stored");
        assert_eq!(w.metadata.generation, Some(1), "after {p}");
        last_rv = w.resource_version();
    }
    let s = widgets
        .patch_status(
            "a",
            &PatchParams::default(),
            &merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .expect("status write");
    assert_ne!(s.resource_version(), last_rv);
    assert_eq!(s.metadata.generation, Some(1), "after a status write");
    let w = widgets
        .patch(
            "a",
            &PatchParams::default(),
            &merge(json!({"spec": {"size": 2}})),
        )
        .await
        .expect("spec write");
    assert_eq!(w.metadata.generation, Some(2), "after a spec write");
}

const GIZMO_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.example.test
spec:
  group: example.test
  scope: Cluster
  names: {plural: gizmos, singular: gizmo, kind: Gizmo, listKind: GizmoList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
"#;

#[tokio::test]
async fn cluster_scoped_custom_resources_live_outside_namespaces() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let server = KubeTestServer::start().await.expect("server");
    let client = server.client().await;
    let crd: CustomResourceDefinition = serde_saphyr::from_str(GIZMO_CRD).expect("yaml");
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .expect("CRD");
    let resources = client
        .list_api_group_resources("example.test/v1")
        .await
        .expect("discovery");
    let gizmos = resources
        .resources
        .iter()
        .find(|r| r.name == "gizmos")
        .expect("gizmos discovered");
    assert!(!gizmos.namespaced);

    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.test", "v1", "Gizmo"),
        "gizmos",
    );
    let cluster: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.test/v1", "kind": "Gizmo",
        "metadata": {"name": "g1"}, "spec": {"size": 1}
    }))
    .expect("obj");
    let created = cluster
        .create(&PostParams::default(), &obj)
        .await
        .expect("created without a namespace");
    assert_eq!(created.metadata.namespace, None);
    assert_eq!(created.metadata.generation, Some(1));
    let got = cluster.get("g1").await.expect("get");
    assert_eq!(got.data["spec"]["size"], 1);
    assert_eq!(
        cluster
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    // Under a namespace path the resource does not exist, as on a real cluster.
    let namespaced: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    for e in [
        namespaced.get("g1").await.expect_err("get"),
        namespaced
            .list(&ListParams::default())
            .await
            .expect_err("list"),
        namespaced
            .create(&PostParams::default(), &obj)
            .await
            .expect_err("create"),
    ] {
        let e = api_err(e);
        assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"), "{e:?}");
    }

    cluster
        .delete("g1", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(cluster.get_opt("g1").await.expect("get").is_none());
}

#[tokio::test]
async fn namespace_field_selector_over_http() {
    let server = KubeTestServer::start().await.expect("server");
    let client = server.client().await;
    let mut ns = Namespace::default();
    ns.metadata.name = Some("other".into());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    for (namespace, name) in [("default", "d1"), ("other", "o1"), ("other", "o2")] {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.into());
        Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &cm)
            .await
            .expect("cm");
    }
    let names = |api: Api<ConfigMap>, fields: &'static str| async move {
        api.list(&ListParams::default().fields(fields))
            .await
            .expect("list")
            .items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>()
    };
    let all = || Api::<ConfigMap>::all(client.clone());
    assert_eq!(names(all(), "metadata.namespace=other").await, ["o1", "o2"]);
    assert_eq!(names(all(), "metadata.namespace!=other").await, ["d1"]);
    assert_eq!(
        names(all(), "metadata.namespace=other,metadata.name=o2").await,
        ["o2"]
    );
    // On a namespaced path the selector narrows further, it does not widen.
    let in_default = || Api::<ConfigMap>::namespaced(client.clone(), "default");
    assert!(
        names(in_default(), "metadata.namespace=other")
            .await
            .is_empty()
    );
    let r = last_request(&server, "list", "configmaps");
    assert!(
        r.query.contains("fieldSelector=metadata.namespace"),
        "{r:?}"
    );
}

fn owned_config_map(name: &str, owners: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.owner_references = Some(
        owners
            .iter()
            .map(|(owner, uid)| OwnerReference {
                api_version: "example.test/v1".into(),
                kind: "Widget".into(),
                name: (*owner).into(),
                uid: (*uid).into(),
                ..Default::default()
            })
            .collect(),
    );
    cm
}

#[tokio::test]
async fn orphan_propagation_keeps_dependents_and_drops_the_reference() {
    let (_server, client, widgets) = setup().await;
    let uid = |w: Widget| w.metadata.uid.expect("uid");
    let first = uid(widgets
        .create(&PostParams::default(), &widget("first", 1))
        .await
        .expect("first"));
    let second = uid(widgets
        .create(&PostParams::default(), &widget("second", 1))
        .await
        .expect("second"));
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(
        &PostParams::default(),
        &owned_config_map("only-first", &[("first", &first)]),
    )
    .await
    .expect("dependent");
    cms.create(
        &PostParams::default(),
        &owned_config_map("both", &[("first", &first), ("second", &second)]),
    )
    .await
    .expect("dependent of two");

    widgets
        .delete("first", &DeleteParams::orphan())
        .await
        .expect("orphan delete");
    assert!(widgets.get_opt("first").await.expect("get").is_none());
    // Orphaned: kept, and the garbage collector removed the reference to the deleted owner
    // (an emptied list is omitted, as the apiserver serves it).
    let orphan = cms.get("only-first").await.expect("kept");
    assert_eq!(orphan.metadata.owner_references, None);
    let both = cms.get("both").await.expect("kept");
    let refs: Vec<String> = both
        .metadata
        .owner_references
        .expect("refs")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(refs, ["second"]);

    // Background (the default) then collects the dependent whose last owner goes.
    widgets
        .delete("second", &DeleteParams::background())
        .await
        .expect("background delete");
    assert!(cms.get_opt("both").await.expect("get").is_none());
    assert!(cms.get_opt("only-first").await.expect("get").is_some());
}

#[tokio::test]
async fn delete_answers_200_with_the_object_and_202_only_for_orphan_dependents_false() {
    let (server, client, widgets) = setup().await;
    for name in ["a", "b"] {
        let mut w = widget(name, 1);
        w.metadata.finalizers = Some(vec!["example.test/hold".into()]);
        widgets
            .create(&PostParams::default(), &w)
            .await
            .expect("create");
    }
    let path = "/apis/example.test/v1/namespaces/default/widgets";
    let answer = |text: String| -> Value { serde_json::from_str(&text).expect("JSON") };

    // Kept by a finalizer: 200 and the object with deletionTimestamp.
    let a = answer(
        client
            .request_text(request("DELETE", &format!("{path}/a"), None, vec![]))
            .await
            .expect("delete a"),
    );
    assert_eq!(last_request(&server, "delete", "widgets").status, 200);
    assert_eq!(a["kind"], "Widget", "{a}");
    assert!(a["metadata"]["deletionTimestamp"].is_string(), "{a}");

    // The deprecated orphanDependents=false on an object not deleted at once: 202.
    let body = serde_json::to_vec(
        &json!({"kind": "DeleteOptions", "apiVersion": "v1", "orphanDependents": false}),
    )
    .expect("body");
    let b = answer(
        client
            .request_text(request("DELETE", &format!("{path}/b"), None, body))
            .await
            .expect("delete b"),
    );
    assert_eq!(last_request(&server, "delete", "widgets").status, 202);
    assert!(b["metadata"]["deletionTimestamp"].is_string(), "{b}");

    // Deleted at once: 200 as well, whatever orphanDependents says.
    widgets
        .create(&PostParams::default(), &widget("c", 1))
        .await
        .expect("c");
    let body = serde_json::to_vec(&json!({"orphanDependents": false})).expect("body");
    client
        .request_text(request("DELETE", &format!("{path}/c"), None, body))
        .await
        .expect("delete c");
    assert_eq!(last_request(&server, "delete", "widgets").status, 200);
    assert!(widgets.get_opt("c").await.expect("get").is_none());
}

//! core/v1 and events.k8s.io/v1 Events: two views of one stored object (one name space, one
//! resourceVersion sequence) with the apiserver's conversion and field selectors.

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event as NewEvent;
use kube::Resource;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube_test_server::KubeTestServer;
use serde_json::json;

/// A Widget with two identical Recorder events (create, then the series patch).
async fn widget_with_recorded_event(
    client: &kube::Client,
) -> (k8s_openapi::api::core::v1::ObjectReference, String) {
    common::install_crd(client).await;
    let widgets: Api<common::Widget> = Api::default_namespaced(client.clone());
    let w = widgets
        .create(&PostParams::default(), &common::widget("w1", 2))
        .await
        .expect("widget");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "widget-controller".into(),
            instance: Some("pod-1".into()),
        },
    );
    let ev = Event {
        type_: EventType::Warning,
        reason: "CredentialsRejected".into(),
        note: Some("key revoked".into()),
        action: "Sync".into(),
        secondary: None,
    };
    let oref = w.object_ref(&());
    recorder.publish(&ev, &oref).await.expect("first publish");
    recorder.publish(&ev, &oref).await.expect("series patch");
    let uid = w.metadata.uid.expect("uid");
    (oref, uid)
}

fn involved_selector(uid: &str) -> String {
    format!(
        "involvedObject.name=w1,involvedObject.namespace=default,involvedObject.kind=Widget,involvedObject.uid={uid}"
    )
}

#[tokio::test]
async fn recorder_event_is_listed_through_core_v1_with_converted_fields() {
    let server = KubeTestServer::start().await.expect("server");
    let client = server.client().await;
    let (_, uid) = widget_with_recorded_event(&client).await;

    let core: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let list = core
        .list(&ListParams::default().fields(&involved_selector(&uid)))
        .await
        .expect("core/v1 list with the describe field selector");
    assert_eq!(list.items.len(), 1, "{:?}", list.items);
    let e = &list.items[0];
    assert_eq!(e.involved_object.kind.as_deref(), Some("Widget"));
    assert_eq!(e.involved_object.name.as_deref(), Some("w1"));
    assert_eq!(e.involved_object.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(
        e.involved_object.api_version.as_deref(),
        Some("example.test/v1")
    );
    assert_eq!(e.message.as_deref(), Some("key revoked"));
    assert_eq!(e.reason.as_deref(), Some("CredentialsRejected"));
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(e.action.as_deref(), Some("Sync"));
    assert_eq!(e.reporting_component.as_deref(), Some("widget-controller"));
    assert_eq!(e.reporting_instance.as_deref(), Some("pod-1"));
    assert!(e.event_time.is_some(), "{e:?}");
    let series = e.series.as_ref().expect("the repeat patched series");
    assert_eq!(series.count, Some(2));
    assert!(series.last_observed_time.is_some());
    // The conversion renames only: no count/firstTimestamp/source are invented.
    assert_eq!(e.count, None);
    assert_eq!(e.first_timestamp, None);
    assert!(e.source.as_ref().is_none_or(|s| s.component.is_none()));

    // The same object through events.k8s.io: same name, uid and resourceVersion.
    let new: Api<NewEvent> = Api::default_namespaced(client.clone());
    let name = e.metadata.name.clone().expect("name");
    let n = new.get(&name).await.expect("events.k8s.io view");
    assert_eq!(n.metadata.uid, e.metadata.uid);
    assert_eq!(n.metadata.resource_version, e.metadata.resource_version);
    assert_eq!(n.note.as_deref(), Some("key revoked"));

    // Other field labels the apiserver supports on core/v1 Events.
    for (sel, want) in [
        ("reason=CredentialsRejected", 1),
        ("reason=Other", 0),
        ("type=Warning,reportingComponent=widget-controller", 1),
        // `source` is source.component, else reportingComponent.
        ("source=widget-controller", 1),
        ("involvedObject.apiVersion=example.test/v1", 1),
        ("involvedObject.fieldPath=", 1),
        ("involvedObject.kind!=Widget", 0),
    ] {
        let got = core
            .list(&ListParams::default().fields(sel))
            .await
            .unwrap_or_else(|e| panic!("{sel}: {e}"));
        assert_eq!(got.items.len(), want, "{sel}");
    }
    // events.k8s.io has its own labels: regarding.*, reportingController.
    let got = new
        .list(&ListParams::default().fields(&format!(
            "regarding.uid={uid},regarding.kind=Widget,reportingController=widget-controller,type=Warning"
        )))
        .await
        .expect("events.k8s.io list by regarding");
    assert_eq!(got.items.len(), 1);
    for (api_is_core, sel) in [
        (true, "regarding.name=w1"),
        (true, "reportingController=x"),
        (false, "involvedObject.name=w1"),
        (false, "source=x"),
    ] {
        let err = if api_is_core {
            core.list(&ListParams::default().fields(sel)).await.err()
        } else {
            new.list(&ListParams::default().fields(sel)).await.err()
        };
        match err {
            Some(kube::Error::Api(s)) => {
                assert_eq!(s.code, 400, "{sel}");
                assert!(s.message.contains("field label not supported"), "{s:?}");
            }
            other => panic!("{sel}: expected 400, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn core_v1_event_is_the_same_object_through_events_k8s_io() {
    let server = KubeTestServer::start().await.expect("server");
    let client = server.client().await;
    let core: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let new: Api<NewEvent> = Api::default_namespaced(client.clone());
    let body: CoreEvent = serde_json::from_value(json!({
        "metadata": {"name": "cm1.1"},
        "involvedObject": {"kind": "ConfigMap", "namespace": "default", "name": "cm1", "uid": "u-1", "apiVersion": "v1"},
        "reason": "Synced",
        "message": "all good",
        "type": "Normal",
        "source": {"component": "old-controller", "host": "node-a"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:05:00Z",
        "count": 3,
    }))
    .expect("fixture");
    let created = core
        .create(&PostParams::default(), &body)
        .await
        .expect("core create");

    let n = new
        .get("cm1.1")
        .await
        .expect("readable through events.k8s.io");
    assert_eq!(n.metadata.uid, created.metadata.uid);
    assert_eq!(
        n.metadata.resource_version,
        created.metadata.resource_version
    );
    let regarding = n.regarding.as_ref().expect("regarding");
    assert_eq!(regarding.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(regarding.uid.as_deref(), Some("u-1"));
    assert_eq!(n.note.as_deref(), Some("all good"));
    assert_eq!(n.reason.as_deref(), Some("Synced"));
    assert_eq!(n.type_.as_deref(), Some("Normal"));
    assert_eq!(n.deprecated_count, Some(3));
    let src = n.deprecated_source.as_ref().expect("deprecatedSource");
    assert_eq!(src.component.as_deref(), Some("old-controller"));
    assert_eq!(src.host.as_deref(), Some("node-a"));
    assert!(n.deprecated_first_timestamp.is_some() && n.deprecated_last_timestamp.is_some());
    // One name space: the name is taken in both APIs.
    let mut dup = NewEvent::default();
    dup.metadata.name = Some("cm1.1".into());
    dup.event_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        jiff::Timestamp::now(),
    ));
    match new.create(&PostParams::default(), &dup).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 409, "{s:?}"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    // A watch through core/v1 sees a patch made through events.k8s.io, at the same RV.
    let rv = created.metadata.resource_version.clone().expect("rv");
    let mut stream = core
        .watch(
            &WatchParams::default().fields("involvedObject.name=cm1"),
            &rv,
        )
        .await
        .expect("core watch")
        .boxed();
    let patched = new
        .patch(
            "cm1.1",
            &PatchParams::default(),
            &Patch::Merge(json!({"note": "changed", "deprecatedCount": 4})),
        )
        .await
        .expect("patch through events.k8s.io");
    let next_change = async {
        loop {
            match stream
                .try_next()
                .await
                .expect("stream ok")
                .expect("not ended")
            {
                WatchEvent::Bookmark(_) => continue,
                other => break other,
            }
        }
    };
    let seen = tokio::time::timeout(Duration::from_secs(10), next_change)
        .await
        .expect("watch event in time");
    match seen {
        WatchEvent::Modified(e) => {
            assert_eq!(e.message.as_deref(), Some("changed"));
            assert_eq!(e.count, Some(4));
            assert_eq!(
                e.metadata.resource_version,
                patched.metadata.resource_version
            );
        }
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    let c = core.get("cm1.1").await.expect("core get");
    assert_eq!(c.message.as_deref(), Some("changed"));
    assert_eq!(
        c.metadata.resource_version,
        patched.metadata.resource_version
    );

    // Deleting through one API deletes it in both.
    core.delete("cm1.1", &Default::default())
        .await
        .expect("core delete");
    match new.get("cm1.1").await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

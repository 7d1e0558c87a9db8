//! One reconcile at a time, in process, in the style of kube-rs controller-rs's tests: the
//! Kubernetes API test server stands in for the API server and records every request, the
//! project's JumpCloud simulator answers the JumpCloud side, and each test asserts the exact
//! request sequence one `reconcile` call makes (which reads, which status writes, which events)
//! for one of the main plans.

use std::sync::Arc;

use jumpcloud_operator::controller::{self, Context, Endpoints, EvidenceTarget, Settings};
use jumpcloud_operator::crd::JumpCloudConnection;
use jumpcloud_operator::region::Region;
use jumpcloud_simulator::{Simulator, SimulatorConfig};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::CustomResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use kube_test_server::{KubeTestServer, RecordedRequest};
use secrecy::ExposeSecret;
use serde_json::json;

const NS: &str = "team";

struct Harness {
    kube: KubeTestServer,
    client: kube::Client,
    sim: Simulator,
    _evidence: tempfile::TempDir,
    ctx: Arc<Context>,
    /// The watch cache the controller would keep, fed by hand before each reconcile.
    cache: Writer<JumpCloudConnection>,
}

impl Harness {
    async fn new() -> Harness {
        let kube = KubeTestServer::start().await.expect("kube test server");
        let client = kube.client().await;
        let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(client.clone());
        crds.create(&PostParams::default(), &JumpCloudConnection::crd())
            .await
            .expect("CRD created");
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace created");
        let sim = Simulator::start(SimulatorConfig {
            regions: vec![Region::Us.into()],
            ..SimulatorConfig::default()
        })
        .await
        .expect("simulator starts");
        let evidence = tempfile::tempdir().unwrap();
        let settings = Settings {
            evidence: EvidenceTarget {
                store: jumpcloud_operator::store::EvidenceStore::open(
                    evidence.path().to_str().unwrap(),
                )
                .unwrap(),
                signer: None,
            },
            endpoints: Endpoints {
                overrides: [(Region::Us, sim.base_url(Region::Us).unwrap())].into(),
                ..Endpoints::default()
            },
            watch_namespaces: Vec::new(),
            label_selector: None,
            secret_selector: None,
            concurrency: 1,
            instance: Some("test-0".into()),
            metrics: None,
            readiness: None,
            rejected_key_retry: jumpcloud_operator::decide::REJECTED_KEY_RETRY,
            policy_reports: jumpcloud_operator::controller::PolicyReportMode::Off,
        };
        let ctx = Arc::new(Context::new(client.clone(), settings));
        let (store, cache) = reflector::store::<JumpCloudConnection>();
        ctx.add_store(store);
        Harness {
            kube,
            client,
            sim,
            _evidence: evidence,
            ctx,
            cache,
        }
    }

    fn key(&self) -> String {
        self.sim
            .read_only_key(Region::Us)
            .expose_secret()
            .to_owned()
    }

    fn connections(&self) -> Api<JumpCloudConnection> {
        Api::namespaced(self.client.clone(), NS)
    }

    async fn secret(&self, name: &str, key: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), NS);
        let data = json!({ "api-key": k8s_openapi::ByteString(key.as_bytes().to_vec()) });
        secrets
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": name, "namespace": NS},
                    "data": data,
                })),
            )
            .await
            .expect("secret applied");
        // What the Secret watch does: the connections reading it read it again.
        self.ctx.secret_changed(Some(NS), name);
    }

    async fn connection(&self, name: &str, secret: &str) {
        self.connections()
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&json!({
                    "apiVersion": "jumpcloud-operator.io/v1alpha1",
                    "kind": "JumpCloudConnection",
                    "metadata": {"name": name, "namespace": NS},
                    "spec": {"apiKeySecretRef": {"name": secret}},
                })),
            )
            .await
            .expect("connection applied");
    }

    /// A connection to organization `org` with the key in the Secret `msp`.
    async fn org_connection(&self, name: &str, org: &str) {
        self.connections()
            .patch(
                name,
                &PatchParams::apply("test").force(),
                &Patch::Apply(&json!({
                    "apiVersion": "jumpcloud-operator.io/v1alpha1",
                    "kind": "JumpCloudConnection",
                    "metadata": {"name": name, "namespace": NS},
                    "spec": {"apiKeySecretRef": {"name": "msp"}, "orgId": org},
                })),
            )
            .await
            .expect("connection applied");
    }

    /// Puts every connection, as the API holds it now, into the watch cache.
    async fn refresh_cache(&mut self) {
        for connection in self
            .connections()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
        {
            self.cache
                .apply_watcher_event(&watcher::Event::Apply(connection));
        }
    }

    /// One reconcile of `name` as the API holds it now; the API requests it made, as
    /// `verb resource[/subresource] [name]`.
    async fn reconcile(&mut self, name: &str) -> Vec<String> {
        self.refresh_cache().await;
        let connection = self.connections().get(name).await.unwrap();
        self.kube.clear_requests();
        controller::reconcile(Arc::new(connection), self.ctx.clone())
            .await
            .expect("reconcile succeeds");
        self.kube
            .requests()
            .iter()
            .filter(|r| r.is_resource_request())
            .map(describe)
            .collect()
    }

    /// (type, reason) of the events about `name`, oldest first.
    async fn events(&self, name: &str) -> Vec<(String, String)> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), NS);
        let mut events: Vec<Event> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect();
        events.sort_by_key(|e| e.metadata.resource_version.clone().unwrap_or_default());
        events
            .into_iter()
            .map(|e| (e.type_.unwrap_or_default(), e.reason.unwrap_or_default()))
            .collect()
    }

    /// How many controls the connection's last sync found failing (one ControlsChanged Event
    /// names those that started failing).
    async fn failing_controls(&self, name: &str) -> usize {
        let connection = self.connections().get(name).await.unwrap();
        let controls = connection.status.unwrap().controls.unwrap();
        usize::try_from(controls.failing).unwrap()
    }

    async fn condition(&self, name: &str, type_: &str) -> (String, String) {
        let connection = self.connections().get(name).await.unwrap();
        let status = connection.status.unwrap_or_default();
        let condition = status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no {type_} condition"));
        (condition.status.clone(), condition.reason.clone())
    }
}

fn describe(request: &RecordedRequest) -> String {
    let resource = match &request.subresource {
        Some(sub) => format!("{}/{sub}", request.resource),
        None => request.resource.clone(),
    };
    let named = matches!(
        request.resource.as_str(),
        "secrets" | "jumpcloudconnections"
    );
    match (&request.name, named) {
        (Some(name), true) => format!("{} {resource} {name}", request.verb),
        _ => format!("{} {resource}", request.verb),
    }
}

/// `count` event creations.
fn events_created(count: usize) -> Vec<String> {
    vec!["create events".to_owned(); count]
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The first reconcile of a new connection: the key is identified, the in-progress status is
/// shown, the evidence synced, the final status written, and each new condition announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_reads_the_secret_writes_progress_then_the_result_and_announces_it() {
    let mut h = Harness::new().await;
    h.secret("jc", &h.key()).await;
    h.connection("prod", "jc").await;
    let requests = h.reconcile("prod").await;
    let failing = h.failing_controls("prod").await;
    assert!(failing > 0, "the simulated org fails some controls");
    let mut expected = strings(&[
        "get secrets jc",
        "patch jumpcloudconnections/status prod",
        "patch jumpcloudconnections/status prod",
    ]);
    expected.extend(events_created(3 + usize::from(failing > 0)));
    assert_eq!(requests, expected);
    let mut events = pairs(&[
        ("Normal", "Accepted"),
        ("Normal", "ReadOnly"),
        ("Normal", "Succeeded"),
    ]);
    if failing > 0 {
        events.push(("Warning".to_owned(), "ControlsChanged".to_owned()));
    }
    assert_eq!(h.events("prod").await, events);
    assert_eq!(
        h.condition("prod", "Ready").await,
        ("True".to_owned(), "Succeeded".to_owned())
    );
}

/// Right after a sync nothing is due: the reconcile its own status write brings makes no
/// request at all; after the Secret changed, the Secret is read and nothing else happens (no
/// status write, no event, no JumpCloud request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_to_do_reads_the_secret_only_when_it_changed() {
    let mut h = Harness::new().await;
    h.secret("jc", &h.key()).await;
    h.connection("prod", "jc").await;
    h.reconcile("prod").await;
    let jumpcloud_before = h.sim.control(Region::Us).unwrap().counters().await.unwrap();
    let requests = h.reconcile("prod").await;
    assert_eq!(requests, Vec::<String>::new(), "the echo of its own write");
    h.ctx.secret_changed(Some(NS), "jc");
    let requests = h.reconcile("prod").await;
    assert_eq!(requests, strings(&["get secrets jc"]));
    let jumpcloud_after = h.sim.control(Region::Us).unwrap().counters().await.unwrap();
    assert_eq!(
        jumpcloud_after.for_path_prefix("/api"),
        jumpcloud_before.for_path_prefix("/api"),
        "no JumpCloud request"
    );
}

/// A key JumpCloud accepted before and now rejects (a new key was issued for its
/// administrator), found by a requested sync: one final status (KeyRevoked) and one Warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_writes_the_rejection_and_warns_once() {
    let mut h = Harness::new().await;
    h.secret("jc", &h.key()).await;
    h.connection("prod", "jc").await;
    h.reconcile("prod").await;
    let admin = h
        .sim
        .admins(Region::Us)
        .into_iter()
        .find(|a| a.role_name == "Read Only")
        .unwrap();
    h.sim
        .control(Region::Us)
        .unwrap()
        .issue_key(&admin.id, None)
        .await
        .expect("new key issued");
    h.connections()
        .patch(
            "prod",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {
                "jumpcloud-operator.io/sync-requested-at": "now"
            }}})),
        )
        .await
        .unwrap();
    let requests = h.reconcile("prod").await;
    assert_eq!(
        requests,
        strings(&[
            "get secrets jc",
            "patch jumpcloudconnections/status prod",
            "patch jumpcloudconnections/status prod",
            "create events",
        ])
    );
    assert_eq!(
        h.events("prod").await.last().cloned(),
        Some(("Warning".to_owned(), "KeyRevoked".to_owned()))
    );
    assert_eq!(
        h.condition("prod", "KeyValid").await,
        ("False".to_owned(), "KeyRevoked".to_owned())
    );
    // Nothing changed since: the dead key is not tried again and nothing is written (not even
    // the Secret is read: the reconcile only echoes its own status write).
    let requests = h.reconcile("prod").await;
    assert_eq!(requests, Vec::<String>::new());
    let counters = h.sim.control(Region::Us).unwrap().counters().await.unwrap();
    h.ctx.secret_changed(Some(NS), "jc");
    let requests = h.reconcile("prod").await;
    assert_eq!(requests, strings(&["get secrets jc"]));
    let after = h.sim.control(Region::Us).unwrap().counters().await.unwrap();
    assert_eq!(
        after.total, counters.total,
        "the dead key is not tried again"
    );
}

/// A Secret that does not exist: one status write (SecretNotFound) and one Warning, no call to
/// JumpCloud.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_writes_the_problem_and_warns() {
    let mut h = Harness::new().await;
    h.connection("prod", "absent").await;
    let requests = h.reconcile("prod").await;
    assert_eq!(
        requests,
        strings(&[
            "get secrets absent",
            "patch jumpcloudconnections/status prod",
            "create events",
        ])
    );
    assert_eq!(
        h.events("prod").await,
        pairs(&[("Warning", "SecretNotFound")])
    );
    let counters = h.sim.control(Region::Us).unwrap().counters().await.unwrap();
    assert_eq!(counters.for_path_prefix("/api"), 0, "no JumpCloud request");
}

/// A second connection with the same key: its first sync records the peer in its status and
/// warns both connections with KeyShared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_key_is_recorded_and_both_connections_are_warned() {
    let mut h = Harness::new().await;
    h.secret("jc", &h.key()).await;
    h.connection("first", "jc").await;
    h.reconcile("first").await;
    h.connection("second", "jc").await;
    let requests = h.reconcile("second").await;
    // Its own first sync (conditions, failing controls), then KeyShared to both.
    let failing = h.failing_controls("second").await;
    let mut expected = strings(&[
        "get secrets jc",
        "patch jumpcloudconnections/status second",
        "patch jumpcloudconnections/status second",
    ]);
    expected.extend(events_created(3 + usize::from(failing > 0) + 2));
    assert_eq!(requests, expected);
    assert_eq!(
        h.events("second").await.last().cloned(),
        Some(("Warning".to_owned(), "KeyShared".to_owned()))
    );
    assert_eq!(
        h.events("first").await.last().cloned(),
        Some(("Warning".to_owned(), "KeyShared".to_owned()))
    );
    let second = h.connections().get("second").await.unwrap();
    let shared_with = second.status.unwrap().credential.unwrap().shared_with;
    assert_eq!(shared_with, [format!("{NS}/first")]);
}

/// Ten connections joining one key one by one: each is warned once (ten KeyShared deliveries,
/// where warning every peer on every join made 54), and the status names five peers and
/// counts them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_shared_by_many_warns_each_connection_once_and_counts_the_rest() {
    let mut h = Harness::new().await;
    h.secret("jc", &h.key()).await;
    let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    for name in &names {
        h.connection(name, "jc").await;
        h.reconcile(name).await;
    }
    let api: Api<Event> = Api::namespaced(h.client.clone(), NS);
    let deliveries: i32 = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("KeyShared"))
        .map(|e| e.series.as_ref().map_or(1, |s| s.count))
        .sum();
    assert_eq!(deliveries, 10, "one KeyShared per connection");
    let last = h.connections().get("c9").await.unwrap();
    let key = last.status.unwrap().credential.unwrap();
    assert_eq!(key.shared_with_count, Some(9));
    assert_eq!(
        key.shared_with,
        (0..5).map(|i| format!("{NS}/c{i}")).collect::<Vec<_>>()
    );
}

/// Five connections on one key, all due for their key check: one JumpCloud request answers all
/// five, each recording the time of that one check (where each asked for itself before); a
/// connection whose Secret is rotated leaves the group and identifies its new key at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_on_one_key_share_one_key_check_and_a_rotated_one_leaves_the_group() {
    let mut h = Harness::new().await;
    h.secret("jc", &h.key()).await;
    h.secret("solo", &h.key()).await;
    let names: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        h.connection(name, if i == 4 { "solo" } else { "jc" }).await;
        h.reconcile(name).await;
    }
    let control = h.sim.control(Region::Us).unwrap();
    // Every connection last checked its key an hour ago: all are due.
    let an_hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    for name in &names {
        h.connections()
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"lastKeyCheckTime": an_hour_ago.to_string()}})),
            )
            .await
            .expect("status patched");
    }
    let checks =
        |c: jumpcloud_simulator::control::Counters| c.for_path_prefix("/api/organizations");
    let before = checks(control.counters().await.unwrap());
    for name in &names {
        h.reconcile(name).await;
    }
    let after = checks(control.counters().await.unwrap());
    assert_eq!(after - before, 1, "one key check for five connections");
    let mut checked_at = Vec::new();
    for name in &names {
        let status = h.connections().get(name).await.unwrap().status.unwrap();
        assert_eq!(h.condition(name, "KeyValid").await.0, "True");
        checked_at.push(status.last_key_check_time.unwrap().0);
    }
    assert!(
        checked_at.iter().all(|t| *t == checked_at[0]),
        "{checked_at:?}"
    );
    assert!(checked_at[0] > an_hour_ago);

    // c4's Secret now holds another administrator's key: its own identification, now.
    let other = h
        .sim
        .admins(Region::Us)
        .into_iter()
        .filter_map(|a| a.api_key)
        .find(|k| k.expose_secret() != h.key())
        .expect("a second administrator");
    h.secret("solo", other.expose_secret()).await;
    let before = control.counters().await.unwrap().for_key(&other);
    h.reconcile("c4").await;
    assert!(control.counters().await.unwrap().for_key(&other) > before);
    let status = h.connections().get("c4").await.unwrap().status.unwrap();
    assert_ne!(
        status.credential.unwrap().fingerprint,
        h.connections()
            .get("c0")
            .await
            .unwrap()
            .status
            .unwrap()
            .credential
            .unwrap()
            .fingerprint
    );
}

/// A multi-tenant key and one connection per organization (the MSP case): what the key reaches
/// is asked once for all of them, and a connection for an organization added since is not
/// rejected by the listing from before: it asks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_of_one_multi_tenant_key_are_identified_from_one_listing() {
    let mut h = Harness::new().await;
    let control = h.sim.control(Region::Us).unwrap();
    let mut orgs = vec![h.sim.org_id(Region::Us).unwrap()];
    for _ in 0..2 {
        orgs.push(control.add_org(&[]).await.unwrap());
    }
    h.secret("msp", &h.key()).await;
    let selves =
        |c: jumpcloud_simulator::control::Counters| c.for_path_prefix("/api/users/getSelf");
    let before = selves(control.counters().await.unwrap());
    for (i, org) in orgs.iter().enumerate() {
        h.org_connection(&format!("org{i}"), org).await;
        h.reconcile(&format!("org{i}")).await;
        assert_eq!(h.condition(&format!("org{i}"), "KeyValid").await.0, "True");
    }
    let after = selves(control.counters().await.unwrap());
    // Each sync asks getSelf once for its evidence; the identifications once in all (6
    // when each connection identified the key for itself).
    assert_eq!(
        after - before,
        1 + 3,
        "one identification for three organizations"
    );

    let added = control.add_org(&[]).await.unwrap();
    h.org_connection("late", &added).await;
    h.reconcile("late").await;
    assert_eq!(
        h.condition("late", "KeyValid").await,
        ("True".into(), "Accepted".into())
    );
    let status = h.connections().get("late").await.unwrap().status.unwrap();
    assert_eq!(status.organization.unwrap().id, added);
}

//! TokenReview, SubjectAccessReview (a small RBAC evaluator over stored Roles and bindings)
//! and the service proxy, through a real `kube::Client` and raw HTTP.

use axum::http::HeaderMap;
use kube_test_server::KubeTestServer;
use serde_json::{Value, json};

async fn create(client: &kube::Client, path: &str, body: Value) -> Value {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    client
        .request::<Value>(request)
        .await
        .expect("review answered")
}

async fn token_review(client: &kube::Client, token: &str) -> Value {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    create(client, "/apis/authentication.k8s.io/v1/tokenreviews", body).await["status"].clone()
}

async fn allowed(client: &kube::Client, user: &str, groups: &[&str], ns: &str, name: &str) -> bool {
    let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, "resourceAttributes": {
            "namespace": ns, "verb": "get", "group": "jumpcloud-operator.io",
            "resource": "jumpcloudconnections", "name": name}}});
    let answer = create(
        client,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body,
    )
    .await;
    answer["status"]["allowed"]
        .as_bool()
        .expect("status.allowed")
}

async fn apply(client: &kube::Client, path: &str, body: Value) {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    client.request::<Value>(request).await.expect("created");
}

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

async fn rbac_fixture(client: &kube::Client) {
    for ns in ["team-a", "team-b"] {
        apply(
            client,
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await;
    }
    apply(client, &format!("{RBAC}/namespaces/team-a/roles"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "acme-only", "namespace": "team-a"},
        "rules": [{"apiGroups": ["jumpcloud-operator.io"], "resources": ["jumpcloudconnections"], "verbs": ["get"], "resourceNames": ["acme"]}]})).await;
    apply(
        client,
        &format!("{RBAC}/namespaces/team-a/rolebindings"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "alice-acme", "namespace": "team-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "acme-only"},
        "subjects": [{"kind": "User", "name": "alice"}]}),
    )
    .await;
    apply(client, &format!("{RBAC}/clusterroles"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "evidence-reader"},
        "rules": [{"apiGroups": ["jumpcloud-operator.io"], "resources": ["jumpcloudconnections"], "verbs": ["get", "list"]}]})).await;
    apply(client, &format!("{RBAC}/clusterrolebindings"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "auditors"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "evidence-reader"},
        "subjects": [{"kind": "Group", "name": "auditors"}]})).await;
    apply(client, &format!("{RBAC}/namespaces/team-b/rolebindings"), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "bot", "namespace": "team-b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "evidence-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]})).await;
}

#[tokio::test]
async fn token_reviews_authenticate_registered_tokens_only() {
    let server = KubeTestServer::start().await.unwrap();
    let client = server.client().await;
    server.add_token("t-alice", "alice", &["dev"]);
    let status = token_review(&client, "t-alice").await;
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["user"]["username"], "alice");
    assert_eq!(
        status["user"]["groups"],
        json!(["dev", "system:authenticated"])
    );
    let status = token_review(&client, "t-unknown").await;
    assert_eq!(status["authenticated"], false);
    assert!(status.get("user").is_none());
    let calls = server.requests();
    assert!(calls.iter().any(|r| r.group == "authentication.k8s.io"
        && r.resource == "tokenreviews"
        && r.verb == "create"));
    // Discovery lists the review resources with only `create`.
    let list: Value = client
        .request(
            http::Request::get("/apis/authorization.k8s.io/v1")
                .body(vec![])
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(list["resources"][0]["name"], "subjectaccessreviews");
    assert_eq!(list["resources"][0]["verbs"], json!(["create"]));
}

#[tokio::test]
async fn subject_access_reviews_follow_rbac_bindings() {
    let server = KubeTestServer::start().await.unwrap();
    let client = server.client().await;
    rbac_fixture(&client).await;
    // A Role with resourceNames: that one object, not the namespace, not another namespace.
    assert!(allowed(&client, "alice", &[], "team-a", "acme").await);
    assert!(!allowed(&client, "alice", &[], "team-a", "other").await);
    assert!(!allowed(&client, "alice", &[], "team-a", "").await);
    assert!(!allowed(&client, "alice", &[], "team-b", "acme").await);
    // Denied: an unbound user.
    assert!(!allowed(&client, "mallory", &["dev"], "team-a", "acme").await);
    // A Group subject of a ClusterRoleBinding: everywhere.
    assert!(allowed(&client, "carol", &["auditors"], "team-b", "x").await);
    assert!(allowed(&client, "carol", &["auditors"], "team-a", "").await);
    // A ServiceAccount subject of a RoleBinding to a ClusterRole: only in that namespace.
    assert!(allowed(&client, "system:serviceaccount:ci:bot", &[], "team-b", "x").await);
    assert!(!allowed(&client, "system:serviceaccount:ci:bot", &[], "team-a", "x").await);
    assert!(
        !allowed(
            &client,
            "system:serviceaccount:other:bot",
            &[],
            "team-b",
            "x"
        )
        .await
    );
}

/// Echoes what it received: method, path, query and headers.
async fn echo_backend() -> url::Url {
    let app = axum::Router::new().fallback(|method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap| async move {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        json!({"method": method.as_str(), "path": uri.path(), "query": uri.query(), "headers": headers}).to_string()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url::Url::parse(&format!("http://{addr}")).unwrap()
}

#[tokio::test]
async fn the_service_proxy_forwards_and_strips_authorization() {
    let server = KubeTestServer::start().await.unwrap();
    server.set_service_backend("op", "svc", "evidence", echo_backend().await);
    let http = reqwest::Client::new();
    let url = format!(
        "{}api/v1/namespaces/op/services/svc:evidence/proxy/connections/a/b?format=json",
        server.url()
    );
    let answer: Value = http
        .get(&url)
        .header("authorization", "Bearer secret-token")
        .header("x-jumpcloud-operator-token", "passed-on")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["path"], "/connections/a/b");
    assert_eq!(answer["query"], "format=json");
    assert_eq!(answer["headers"]["x-jumpcloud-operator-token"], "passed-on");
    assert!(answer["headers"].get("authorization").is_none(), "{answer}");
    let recorded = server.requests().into_iter().last().unwrap();
    assert_eq!(
        (
            recorded.resource.as_str(),
            recorded.subresource.as_deref(),
            recorded.verb.as_str()
        ),
        ("services", Some("proxy"), "get")
    );
    // An unknown service: 503 like a Service without endpoints.
    let missing = http
        .get(format!(
            "{}api/v1/namespaces/op/services/nope/proxy/",
            server.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 503);
}

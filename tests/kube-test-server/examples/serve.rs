//! Runs a test server for manual poking: prints `export KUBECONFIG=...` and serves until stdin
//! closes (Ctrl-D). `cargo run -p kube-test-server --example serve`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = kube_test_server::KubeTestServer::start().await?;
    println!("export KUBECONFIG={}", server.kubeconfig_path().display());
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    for r in server.requests() {
        eprintln!(
            "{} {} {}?{} -> {}",
            r.verb, r.method, r.path, r.query, r.status
        );
    }
    server.shutdown().await;
    Ok(())
}

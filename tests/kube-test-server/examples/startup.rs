//! Measures start time: starts N servers one after another, then N at once, and prints how
//! long each `KubeTestServer::start()` took (every server must also answer `/version`).
//! Timing is measured here, not asserted in tests.
//! `cargo run --release -p kube-test-server --example startup -- 20`
use std::time::{Duration, Instant};

use kube_test_server::KubeTestServer;

async fn start_one() -> Result<(KubeTestServer, Duration), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let server = KubeTestServer::start().await?;
    let took = t0.elapsed();
    server.client().await.apiserver_version().await?;
    Ok((server, took))
}

fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label}: n={} min={:?} median={:?} max={:?}",
        times.len(),
        pick(0.0),
        pick(0.5),
        pick(1.0)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 20,
    };
    if n == 0 {
        return Err("N must be at least 1".into());
    }

    let mut sequential = Vec::with_capacity(n);
    for i in 0..n {
        let (server, took) = start_one().await?;
        println!("sequential server {i:>3}: started in {took:?}");
        sequential.push(took);
        server.shutdown().await;
    }

    // N at once: the starts run concurrently; each server then answers /version. (Probing
    // happens after all have started: building a kube::Client is CPU-bound and would otherwise
    // be counted in the start times of the others.)
    let t0 = Instant::now();
    let started = futures::future::try_join_all((0..n).map(|_| async {
        let t = Instant::now();
        KubeTestServer::start().await.map(|s| (s, t.elapsed()))
    }))
    .await?;
    let all_started = t0.elapsed();
    let mut parallel = Vec::with_capacity(n);
    for (i, (server, took)) in started.iter().enumerate() {
        server.client().await.apiserver_version().await?;
        println!("parallel server   {i:>3}: started in {took:?}");
        parallel.push(*took);
    }
    let all = t0.elapsed();
    summary("sequential", sequential);
    summary("parallel", parallel);
    println!(
        "{n} servers started at once: all started after {all_started:?}, all answered /version after {all:?}"
    );
    for (server, _) in started {
        server.shutdown().await;
    }
    Ok(())
}

//! Command-line interface. Each subcommand lives in its own module and owns its arguments.

#[macro_use]
mod output;

mod bench;
mod bench_history;
mod collect;
mod crd;
mod credential_args;
mod diff;
mod exit;
mod from_cluster;
mod progress;
mod report;
mod run;
mod simulate;
mod snapshots;
mod terminal;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kubernetes operator and CLI that collects, verifies and evaluates JumpCloud compliance evidence.
#[derive(Debug, Parser)]
#[command(name = "jumpcloud-operator", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Collect(Box<collect::CollectArgs>),
    Bench(bench::BenchArgs),
    Simulate(simulate::SimulateArgs),
    Crd(crd::CrdArgs),
    Run(Box<run::RunArgs>),
    Report(report::ReportArgs),
    Snapshots(snapshots::SnapshotsArgs),
    Verify(verify::VerifyArgs),
    Diff(diff::DiffArgs),
}

impl Cli {
    pub fn run(self) -> ExitCode {
        // Exactly one rustls crypto provider for the whole process: several crates can compile
        // providers in, and rustls panics at the first TLS client when it has to guess.
        // An error only means a provider is already installed, which is what we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("error: cannot start the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        let code = runtime.block_on(async {
            match self.command {
                Command::Collect(args) => (*args).run().await,
                Command::Bench(args) => args.run().await,
                Command::Simulate(args) => args.run().await,
                Command::Crd(args) => args.run().await,
                Command::Run(args) => (*args).run().await,
                Command::Report(args) => args.run().await,
                Command::Snapshots(args) => args.run().await,
                Command::Verify(args) => args.run().await,
                Command::Diff(args) => args.run().await,
            }
        });
        crate::store::spool::remove_own();
        if output::failed() {
            return ExitCode::from(exit::FAILED);
        }
        code
    }
}

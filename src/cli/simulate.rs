use std::process::ExitCode;

/// Placeholder until the subcommand lands.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

impl SimulateArgs {
    pub async fn run(self) -> ExitCode {
        eprintln!("error: `simulate` is not built yet");
        ExitCode::FAILURE
    }
}

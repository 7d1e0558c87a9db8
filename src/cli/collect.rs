use std::process::ExitCode;

/// Placeholder until the subcommand lands.
#[derive(Debug, clap::Args)]
pub struct CollectArgs {}

impl CollectArgs {
    pub async fn run(self) -> ExitCode {
        eprintln!("error: `collect` is not built yet");
        ExitCode::FAILURE
    }
}

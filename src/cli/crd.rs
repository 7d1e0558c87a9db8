use std::io::Write;
use std::process::ExitCode;

/// Print the JumpCloudConnection CustomResourceDefinition as YAML (apply it with
/// `jumpcloud-operator crd | kubectl apply -f -`).
#[derive(Debug, clap::Args)]
pub struct CrdArgs {}

impl CrdArgs {
    pub async fn run(self) -> ExitCode {
        let yaml = match crate::crd::crd_yaml() {
            Ok(yaml) => yaml,
            Err(error) => {
                eprintln!("error: cannot render the CRD as YAML: {error}");
                return ExitCode::FAILURE;
            }
        };
        match std::io::stdout().lock().write_all(yaml.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: cannot write the CRD to stdout: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

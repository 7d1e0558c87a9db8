use clap::Parser;
use jumpcloud_operator::cli::Cli;

fn main() -> std::process::ExitCode {
    Cli::parse().run()
}

//! `flowiq-provision`: the table, spill queues and function role from template.yaml, for a
//! deployment with `cargo lambda deploy` (README, "Without SAM"). This file only wires: flags,
//! clients, the run, the shell assignments and the exit code.

use std::process::ExitCode;

use clap::Parser as _;
use flowiq_ops::exit_status::{ExitStatus, finish};
use flowiq_ops::provision::{Args, Clients, Names, ProvisionError, provision, wait_for_a_new_role};

fn main() -> ExitCode {
    let args = Args::parse();
    flowiq_ops::cli_logs::init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            let error = format!("cannot start the async runtime: {e}");
            return finish("", Some((&error, ExitStatus::Unexpected)));
        }
    };
    let result: Result<String, ProvisionError> = runtime.block_on(async {
        let clients = Clients::load(&args).await?;
        let names = Names::new(&args.name, &args.function_name);
        let provisioned = provision(&clients, &names, &args.template()?).await?;
        wait_for_a_new_role(&provisioned).await;
        Ok(provisioned.shell_assignments())
    });
    match &result {
        Ok(assignments) => finish(assignments, None),
        Err(error) => finish("", Some((error, error.exit_status()))),
    }
}

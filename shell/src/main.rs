//! `eddy`: the interactive shell, a script runner with `-f` / `-e`, or `eddy migrate`.

use clap::Parser;
use eddy_shell::cli::{Args, Command};
use eddy_shell::connection::Target;
use eddy_shell::session::Shell;

fn main() {
    let mut args = Args::parse();
    if let Some(Command::Migrate(migrate)) = args.command.take() {
        std::process::exit(run_migrate(migrate));
    }
    let target = match Target::parse(&args.server, args.user.as_deref(), args.password.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("eddy: {e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eddy: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let mut shell = Shell::new(target, args.output);
    let script = match (&args.file, &args.execute) {
        (Some(path), _) => match std::fs::read_to_string(path) {
            Ok(text) => Some((text, path.clone())),
            Err(e) => {
                eprintln!("eddy: {path}: {e}");
                std::process::exit(2);
            }
        },
        (None, Some(statements)) => Some((statements.clone(), "-e".to_string())),
        (None, None) => None,
    };
    let code = match script {
        Some((text, origin)) => match runtime.block_on(shell.run_text(&text, &origin)) {
            Ok(_) => 0,
            Err(e) => {
                shell.print_error(&e);
                1
            }
        },
        None => match eddy_shell::repl::run(&runtime, &mut shell) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("eddy: {e}");
                1
            }
        },
    };
    runtime.shutdown_background();
    std::process::exit(code);
}

/// Runs `eddy migrate ...`; the exit code is 1 when the command failed.
fn run_migrate(args: eddy_shell::migrate::MigrateArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eddy migrate: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(eddy_shell::migrate::run(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("eddy migrate: {e}");
            1
        }
    }
}

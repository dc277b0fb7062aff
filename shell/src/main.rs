//! `eddy`: the interactive shell, or a script runner with `-f` / `-e`.

use clap::Parser;
use eddy_shell::cli::Args;
use eddy_shell::connection::Target;
use eddy_shell::session::Shell;

fn main() {
    let args = Args::parse();
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

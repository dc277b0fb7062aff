//! The interactive loop: rustyline with history in `~/.eddy_history`, completion and multi-line
//! statements; each finished input runs on the shell.

use std::path::PathBuf;

use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;
use tokio::runtime::Runtime;

use crate::complete::ShellHelper;
use crate::error::ShellError;
use crate::session::{Flow, Shell};
use crate::statements::split;

/// Where history is kept: `$EDDY_HISTORY`, else `~/.eddy_history`.
pub fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EDDY_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".eddy_history"))
}

/// Runs the REPL until `exit` or Ctrl-D.
pub fn run(runtime: &Runtime, shell: &mut Shell) -> Result<(), ShellError> {
    let config = Config::builder().auto_add_history(false).max_history_size(10_000)?.history_ignore_dups(true)?.build();
    let mut editor: Editor<ShellHelper, FileHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(ShellHelper::new(shell.names.clone())));
    let history = history_path();
    if let Some(path) = &history {
        if path.exists() {
            if let Err(e) = editor.load_history(path) {
                eprintln!("Could not read the history in {}: {e}", path.display());
            }
        }
    }
    shell.history = editor.history().iter().cloned().collect();
    match runtime.block_on(shell.connect()) {
        Ok(version) => {
            shell.print(&format!("Connected to {version} at {}.\n", shell.address()));
        }
        Err(e) => shell.print_error(&e),
    }
    shell.print("Statements end with ';'. Type 'help' for the shell's commands, 'exit' or Ctrl-D to leave.\n\n");
    loop {
        let input = match editor.readline("eddy> ") {
            Ok(input) => input,
            // Ctrl-C while typing drops the line (and does nothing on an empty one).
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if input.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(input.as_str());
        shell.history.push(input.clone());
        if let Some(path) = &history {
            if let Err(e) = editor.save_history(path) {
                eprintln!("Could not save the history in {}: {e}", path.display());
            }
        }
        let (pieces, rest) = split(&input);
        let mut exit = false;
        for piece in
            pieces.iter().map(|p| p.text.clone()).chain((!rest.trim().is_empty()).then(|| rest.trim().to_string()))
        {
            match runtime.block_on(shell.run_piece(&piece)) {
                Ok(Flow::Exit) => {
                    exit = true;
                    break;
                }
                Ok(Flow::Continue) => {}
                Err(e) => shell.print_error(&e),
            }
        }
        if exit {
            break;
        }
    }
    Ok(())
}

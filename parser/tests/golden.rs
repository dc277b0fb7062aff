//! Golden scripts for the parser: each `> statements` prints the statements or the error with its position.

use std::error::Error;
use std::fmt::Write;

use eddy_parser::{Select, SelectItem, Statement};
use goldenscript::{Command, Context, Runner};
use test_each_file::test_each_path;

test_each_path! { in "parser/tests/testscripts" as scripts => run_script }

fn run_script(path: &std::path::Path) {
    goldenscript::run(&mut ParserRunner, path).expect("goldenscript failed")
}

struct ParserRunner;

impl Runner for ParserRunner {
    type Command = Command;

    fn run(&mut self, command: &Command, _: &Context) -> Result<String, Box<dyn Error>> {
        let mut out = String::new();
        match eddy_parser::parse_statements(&command.name) {
            Ok(stmts) => {
                for s in stmts {
                    writeln!(out, "{}", render(&s.statement))?;
                    writeln!(out, "  text@{}: {}", s.offset, s.text)?;
                }
            }
            Err(e) => writeln!(out, "error at {:?}: {}", e.position, e.message)?,
        }
        Ok(out)
    }
}

/// A compact rendering: expressions as SQL, everything else as Debug.
fn render(stmt: &Statement) -> String {
    match stmt {
        Statement::CreateAsSelect(c) => format!(
            "CreateAsSelect {:?} {} or_replace={} if_not_exists={} props={:?}\n  {}",
            c.kind,
            c.name,
            c.or_replace,
            c.if_not_exists,
            c.properties.0,
            render_select(&c.query)
        ),
        Statement::Select(s) => format!("Select\n  {}", render_select(s)),
        Statement::InsertSelect { target, properties, query, .. } => {
            format!("InsertSelect {target} props={:?}\n  {}", properties.0, render_select(query))
        }
        Statement::InsertValues { target, columns, values } => format!(
            "InsertValues {target} columns={columns:?} values=[{}]",
            values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
        ),
        Statement::Explain(inner) => format!("Explain {}", render(inner)),
        other => format!("{other:?}"),
    }
}

fn render_select(s: &Select) -> String {
    let items: Vec<String> = s
        .projection
        .iter()
        .map(|i| match i {
            SelectItem::Wildcard { qualifier } => {
                format!("{}*", qualifier.as_deref().map(|q| format!("{q}.")).unwrap_or_default())
            }
            SelectItem::Expr { expr, alias } => match alias {
                Some(a) => format!("{expr} AS {a}"),
                None => expr.to_string(),
            },
        })
        .collect();
    let joins: Vec<String> = s
        .from
        .joins
        .iter()
        .map(|j| format!("{:?} JOIN {:?} within={:?} on {}", j.kind, j.source, j.within, j.on))
        .collect();
    let list = |v: &[eddy_parser::sqlparser::ast::Expr]| v.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
    format!(
        "items=[{}] from={:?} joins={:?} window={:?} where={:?} group_by=[{}] partition_by=[{}] having={:?} emit={:?} limit={:?}",
        items.join(", "),
        s.from.source,
        joins,
        s.window,
        s.selection.as_ref().map(|e| e.to_string()),
        list(&s.group_by),
        list(&s.partition_by),
        s.having.as_ref().map(|e| e.to_string()),
        s.emit,
        s.limit
    )
}

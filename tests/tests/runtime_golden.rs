//! Golden scripts for the runtime under the deterministic test driver: statements, produced records,
//! and the records queries write.
//!
//! Commands: `> SQL` runs statements; `produce TOPIC [key=K] [value=V] [ts=T] [int_key=N]`;
//! `run` processes pending records; `read TOPIC` prints a topic's records; `finish-connectors` waits
//! until every generator connector has written its MAX_EVENTS rows.

use std::error::Error;

use eddy_runtime::OutputRecord;
use eddy_tests::{render_record, TestDriver};
use goldenscript::{Argument, Command, Context, Runner};
use test_each_file::test_each_path;

test_each_path! { in "tests/testscripts/runtime" as runtime => run_script }

fn run_script(path: &std::path::Path) {
    goldenscript::run(&mut DriverRunner(TestDriver::new()), path).expect("goldenscript failed")
}

struct DriverRunner(TestDriver);

impl Runner for DriverRunner {
    type Command = Command;

    fn run(&mut self, command: &Command, _: &Context) -> Result<String, Box<dyn Error>> {
        let driver = &mut self.0;
        match command.name.as_str() {
            "produce" => {
                let mut topic = None;
                let mut record = OutputRecord { timestamp: 0, key: None, value: None, headers: Vec::new() };
                for arg in &command.args {
                    match arg {
                        Argument::Positional(t) => topic = Some(t.clone()),
                        Argument::KeyValue(k, v) => match k.as_str() {
                            "key" => record.key = Some(v.clone().into_bytes()),
                            "int_key" => record.key = Some(v.parse::<i32>()?.to_be_bytes().to_vec()),
                            "value" => record.value = Some(v.clone().into_bytes()),
                            "ts" => record.timestamp = v.parse()?,
                            other => return Err(format!("unknown argument {other}").into()),
                        },
                        other => return Err(format!("unknown argument {other}").into()),
                    }
                }
                driver.produce(&topic.ok_or("produce needs a topic")?, record)?;
                Ok(String::new())
            }
            "run" => {
                driver.run()?;
                Ok(String::new())
            }
            "finish-connectors" => {
                driver.finish_connectors(std::time::Duration::from_secs(30))?;
                Ok(String::new())
            }
            "read" => {
                let Some(Argument::Positional(topic)) = command.args.first() else {
                    return Err("read needs a topic".into());
                };
                Ok(driver.records(topic).iter().map(|r| render_record(r) + "\n").collect())
            }
            sql => {
                let outputs = driver.execute(sql);
                Ok(driver.render(outputs))
            }
        }
    }
}

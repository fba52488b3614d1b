//! `command`: run `scaler.actuator.command`, an argv with `{desired}` and `{current}`
//! substituted, without a shell, killed after `scaler.actuator.timeout`.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail};
use tokio::io::AsyncReadExt as _;

use super::{Actuator, ActuatorError, BoxFuture, MAX_DETAIL_CHARS, ScaleRequest, shorten};
use crate::config::ActuatorConfig;

/// How much of a command's stderr we keep (its tail) while it runs.
const STDERR_TAIL_BYTES: usize = 8 * 1024;

/// Runs an argv, without a shell.
#[derive(Debug)]
pub(super) struct CommandActuator {
    program: String,
    /// Arguments with `{desired}` / `{current}` placeholders, substituted per call.
    args: Vec<String>,
    timeout: Duration,
}

impl CommandActuator {
    pub(super) fn build(cfg: &ActuatorConfig) -> anyhow::Result<Self> {
        const KEY: &str = "scaler.actuator.command";
        let (program, args) = cfg
            .command
            .split_first()
            .filter(|(p, _)| !p.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "{KEY} must be an argv list, e.g. [\"/usr/local/bin/scale\", \"{{desired}}\"]"
                )
            })?;
        if !program_exists(program) {
            bail!("{KEY}: the program `{program}` was not found (give a path, or a name on PATH)");
        }
        Ok(Self {
            program: program.clone(),
            args: args.to_vec(),
            timeout: cfg.timeout,
        })
    }

    async fn run(&self, req: &ScaleRequest) -> Result<(), ActuatorError> {
        let args = substitute(&self.args, req.desired, req.current);
        // SECURITY: argv goes straight to execve; nothing is interpreted by a shell, so a
        // reason or count can never become code.
        let mut child = tokio::process::Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| ActuatorError::Spawn {
                program: self.program.clone(),
                error,
            })?;
        let stderr = child.stderr.take();
        let finished = tokio::time::timeout(self.timeout, async {
            tokio::join!(child.wait(), stderr_tail(stderr))
        })
        .await;
        let (status, tail) = match finished {
            Ok(done) => done,
            Err(_) => {
                // Only the direct child is killed: without a shell there is no process group
                // of ours to take down, and a command that forks must bound its own children.
                let _ = child.kill().await;
                return Err(ActuatorError::CommandTimeout {
                    program: self.program.clone(),
                    after: self.timeout,
                });
            }
        };
        let status = status.map_err(|error| ActuatorError::Spawn {
            program: self.program.clone(),
            error,
        })?;
        if status.success() {
            tracing::info!(
                desired = req.desired,
                current = req.current,
                reason = %req.reason,
                program = %self.program,
                "scale command succeeded"
            );
            return Ok(());
        }
        Err(ActuatorError::CommandFailed {
            program: self.program.clone(),
            status: describe_exit(status),
            stderr: last_line(&tail).unwrap_or_else(|| "it wrote nothing to stderr".to_owned()),
        })
    }
}

impl Actuator for CommandActuator {
    fn name(&self) -> &'static str {
        "command"
    }

    fn current(&self) -> BoxFuture<'_, Result<Option<u32>, ActuatorError>> {
        Box::pin(async { Ok(None) })
    }

    fn apply<'a>(&'a self, req: &'a ScaleRequest) -> BoxFuture<'a, Result<(), ActuatorError>> {
        Box::pin(self.run(req))
    }
}

/// Replaces `{desired}` and `{current}` in every argument.
fn substitute(args: &[String], desired: u32, current: u32) -> Vec<String> {
    let (d, c) = (desired.to_string(), current.to_string());
    args.iter()
        .map(|a| a.replace("{desired}", &d).replace("{current}", &c))
        .collect()
}

/// Whether `program` names an existing file, directly or through `PATH`.
fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Reads a child's stderr to the end, keeping the last [`STDERR_TAIL_BYTES`]. Reading it all
/// keeps a chatty command from blocking on a full pipe.
async fn stderr_tail(stderr: Option<tokio::process::ChildStderr>) -> Vec<u8> {
    let mut tail = Vec::new();
    let Some(mut stderr) = stderr else {
        return tail;
    };
    let mut buf = [0u8; 4096];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > STDERR_TAIL_BYTES {
                    tail.drain(..tail.len() - STDERR_TAIL_BYTES);
                }
            }
        }
    }
    tail
}

/// The last non-blank line of `bytes`, trimmed and shortened for an error message.
fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| shorten(l, MAX_DETAIL_CHARS))
}

fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("signal {signal}");
        }
    }
    status.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_placeholders_in_every_argument() {
        let args = vec![
            "--to={desired}".to_owned(),
            "{current}->{desired}".to_owned(),
            "x".to_owned(),
        ];
        assert_eq!(substitute(&args, 7, 3), ["--to=7", "3->7", "x"]);
    }

    #[test]
    fn last_line_skips_blank_lines_and_shortens() {
        assert_eq!(last_line(b"first\nsecond  \n\n").as_deref(), Some("second"));
        assert_eq!(last_line(b" \n"), None);
        let long = "x".repeat(1000);
        assert_eq!(
            last_line(long.as_bytes()).map(|l| l.chars().count()),
            Some(MAX_DETAIL_CHARS + 1)
        );
    }
}

//! Running the external commands a lab is built from, and ending the processes it leaves.

use std::process::{Command, Output};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::HarnessError;

/// Runs `program args…` to completion; a non-zero exit is an error carrying its stderr.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<Output, HarnessError> {
    let command = describe(program, args);
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound && program == "ip" {
                HarnessError::IpMissing
            } else {
                HarnessError::CommandNotStarted {
                    command: command.clone(),
                    source,
                }
            }
        })?;
    checked(command, output)
}

/// Turns an unsuccessful exit into [`HarnessError::CommandFailed`].
pub(crate) fn checked(command: String, output: Output) -> Result<Output, HarnessError> {
    if output.status.success() {
        Ok(output)
    } else {
        Err(HarnessError::CommandFailed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// The command line as a person would type it, for error messages.
pub(crate) fn describe(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Kills (SIGKILL) every process living in the named namespace, except this one.
///
/// This is the lab's process registry: whatever a test started in its namespaces, directly or
/// through grandchildren, is found here without having been tracked.
pub(crate) fn kill_all_in(namespace: &str) -> Result<(), HarnessError> {
    let output = run("ip", &["netns", "pids", namespace])?;
    let own = std::process::id();
    for pid in String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|word| word.parse::<u32>().ok())
        .filter(|&pid| pid != own)
    {
        if let Ok(raw) = i32::try_from(pid) {
            // ESRCH just means it exited meanwhile.
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    Ok(())
}

/// Whether a process with this id exists (a zombie counts: its parent has not reaped it yet).
pub(crate) fn is_alive(pid: u32) -> bool {
    match i32::try_from(pid) {
        Ok(raw) if raw > 0 => match kill(Pid::from_raw(raw), None) {
            Ok(()) => true,
            Err(errno) => errno != nix::errno::Errno::ESRCH,
        },
        _ => false,
    }
}

//! `egressd fleet …`: the fleet CA and node certificates.

use std::path::Path;
use std::process::ExitCode;

use egress_fleet::pki;

use crate::cli::{FleetCaCommand, FleetCertCommand, FleetCommand};

/// File names `serve --fleet-dir` reads.
pub const NODE_CERT_FILE: &str = "node.pem";
/// The node's private key.
pub const NODE_KEY_FILE: &str = "node.key";

pub fn run(command: FleetCommand) -> Result<ExitCode, String> {
    match command {
        FleetCommand::Ca {
            command: FleetCaCommand::Init { dir },
        } => {
            let (cert, key) = pki::init_ca(&dir).map_err(|e| e.to_string())?;
            println!(
                "fleet CA created: {} (give to every node), {} (keep off the nodes)",
                cert.display(),
                key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        FleetCommand::Cert {
            command: FleetCertCommand::Issue { ca_dir, node, out },
        } => {
            issue(&ca_dir, &node, &out)?;
            println!(
                "certificate for node {node} written to {} (serve --fleet-dir {})",
                out.display(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn issue(ca_dir: &Path, node: &str, out: &Path) -> Result<(), String> {
    let (cert, key) = pki::issue_node_cert(ca_dir, node).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let ca_src = ca_dir.join(pki::CA_CERT_FILE);
    let ca_dst = out.join(pki::CA_CERT_FILE);
    if ca_src != ca_dst {
        std::fs::copy(&ca_src, &ca_dst).map_err(|e| format!("{}: {e}", ca_dst.display()))?;
    }
    // The key first: it refuses to overwrite, so an existing node keeps a matching pair.
    pki::write_private(&out.join(NODE_KEY_FILE), &key).map_err(|e| e.to_string())?;
    let cert_path = out.join(NODE_CERT_FILE);
    std::fs::write(&cert_path, cert).map_err(|e| format!("{}: {e}", cert_path.display()))
}

//! Every example of every `--help` runs from a clone, as a user would type it: each line in a
//! shell, at the root of a copy of the repository's fixtures. Examples that need a network, a
//! server or a checkout of another project (serve, forward, a NATS server, microshare-sim,
//! compare, redecode to and from Microshare) are parsed by clap in the binary's own tests
//! instead.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lorafield");

/// The subcommands, from the top-level help.
fn subcommands() -> Vec<String> {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let commands = help
        .split_once("Commands:")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    commands
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's line starts two spaces in; its description's continued lines further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect()
}

/// The example lines of a help text: continued lines joined, comments and exports left out.
fn example_lines(help: &str) -> Vec<String> {
    let Some((_, examples)) = help.split_once("\nExample") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut current = String::new();
    for line in examples.lines().skip(1) {
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                let full = std::mem::take(&mut current);
                if !full.is_empty() && !full.starts_with('#') && !full.starts_with("export ") {
                    out.push(full);
                }
            }
        }
    }
    out
}

/// Whether an example needs a network, a server or another project's checkout.
fn needs_more_than_a_clone(line: &str) -> bool {
    [
        "serve",
        "ingest-mqtt",
        "microshare-sim",
        "compare",
        "from-microshare",
        "to-microshare",
        "forward",
        "--queue",
        "nats-server",
    ]
    .iter()
    .any(|w| line.contains(w))
}

#[test]
fn every_offline_help_example_runs_from_a_clone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("fixtures"), dir.path().join("fixtures")).unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for sub in subcommands() {
        let out = Command::new(BIN).args([&sub, "--help"]).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        for line in example_lines(&help) {
            if needs_more_than_a_clone(&line) {
                continue;
            }
            let out = Command::new("sh")
                .args(["-c", &format!("{line} > /dev/null")])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env_remove("LORAFIELD_DEVICE_REPO")
                .output()
                .unwrap();
            // 1 is an example's own point (records that fail, as in redecode's third);
            // 2 is a usage or I/O error: a broken example.
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{sub}: `{line}` exited {:?}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    // decode 6, encode 3, codecs 3, vectors 3, redecode 6, gen-shares 1.
    assert!(ran >= 20, "{ran}");
}

//! `install.sh` (vendored by `init` as `.github/m365ctl-install.sh`) against a release served
//! from a loopback HTTP server: it installs the pinned version only when the archive's SHA-256
//! matches — the release's SHA256SUMS, or the pin in M365CTL_SHA256 when given — and installs
//! nothing otherwise.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

const VERSION: &str = "9.9.9";
const TARGET: &str = "x86_64-unknown-linux-musl";

fn archive_name() -> String {
    format!("m365ctl-{VERSION}-{TARGET}.tar.gz")
}

fn sha256(bytes: &[u8]) -> String {
    m365ctl::planfile::hex(&Sha256::digest(bytes))
}

/// A release archive holding a stand-in `m365ctl` that prints a known line.
fn release_archive(dir: &Path) -> Vec<u8> {
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let binary = staging.join("m365ctl");
    std::fs::write(&binary, "#!/bin/sh\necho installed-m365ctl\n").unwrap();
    let status = Command::new("chmod")
        .arg("755")
        .arg(&binary)
        .status()
        .unwrap();
    assert!(status.success());
    let archive = dir.join(archive_name());
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(&staging)
        .arg("m365ctl")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(archive).unwrap()
}

/// Serves `files` (URL path -> body) over HTTP/1.1 on loopback until the test ends.
fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body) = match files.get(&path) {
                Some(body) => ("200 OK", body.as_slice()),
                None => ("404 Not Found", &b"not found"[..]),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    base
}

struct Outcome {
    success: bool,
    stderr: String,
    installed: Option<String>,
    github_path: String,
}

/// Runs the install script against a release whose archive is `served` and whose
/// SHA256SUMS says `sums`; `pin` is M365CTL_SHA256.
fn install(served: &[u8], sums: &str, pin: Option<&str>) -> Outcome {
    install_with(served, sums, pin, None)
}

/// `install`, with M365CTL_VERIFY_PROVENANCE=1 and a stand-in `gh` exiting `gh_exit` first
/// on PATH, when given.
fn install_with(served: &[u8], sums: &str, pin: Option<&str>, gh_exit: Option<i32>) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut files = HashMap::new();
    let prefix = format!("/releases/v{VERSION}");
    files.insert(format!("{prefix}/{}", archive_name()), served.to_vec());
    files.insert(format!("{prefix}/SHA256SUMS"), sums.as_bytes().to_vec());
    let base = serve(files);
    let bin = dir.path().join("bin");
    let github_path = dir.path().join("github_path");
    std::fs::write(&github_path, "").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    let mut cmd = Command::new("sh");
    cmd.arg(script)
        .env("M365CTL_VERSION", VERSION)
        .env("M365CTL_RELEASES_URL", format!("{base}/releases"))
        .env("M365CTL_TARGET", TARGET)
        .env("M365CTL_INSTALL_DIR", &bin)
        .env("GITHUB_PATH", &github_path)
        .env_remove("M365CTL_SHA256");
    if let Some(pin) = pin {
        cmd.env("M365CTL_SHA256", pin);
    }
    if let Some(code) = gh_exit {
        let tools = dir.path().join("tools");
        std::fs::create_dir(&tools).unwrap();
        let gh = tools.join("gh");
        let log = dir.path().join("gh.log");
        std::fs::write(
            &gh,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\nexit {code}\n",
                log.display()
            ),
        )
        .unwrap();
        assert!(
            Command::new("chmod")
                .arg("755")
                .arg(&gh)
                .status()
                .unwrap()
                .success()
        );
        let path = format!(
            "{}:{}",
            tools.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env("M365CTL_VERIFY_PROVENANCE", "1")
            .env("M365CTL_REPOSITORY", "owner/m365ctl");
    }
    let out = cmd.output().unwrap();
    let installed = bin.join("m365ctl");
    Outcome {
        success: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        installed: installed.exists().then(|| {
            let run = Command::new(&installed).output().unwrap();
            String::from_utf8_lossy(&run.stdout).into_owned()
        }),
        github_path: std::fs::read_to_string(github_path).unwrap(),
    }
}

fn refused(outcome: &Outcome, why: &str) {
    assert!(!outcome.success, "{}", outcome.stderr);
    assert!(outcome.stderr.contains(why), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("nothing was installed"),
        "{}",
        outcome.stderr
    );
    assert_eq!(outcome.installed, None, "no binary left behind");
    assert_eq!(outcome.github_path, "", "nothing added to PATH");
}

#[test]
fn installs_a_release_whose_checksum_matches() {
    let dir = tempfile::tempdir().unwrap();
    let archive = release_archive(dir.path());
    let sums = format!("{}  {}\n", sha256(&archive), archive_name());
    let outcome = install(&archive, &sums, None);
    assert!(outcome.success, "{}", outcome.stderr);
    assert_eq!(outcome.installed.as_deref(), Some("installed-m365ctl\n"));
    assert!(
        outcome.github_path.ends_with("/bin\n"),
        "{}",
        outcome.github_path
    );
    // A pinned checksum that matches is accepted too.
    let pinned = install(&archive, &sums, Some(&sha256(&archive)));
    assert!(pinned.success, "{}", pinned.stderr);
}

#[test]
fn refuses_an_archive_whose_checksum_does_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let archive = release_archive(dir.path());
    let good_sums = format!("{}  {}\n", sha256(&archive), archive_name());

    // The archive was replaced after the checksums were published: any flipped byte.
    for position in [0, archive.len() / 3, archive.len() / 2, archive.len() - 1] {
        let mut tampered = archive.clone();
        tampered[position] ^= 0x01;
        refused(&install(&tampered, &good_sums, None), "checksum mismatch");
    }
    // SHA256SUMS lists another digest for this archive.
    let wrong_sums = format!("{}  {}\n", sha256(b"another build"), archive_name());
    refused(&install(&archive, &wrong_sums, None), "checksum mismatch");
    // The release page was replaced wholesale (archive and SHA256SUMS agree), but the
    // workflow pins the checksum it reviewed.
    let mut evil = archive.clone();
    evil[archive.len() / 2] ^= 0x01;
    let evil_sums = format!("{}  {}\n", sha256(&evil), archive_name());
    refused(
        &install(&evil, &evil_sums, Some(&sha256(&archive))),
        "checksum mismatch",
    );
    // SHA256SUMS does not list the archive at all.
    refused(
        &install(&archive, "0000  other.tar.gz\n", None),
        "does not list",
    );
}

#[test]
fn with_provenance_required_installs_only_what_gh_attestation_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let archive = release_archive(dir.path());
    let sums = format!("{}  {}\n", sha256(&archive), archive_name());
    let verified = install_with(&archive, &sums, None, Some(0));
    assert!(verified.success, "{}", verified.stderr);
    assert_eq!(verified.installed.as_deref(), Some("installed-m365ctl\n"));
    refused(
        &install_with(&archive, &sums, None, Some(1)),
        "no valid build provenance",
    );
}

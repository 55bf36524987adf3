//! Certificate rotation in the real binary (issue #13): SIGHUP makes new connections use
//! the certificate files as they are now, on the AMQPS and the HTTPS listeners; the
//! connection opened before keeps working.

use crate::common;

use common::guard;
use common::https::https;
use common::tls::{Pki, replace_file};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The log lines of `child` (stdout and stderr), without colour codes.
fn log_lines(child: &mut Child) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    for stream in [
        Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(err),
    ] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(strip_ansi(&line));
            }
        });
    }
    rx
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits for a log line containing `needle` and returns it.
async fn wait_for(lines: &mut mpsc::UnboundedReceiver<String>, needle: &str) -> String {
    guard(async {
        while let Some(line) = lines.recv().await {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("the broker exited before logging {needle:?}");
    })
    .await
}

#[tokio::test]
async fn sighup_rotates_the_certificate_for_new_connections_and_keeps_open_ones() {
    skip_if_external!();
    let old_ca = Pki::new("old");
    let new_ca = Pki::new("new");
    let server = old_ca.server("server");
    let data = tempfile::tempdir().unwrap();
    let conf = old_ca.path("warren.toml");
    std::fs::write(
        &conf,
        format!(
            "[tls]\nlisten = \"127.0.0.1:0\"\ncertfile = {:?}\nkeyfile = {:?}\n",
            server.cert_path, server.key_path
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .arg("--config")
        .arg(&conf)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "info",
            "--data-dir",
        ])
        .arg(data.path())
        .env("WARREN_MANAGEMENT__LISTEN", "")
        .env("WARREN_PROMETHEUS__LISTEN", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = log_lines(&mut child);
    let line = wait_for(&mut lines, "listening for AMQPS").await;
    let addr: SocketAddr = line.rsplit("addr=").next().unwrap().trim().parse().unwrap();
    let uri = format!("amqps://guest:guest@{addr}/%2f");
    let connect = |pki: &Pki| {
        let builder = lapin::ConnectionBuilder::new()
            .unwrap()
            .with_uri_str(uri.clone())
            .with_tls_config(pki.lapin_tls(None));
        async move { guard(builder.connect()).await }
    };
    let open = connect(&old_ca).await.unwrap();

    let rotated = new_ca.server("rotated");
    replace_file(&server.cert_path, &rotated.cert_pem);
    replace_file(&server.key_path, &rotated.key_pem);
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) only sends SIGHUP to the child this test started; no memory is shared.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for(
        &mut lines,
        "SIGHUP: TLS certificate, key and CA files reloaded",
    )
    .await;

    let fresh = connect(&new_ca).await.unwrap();
    guard(fresh.create_channel()).await.unwrap();
    assert!(
        connect(&old_ca).await.is_err(),
        "the old certificate is gone"
    );
    guard(open.create_channel()).await.unwrap();

    child.start_kill().unwrap();
    guard(child.wait()).await.unwrap();
}

#[tokio::test]
async fn sighup_rotates_the_https_certificate_for_new_clients_and_keeps_open_ones() {
    skip_if_external!();
    let old_ca = Pki::new("old-https");
    let new_ca = Pki::new("new-https");
    let server = old_ca.server("server");
    let data = tempfile::tempdir().unwrap();
    let conf = old_ca.path("warren.toml");
    std::fs::write(
        &conf,
        format!(
            "[management]\nlisten = []\ntls_listen = [\"127.0.0.1:0\"]\n\
             [tls]\ncertfile = {:?}\nkeyfile = {:?}\n",
            server.cert_path, server.key_path
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .arg("--config")
        .arg(&conf)
        .args(["--listen", "127.0.0.1:0", "--log-level", "info"])
        .arg("--data-dir")
        .arg(data.path())
        .env("WARREN_PROMETHEUS__LISTEN", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = log_lines(&mut child);
    let line = wait_for(&mut lines, "management API listening for HTTPS").await;
    let addr: SocketAddr = line.rsplit("addr=").next().unwrap().trim().parse().unwrap();
    let mut open = https(addr, old_ca.client_config(None)).await.unwrap();
    assert_eq!(open.get("/api/whoami", true).await.unwrap().status, 200);

    let rotated = new_ca.server("rotated");
    replace_file(&server.cert_path, &rotated.cert_pem);
    replace_file(&server.key_path, &rotated.key_pem);
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) only sends SIGHUP to the child this test started; no memory is shared.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    wait_for(
        &mut lines,
        "SIGHUP: TLS certificate, key and CA files reloaded",
    )
    .await;

    let mut fresh = https(addr, new_ca.client_config(None)).await.unwrap();
    let leaf = CertificateDer::from_pem_slice(rotated.cert_pem.as_bytes()).unwrap();
    assert_eq!(
        fresh.server_cert, leaf,
        "a new client sees the new certificate"
    );
    assert_eq!(fresh.get("/api/whoami", true).await.unwrap().status, 200);
    assert!(
        https(addr, old_ca.client_config(None)).await.is_err(),
        "the old certificate is gone"
    );
    let reply = open.get("/api/whoami", true).await.unwrap();
    assert_eq!(
        reply.status, 200,
        "the connection opened before keeps working"
    );

    child.start_kill().unwrap();
    guard(child.wait()).await.unwrap();
}

//! Warren as a child process (the `warren` binary on a free port), for tests that SIGKILL it
//! and restart it on the same data directory.

use super::guard;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts the broker binary on a free port with `--data-dir dir`; returns it and its URI
/// once it logs that it listens.
pub async fn spawn_broker(dir: &Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "info",
        ])
        .arg("--data-dir")
        .arg(dir)
        .env("WARREN_MANAGEMENT__LISTEN", "")
        .env("WARREN_PROMETHEUS__LISTEN", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    for stream in [
        Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(stderr),
    ] {
        let ready_tx = ready_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("listening") {
                    let _ = ready_tx.send(());
                }
            }
        });
    }
    guard(ready_rx.recv())
        .await
        .expect("the broker logs that it listens");
    (child, format!("amqp://guest:guest@127.0.0.1:{port}/%2f"))
}

/// SIGKILLs the broker and waits for it to be gone.
pub async fn kill(mut child: Child) {
    child.start_kill().unwrap();
    guard(child.wait()).await.unwrap();
}

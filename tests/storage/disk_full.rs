//! A full disk (a small tmpfs the test mounts; skipped with a message where mounting is not
//! allowed): publishers are blocked with connection.blocked, and once consumers drain the
//! queue they are unblocked and confirmed again, although the data file keeps its peak size
//! and the file system stays nearly full (the pages freed inside the store count as free).

use crate::common;

use common::TestBroker;
use common::ext::*;
use common::raw::{Args, Frame, RawConn, describe};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the test, unmounted when dropped (also when the test fails).
struct TmpfsMount {
    path: PathBuf,
}

impl TmpfsMount {
    /// Mounts a tmpfs of `size` (mount's syntax, e.g. `24m`) on `path`; `Err` with the
    /// reason when this process may not mount.
    fn mount(path: &Path, size: &str) -> Result<TmpfsMount, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(TmpfsMount {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still in use (a failed test's broker): detach it now, freed once released.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

const LIMIT: u64 = 4 << 20;

fn persistent() -> Props {
    Props {
        delivery_mode: Some(2),
        ..Props::default()
    }
}

async fn declare_durable(c: &mut RawConn, name: &str) {
    let args = Args::new()
        .u16(0)
        .shortstr(name)
        .bits(&[false, true, false, false, false])
        .empty_table()
        .build();
    c.send_method(1, 50, 10, &args).await;
    Box::pin(c.expect_method(50, 11)).await;
}

/// Publishes until the connection is blocked; returns how many were published and how
/// many acked. The last publish may still be unconfirmed (or even unread) then.
async fn publish_until_blocked(c: &mut RawConn, queue: &str, body: &[u8]) -> (u64, u64) {
    let (mut published, mut acked) = (0, 0);
    loop {
        publish_msg(c, 1, "", queue, &persistent(), body).await;
        published += 1;
        match Box::pin(c.next_frame()).await {
            Frame::Method {
                class: 60,
                method: 80,
                ..
            } => acked += 1,
            // Nacked: the disk filled before the alarm's check saw it; blocked comes next.
            Frame::Method {
                class: 60,
                method: 120,
                ..
            } => {}
            Frame::Method {
                class: 10,
                method: 60,
                ..
            } => return (published, acked),
            other => panic!(
                "expected a confirm or connection.blocked, got {}",
                describe(&other)
            ),
        }
    }
}

/// Reads frames up to connection.unblocked (a confirm for a publish sent before the block
/// may come first).
async fn expect_unblocked(c: &mut RawConn) {
    loop {
        match Box::pin(c.next_frame()).await {
            Frame::Method {
                class: 10,
                method: 61,
                channel: 0,
                ..
            } => return,
            Frame::Method { class: 60, .. } => {}
            other => panic!("expected connection.unblocked, got {}", describe(&other)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_are_unblocked_once_consumers_drain_a_full_disk() {
    skip_if_external!();
    let dir = tempfile::tempdir().unwrap();
    let mount = match TmpfsMount::mount(dir.path(), "24m") {
        Ok(m) => m,
        Err(reason) => {
            eprintln!("skipped: cannot mount a tmpfs for a small disk ({reason}); run as root");
            return;
        }
    };
    let data_dir = mount.path.join("data");
    let broker = TestBroker::start_with(|s| {
        s.server.data_dir = data_dir.clone();
        s.limits.disk_free_limit = LIMIT;
    })
    .await;
    let q = common::unique("disk-full");
    let mut publisher = open1_blockable(&broker).await;
    confirm_select(&mut publisher, 1).await;
    declare_durable(&mut publisher, &q).await;
    let body = vec![b'x'; 32 * 1024];
    let (published, acked) = publish_until_blocked(&mut publisher, &q, &body).await;
    assert!(
        acked > 100,
        "the disk held {acked} messages before it filled"
    );

    // A connection that never published drains the queue.
    let mut consumer = open1(&broker).await;
    let mut drained = 0;
    while let Some(m) = get_msg(&mut consumer, 1, &q, true).await {
        assert_eq!(m.body, body);
        drained += 1;
    }
    assert!(
        drained >= acked,
        "every acked message was there ({drained} < {acked})"
    );

    // The file system is still nearly full (the data file keeps its size), yet publishing
    // resumes: the pages freed inside the store count.
    expect_unblocked(&mut publisher).await;
    let fs_free = fs4::available_space(&mount.path).unwrap();
    assert!(
        fs_free < 2 * LIMIT,
        "the file system stayed nearly full ({fs_free} bytes free)"
    );
    publish_msg(&mut publisher, 1, "", &q, &persistent(), b"after").await;
    let after_tag = published + 1;
    loop {
        let (tag, _, ack) = expect_confirm(&mut publisher).await;
        if tag >= after_tag {
            assert!(ack, "a publish after the drain is confirmed");
            break;
        }
    }
    let mut last = None;
    while let Some(m) = get_msg(&mut consumer, 1, &q, true).await {
        last = Some(m.body);
    }
    assert_eq!(last.as_deref(), Some(&b"after"[..]));
    broker.shutdown().await;
    drop(mount);
}

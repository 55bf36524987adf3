//! A TCP chaos proxy for one directed cluster link (node i dialing node j): the test
//! switches it between pass, refuse (close every connection and refuse new ones),
//! blackhole (accept and read, forward nothing: the dialer sees a hang) and delay (forward
//! each chunk after a pause).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What a link does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Close every connection, refuse new ones.
    Refuse,
    /// Accept and read, forward nothing.
    Blackhole,
    /// Forward each chunk after this pause.
    Delay(Duration),
}

/// One proxied link; dropping it stops the proxy.
#[derive(Debug)]
pub struct Link {
    /// Where the dialing node connects.
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    /// A link on a free loopback port forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind chaos link");
        let addr = listener.local_addr().expect("chaos link address");
        let (mode, rx) = watch::channel(Mode::Pass);
        let task = tokio::spawn(accept(listener, target, rx));
        Link { addr, mode, task }
    }

    /// Switches the link; existing connections follow at once.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, mode: watch::Receiver<Mode>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let current = *mode.borrow();
        match current {
            Mode::Refuse => drop(client),
            Mode::Blackhole => {
                tokio::spawn(swallow(client, mode.clone()));
            }
            Mode::Pass | Mode::Delay(_) => {
                let mode = mode.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = tokio::spawn(pump(cr, sw, mode.clone()));
                    let down = tokio::spawn(pump(sr, cw, mode));
                    let _ = tokio::join!(up, down);
                });
            }
        }
    }
}

/// Reads and discards until the peer closes or the link refuses.
async fn swallow(mut client: TcpStream, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = client.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { return },
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() == Mode::Refuse { return }
            }
        }
    }
}

/// Copies one direction, following the link's mode for each chunk.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() == Mode::Refuse { return }
                continue;
            }
        };
        let current = *mode.borrow();
        match current {
            Mode::Pass => {}
            Mode::Delay(d) => tokio::time::sleep(d).await,
            Mode::Blackhole => continue,
            Mode::Refuse => return,
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

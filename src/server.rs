//! The listener: accept loop, connection cap, shutdown fan-out.
//!
//! STUB: the API below is fixed; the body is being written.

use crate::config::Settings;
use std::net::SocketAddr;
use std::sync::Arc;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the settings.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running broker. Dropping it does not stop the broker; call [`ServerHandle::shutdown`].
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
}

impl ServerHandle {
    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Closes every connection with 320 CONNECTION_FORCED and stops the listener.
    pub async fn shutdown(self) {}
}

/// Binds the listener and starts serving in background tasks on the current tokio runtime.
pub async fn start(settings: Arc<Settings>) -> Result<ServerHandle, ServerError> {
    let _ = settings;
    todo!("server::start")
}

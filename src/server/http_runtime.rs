//! The tokio runtime the management API and the Prometheus endpoint run on: a small one of
//! its own, so the broker's runtime threads never accept, parse or write HTTP, and a big
//! body (the 80 MB per-object scrape of 100,000 queues) is copied to the client by threads
//! that run at a lower priority than message flow.
//!
//! [`HttpRuntime::start`] builds it with [`WORKERS`] worker threads named
//! [`THREAD_NAME`], each at the render threads' nice value
//! ([`crate::management::low_priority::RENDER_NICE`]); the handlers still read the broker
//! through the same shared state. [`HttpRuntime::run`] hands it the servers: a thread of
//! its own owns the runtime until every server has finished (they stop when the broker's
//! shutdown signal flips or its sender is dropped), then drops it there, outside any async
//! context.

use std::future::Future;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinSet;

/// Worker threads of the HTTP runtime: two, so one slow synchronous handler does not hold
/// up every other request, and few enough to leave the cores to the broker.
pub const WORKERS: usize = 2;

/// The name of the HTTP runtime's threads (worker and blocking threads alike).
pub const THREAD_NAME: &str = "warren-http";

/// The HTTP runtime, before its servers run. Dropped without [`HttpRuntime::run`] (a
/// listener failed to bind), it shuts down in the background, which an async caller may do.
#[derive(Debug)]
pub struct HttpRuntime {
    /// `None` once [`HttpRuntime::run`] has handed it on.
    runtime: Option<Runtime>,
    handle: Handle,
    servers: JoinSet<()>,
}

impl HttpRuntime {
    /// Builds the runtime; its threads start lowered in priority.
    pub fn start() -> std::io::Result<HttpRuntime> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name(THREAD_NAME)
            .on_thread_start(crate::management::low_priority::lower_priority)
            .enable_all()
            .build()?;
        Ok(HttpRuntime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            servers: JoinSet::new(),
        })
    }

    /// The runtime's handle: enter it (`handle().enter()`) while binding listeners and
    /// building routers, so their sockets and any task they spawn belong to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns one server on the runtime; [`HttpRuntime::run`] keeps the runtime until
    /// every server so spawned has returned.
    pub fn spawn(&mut self, server: impl Future<Output = ()> + Send + 'static) {
        self.servers.spawn_on(server, &self.handle);
    }

    /// Hands the runtime to a thread of its own that keeps it until every server has
    /// returned, then shuts it down (tasks the servers left behind, such as connections
    /// past their grace, go with it). With no server, the runtime is shut down at once.
    pub fn run(mut self) -> std::io::Result<()> {
        if self.servers.is_empty() {
            return Ok(());
        }
        std::thread::Builder::new()
            .name(format!("{THREAD_NAME}-main"))
            .spawn(move || {
                let mut servers = std::mem::take(&mut self.servers);
                if let Some(runtime) = &self.runtime {
                    runtime.block_on(async { while servers.join_next().await.is_some() {} });
                }
            })?;
        Ok(())
    }
}

impl Drop for HttpRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::management::low_priority::{RENDER_NICE, current_nice};

    /// What a task sees of the thread it runs on.
    fn thread_facts() -> (Option<String>, i32) {
        let name = std::thread::current().name().map(str::to_string);
        (name, current_nice())
    }

    #[tokio::test]
    async fn servers_run_on_named_low_priority_threads_not_the_callers() {
        let before = current_nice();
        let caller = std::thread::current().id();
        let mut http = HttpRuntime::start().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        http.spawn(async move {
            let _ = tx.send((std::thread::current().id(), thread_facts()));
        });
        http.run().unwrap();
        let (thread, (name, nice)) = rx.await.unwrap();
        assert_ne!(thread, caller);
        assert_eq!(name.as_deref(), Some(THREAD_NAME));
        assert_eq!(nice, RENDER_NICE.max(before));
        assert_eq!(current_nice(), before, "the caller keeps its priority");
    }

    #[tokio::test]
    async fn sockets_bound_while_entered_are_served_by_the_http_runtime() {
        let mut http = HttpRuntime::start().unwrap();
        let listener = {
            let _entered = http.handle().enter();
            crate::listener::bind("127.0.0.1:0".parse().unwrap()).unwrap()
        };
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        http.spawn(async move {
            if let Ok((_socket, _)) = listener.accept().await {
                let _ = tx.send(thread_facts().0);
            }
        });
        http.run().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(rx.await.unwrap().as_deref(), Some(THREAD_NAME));
    }

    #[tokio::test]
    async fn a_runtime_never_run_may_be_dropped_in_async_code() {
        let mut http = HttpRuntime::start().unwrap();
        http.spawn(std::future::pending());
        drop(http);
    }

    #[test]
    fn the_runtime_ends_when_its_servers_do() {
        let mut http = HttpRuntime::start().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        http.spawn(async move {
            let _ = stop_rx.await;
        });
        // A task that outlives the servers is dropped with the runtime.
        http.handle().spawn(async move {
            let _done = done_tx;
            std::future::pending::<()>().await;
        });
        http.run().unwrap();
        drop(stop_tx);
        // The sender held by the pending task is dropped when the runtime goes.
        assert!(done_rx.recv().is_err());
    }
}

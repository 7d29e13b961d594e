//! Graceful shutdown: both services stop accepting on SIGINT or SIGTERM and
//! drain in-flight requests (bounded by the caller).

use std::future::Future;

/// Resolves on Ctrl-C or SIGTERM. The SIGTERM handler is installed when
/// this is called, not when the future is first polled: the server polls it
/// only between accepts, and a SIGTERM before that would take the default
/// action and kill the process mid-request.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}

//! The HTTP server: the router on hyper, with the network limits an exposed server needs. A
//! client gets `header_read_timeout` to send a request's headers (counted from when its
//! connection is ready for a request, so it also bounds a keep-alive wait), the router answers
//! `408` after `request_timeout` (a slow body included), a connection with no bytes moving for
//! `idle_timeout` is closed, and on shutdown in-flight requests get `shutdown_grace` before the
//! remaining connections are closed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tower::Service;

#[derive(Debug, Clone, Copy)]
pub struct NetworkLimits {
    pub header_read: Duration,
    pub idle: Duration,
    pub grace: Duration,
}

impl NetworkLimits {
    pub fn from_config(c: &crate::config::Config) -> NetworkLimits {
        NetworkLimits {
            header_read: Duration::from_secs(c.header_read_timeout_secs),
            idle: Duration::from_secs(c.idle_timeout_secs),
            grace: Duration::from_secs(c.shutdown_grace_secs),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests finish
/// for at most the grace period.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: NetworkLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = make.call(peer).await;
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let io = TokioIo::new(IdleLimited::new(stream, limits.idle));
            let conn =
                builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
            // Errors here are the client's (a reset, a timeout); the request log has the rest.
            let _ = watcher.watch(conn).await;
        });
    }
    drop(listener);
    tracing::info!(
        grace_secs = limits.grace.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection finished"),
        () = tokio::time::sleep(limits.grace) => {
            tracing::warn!("shutdown grace over: closing the remaining connections")
        }
    }
    Ok(())
}

/// A connection that fails with `TimedOut` once no byte has moved either way for `limit`.
/// Progress only notes the time; the timer is moved when it fires early, so a busy connection
/// costs no timer work per read or write.
pub struct IdleLimited {
    inner: TcpStream,
    limit: Duration,
    last: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl IdleLimited {
    pub fn new(inner: TcpStream, limit: Duration) -> IdleLimited {
        IdleLimited {
            inner,
            limit,
            last: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }

    fn moved(&mut self) {
        self.last = Instant::now();
    }

    /// Whether the connection has been idle for the limit; otherwise the timer is armed (and
    /// wakes this task) for when it would be.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.deadline.as_mut().poll(cx).is_pending() {
            return false;
        }
        let due = self.last + self.limit;
        if due <= Instant::now() {
            return true;
        }
        self.deadline.as_mut().reset(due);
        self.deadline.as_mut().poll(cx).is_ready()
    }

    /// A write's outcome: progress resets the deadline; waiting past it fails.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle())),
            other => other,
        }
    }
}

fn idle() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle too long")
}

impl AsyncRead for IdleLimited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle())),
            other => other,
        }
    }
}

impl AsyncWrite for IdleLimited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        self.wrote(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

//! A future that is never cancelled: dropped before it completes (the client went away, the
//! request timed out), it finishes on a task of its own.
//!
//! A turn must not stop halfway, after its email went out but before its session was saved
//! (ARCHITECTURE.md, invariant 5). Spawning every turn on a task guaranteed that, but cost
//! every turn a task, a join handle and a cross-task wake-up; now a turn runs in the request's
//! own task, boxed so that it can move, and only a turn that is actually abandoned pays for a
//! task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct Uncancellable<F: Future + Send + 'static>
where
    F::Output: Send,
{
    /// `None` once it has completed.
    future: Option<Pin<Box<F>>>,
}

impl<F: Future + Send + 'static> Uncancellable<F>
where
    F::Output: Send,
{
    pub fn new(future: F) -> Self {
        Self {
            future: Some(Box::pin(future)),
        }
    }
}

impl<F: Future + Send + 'static> Future for Uncancellable<F>
where
    F::Output: Send,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(future) = this.future.as_mut() else {
            return Poll::Pending;
        };
        let output = std::task::ready!(future.as_mut().poll(cx));
        this.future = None;
        Poll::Ready(output)
    }
}

impl<F: Future + Send + 'static> Drop for Uncancellable<F>
where
    F::Output: Send,
{
    fn drop(&mut self) {
        // Off a runtime (the process is shutting down) there is nothing left to run it on.
        if let (Some(future), Ok(runtime)) =
            (self.future.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(future);
        }
    }
}

impl<F: Future + Send + 'static> std::fmt::Debug for Uncancellable<F>
where
    F::Output: Send,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uncancellable")
            .field("completed", &self.future.is_none())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_abandoned_future_still_completes() {
        // The work waits for `release`, so it is certainly unfinished when its caller gives
        // up; it reports through `finished` once it has run to the end on its own task.
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (report, finished) = tokio::sync::oneshot::channel::<()>();
        let work = Uncancellable::new(async move {
            let _ = released.await;
            let _ = report.send(());
        });
        let mut work = Box::pin(work);
        assert!(poll_once(work.as_mut()).await.is_pending());
        drop(work);
        release.send(()).expect("the abandoned work still waits");
        tokio::time::timeout(Duration::from_secs(30), finished)
            .await
            .expect("the abandoned work ran to the end")
            .expect("it reported before finishing");
    }

    /// Polls a future once, as a caller that then gives up would.
    async fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
        let mut future = Some(future);
        std::future::poll_fn(|cx| {
            let polled = future.take().map(|f| f.poll(cx));
            Poll::Ready(polled.unwrap_or(Poll::Pending))
        })
        .await
    }

    #[tokio::test]
    async fn a_completed_future_gives_its_output_once() {
        assert_eq!(Uncancellable::new(async { 7 }).await, 7);
    }
}

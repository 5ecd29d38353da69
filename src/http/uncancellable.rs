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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn an_abandoned_future_still_completes() {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let work = Uncancellable::new(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            flag.store(true, Ordering::SeqCst);
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(1), work)
                .await
                .is_err()
        );
        assert!(!done.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(done.load(Ordering::SeqCst), "it finished on its own task");
    }

    #[tokio::test]
    async fn a_completed_future_gives_its_output_once() {
        assert_eq!(Uncancellable::new(async { 7 }).await, 7);
    }
}

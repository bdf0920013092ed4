//! Wake-ups of writer tasks held back until the end of a batch of deliveries.
//!
//! Every frame queued to an idle client wakes its writer task ([`crate::outbox`]). When one
//! read of a publisher, or one commit of the room log, delivers to many rooms, waking each
//! writer as its first frame arrives lets it run (on the other worker) before the rest of the
//! batch reaches it: it writes one message, waits again, and is woken again for the next,
//! one system call and one scheduling per delivery. Holding the wake-ups until the batch is
//! done lets each writer find everything the batch queued for it and write it at once, as
//! nats-server does by flushing each client it touched once per read buffer.
//!
//! A batch belongs to one thread and never spans a wait: [`batched`] holds wake-ups only
//! within one poll of a task, and [`batch`] within one synchronous call, so a held wake-up
//! is always given before the thread runs anything else. A task whose one poll may go on
//! for long (a reader working through many reads) gives them at each natural break
//! ([`release`]), so that no writer waits longer than one read's worth of work.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

thread_local! {
    /// The wake-ups held on this thread; `None` outside a batch.
    static HELD: RefCell<Option<Vec<Waker>>> = const { RefCell::new(None) };
}

/// Wakes `waker` now, or at the end of the batch this thread is in.
pub fn wake(waker: Waker) {
    let outside = HELD.with(|held| match &mut *held.borrow_mut() {
        Some(list) => {
            list.push(waker);
            None
        }
        None => Some(waker),
    });
    if let Some(waker) = outside {
        waker.wake();
    }
}

/// Gives every wake-up held so far on this thread; the batch, if any, goes on.
pub fn release() {
    let held = HELD.with(|held| held.borrow_mut().as_mut().map(std::mem::take));
    for waker in held.into_iter().flatten() {
        waker.wake();
    }
}

/// Runs `f` with the wake-ups it causes held until it returns (or panics). Inside a batch
/// already, `f` is simply part of it.
pub fn batch<R>(f: impl FnOnce() -> R) -> R {
    let _batch = Batch::open();
    f()
}

/// A batch opened on this thread; closing it gives what it held.
struct Batch {
    /// Whether this one opened it (not nested in another).
    outermost: bool,
}

impl Batch {
    fn open() -> Batch {
        let outermost = HELD.with(|held| {
            let mut held = held.borrow_mut();
            let outermost = held.is_none();
            if outermost {
                *held = Some(Vec::new());
            }
            outermost
        });
        Batch { outermost }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if self.outermost {
            let held = HELD.with(|held| held.borrow_mut().take());
            for waker in held.into_iter().flatten() {
                waker.wake();
            }
        }
    }
}

/// Runs `future` with each of its polls one batch: what it delivers in one go wakes its
/// recipients' writers once, when it next waits (or calls [`release`]).
///
/// A future of its own that holds `future` in place, not an `async fn`: an `async fn` keeps
/// its argument beside the pinned copy its body makes, and for a connection's read loop that
/// was some hundreds of bytes more for every idle client.
pub fn batched<F: Future>(future: F) -> Batched<F> {
    Batched { future }
}

pin_project_lite::pin_project! {
    /// `future`, each poll of it one batch of wake-ups ([`batched`]).
    #[derive(Debug)]
    pub struct Batched<F> {
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Batched<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        batch(|| future.poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use super::*;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }

    fn woken(counter: &Counter) -> usize {
        counter.0.load(Ordering::SeqCst)
    }

    /// Outside a batch a wake-up is given at once; inside, at its end or at a release, and
    /// a nested batch ends with the outer one.
    #[test]
    fn wake_ups_wait_for_the_end_of_the_outermost_batch_or_a_release() {
        let (c, waker) = counter();
        wake(waker.clone());
        assert_eq!(woken(&c), 1);
        batch(|| {
            wake(waker.clone());
            batch(|| wake(waker.clone()));
            assert_eq!(woken(&c), 1, "held through the nested batch");
            release();
            assert_eq!(woken(&c), 3);
            wake(waker.clone());
            assert_eq!(woken(&c), 3);
        });
        assert_eq!(woken(&c), 4);
    }

    /// A panic inside a batch still gives what it held, and leaves the thread outside any
    /// batch.
    #[test]
    fn a_panicking_batch_still_wakes() {
        let (c, waker) = counter();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batch(|| {
                wake(waker.clone());
                panic!("boom");
            })
        }));
        assert!(caught.is_err());
        assert_eq!(woken(&c), 1);
        wake(waker);
        assert_eq!(woken(&c), 2);
    }
}

//! The one failure path of every room log: a burst that could not be stored is delivered
//! to nobody, its sender is told why with a typed error, and the log says so at ERROR once,
//! then at most every [`REPEAT_ERROR`] while it keeps failing, and at INFO when it works
//! again. The server recovers by itself when the disk (or the cluster) does.

use std::fmt::Display;
use std::time::{Duration, Instant};

use chat_proto::codec::encode;
use chat_proto::{ErrorKind, ServerFrame};

use crate::metrics::Metrics;
use crate::outbox::Outbox;

/// How often, at most, a failing log is reported again at ERROR while it keeps failing.
pub const REPEAT_ERROR: Duration = Duration::from_secs(10);

/// Whether, since when, and with how many messages refused, a log has been failing.
#[derive(Debug, Default)]
pub struct Failures {
    /// Since when it fails, when that was last reported, and the messages refused since.
    failing: Option<(Instant, Instant, usize)>,
}

impl Failures {
    /// Reports that `messages` could not be stored because of `err`: at once the first
    /// time, then at most every [`REPEAT_ERROR`] while the log keeps failing.
    pub fn failed(&mut self, err: &dyn Display, messages: usize) {
        let now = Instant::now();
        match &mut self.failing {
            None => {
                tracing::error!(
                    "Cannot store {messages} messages, so they were not sent (their senders \
                     were told): {err}"
                );
                self.failing = Some((now, now, 0));
            }
            Some((since, reported, refused)) => {
                *refused += messages;
                if now.duration_since(*reported) >= REPEAT_ERROR {
                    tracing::error!(
                        "The message log still fails after {:?} ({refused} more messages \
                         refused): {err}",
                        now.duration_since(*since)
                    );
                    *reported = now;
                    *refused = 0;
                }
            }
        }
    }

    /// Says once that the log works again.
    pub fn recovered(&mut self) {
        if let Some((since, _, _)) = self.failing.take() {
            tracing::info!("The message log works again, after {:?}", since.elapsed());
        }
    }
}

/// Tells the sender of a burst that was not stored why nobody got it.
pub fn refuse(sender: &Outbox, metrics: &Metrics, kind: ErrorKind, detail: &str) {
    let frame = ServerFrame::Error {
        kind,
        detail: detail.to_owned(),
    };
    if let Ok(refusal) = encode(&frame) {
        sender.offer(refusal);
        metrics.refused(kind);
    }
}

//! The server's log, captured in-process in the house format, so a test can wait for the
//! line an event must produce (with a timeout, never a sleep) and check what a line says.
//!
//! One subscriber serves the whole test binary; tests running side by side tell their lines
//! apart by the peer addresses in them, which are unique.

use std::io;
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::sync::watch;

use super::TIMEOUT;

/// Every line logged so far, and a counter bumped on each new one.
#[derive(Debug)]
struct Log {
    lines: Mutex<Vec<String>>,
    changed: watch::Sender<u64>,
}

static LOG: OnceLock<Log> = OnceLock::new();

/// Hands each formatted event to [`LOG`]; the formatter writes one whole event per call.
#[derive(Debug)]
struct Appender;

impl io::Write for Appender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(log) = LOG.get() {
            let text = String::from_utf8_lossy(buf);
            log.lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(text.lines().map(str::to_owned));
            log.changed.send_modify(|n| *n += 1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Starts capturing INFO and above (message text is only at DEBUG); call before starting
/// the server. Idempotent.
pub fn capture() {
    LOG.get_or_init(|| {
        chat_proto::logging::init(Some("info"), || Appender)
            .expect("nothing else installs a subscriber in the tests");
        Log {
            lines: Mutex::new(Vec::new()),
            changed: watch::channel(0).0,
        }
    });
}

/// Every captured line satisfying `pred`, now.
pub fn lines(pred: impl Fn(&str) -> bool) -> Vec<String> {
    let log = LOG.get().expect("logs::capture() was called");
    let lines = log.lines.lock().unwrap_or_else(PoisonError::into_inner);
    lines.iter().filter(|l| pred(l)).cloned().collect()
}

/// Waits for a line satisfying `pred` and returns it; fails the test after [`TIMEOUT`].
pub async fn wait_for(what: &str, pred: impl Fn(&str) -> bool) -> String {
    let log = LOG.get().expect("logs::capture() was called");
    let mut changed = log.changed.subscribe();
    let found = tokio::time::timeout(TIMEOUT, async {
        loop {
            changed.borrow_and_update();
            if let Some(line) = lines(&pred).into_iter().next() {
                return line;
            }
            changed
                .changed()
                .await
                .expect("the log lives as long as the test");
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no log line {what} within {TIMEOUT:?}"))
}

/// Waits for a WARN line about `peer` that contains `reason`.
pub async fn warned(peer: &str, reason: &str) -> String {
    wait_for(&format!("WARN about {peer} saying {reason:?}"), |l| {
        l.contains(" | WARN | ") && names_peer(l, peer) && l.contains(reason)
    })
    .await
}

/// Whether `line` has the field `peer=<peer>` (not merely one whose port starts the same).
pub fn names_peer(line: &str, peer: &str) -> bool {
    let field = format!("peer={peer}");
    line.split(' ').any(|word| word == field)
}

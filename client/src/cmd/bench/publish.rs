//! A benchmark publisher: it sends the measured messages to its rooms in turn, in batches,
//! within the run's window (and at `--rate`, when given), while its own connection is read
//! back by [`super::receive`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_proto::codec::encode;
use chat_proto::ClientFrame;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::join::Joined;
use super::receive::{receive, Pongs, Received, Role};
use super::run::Run;
use super::stamp::{MsgTemplate, Stamp};

/// Messages a publisher writes per system call at saturation.
pub const BATCH: u64 = 64;

/// What a publisher is asked to send.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Messages to send to each room.
    pub messages: u64,
    /// Text bytes per message.
    pub size: usize,
    /// Messages per second for this publisher, all rooms together; `None` to send as fast
    /// as the window allows.
    pub rate: Option<f64>,
}

/// What a publisher did.
#[derive(Debug, Default)]
pub struct Sent {
    /// Messages written, to all rooms together.
    pub sent: u64,
    /// When the first left (nanoseconds since the run began).
    pub first_ns: Option<u64>,
    /// How far it fell behind its schedule at worst, in milliseconds.
    pub max_behind_ms: f64,
    /// Why it stopped early.
    pub error: Option<String>,
    /// What its own connection received.
    pub received: Received,
}

/// A registered connection that sends the measured messages.
#[derive(Debug)]
pub struct Publisher {
    /// Its number, written into every message.
    id: u16,
    /// Its socket's write half.
    write: OwnedWriteHalf,
    /// `Pong`s owed to the server, found by the reading task.
    pongs: mpsc::UnboundedReceiver<()>,
    /// The task reading its socket.
    reader: JoinHandle<Received>,
    /// The rooms it sends to in turn, as the server names them.
    rooms: Vec<String>,
}

impl Publisher {
    /// Starts reading `joined` in the background, expecting `expected` messages from all
    /// its rooms together; [`Publisher::send`] then writes to it.
    pub fn new(id: u16, joined: Joined, expected: u64, run: Arc<Run>) -> Publisher {
        let rooms = joined.rooms.clone();
        let (reader, write) = joined.split();
        let (tx, pongs) = mpsc::unbounded_channel();
        let reader = tokio::spawn(receive(
            reader,
            Pongs::Forward(tx),
            Role::Publisher(usize::from(id)),
            expected,
            run,
        ));
        Publisher {
            id,
            write,
            pongs,
            reader,
            rooms,
        }
    }

    /// Sends the plan's messages to each room, the rooms in turn, in batches of up to
    /// [`BATCH`] per write, within the run's window; then waits for the run to stop and
    /// reports.
    pub async fn send(mut self, plan: Plan, run: Arc<Run>) -> Sent {
        let mut report = Sent::default();
        if let Err(err) = self.send_all(plan, &run, &mut report).await {
            report.error = Some(err);
        }
        run.stop.cancelled().await;
        report.received = self.reader.await.unwrap_or_default();
        // The write half stays open until here: closing it earlier would make the server
        // drop this publisher while its last messages may still be on their way.
        drop(self.write);
        report
    }

    async fn send_all(&mut self, plan: Plan, run: &Run, report: &mut Sent) -> Result<(), String> {
        let templates = self
            .rooms
            .iter()
            .map(|room| MsgTemplate::new(room, plan.size))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let rooms = templates.len().max(1) as u64;
        let total = plan.messages * rooms;
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut out = Vec::with_capacity(BATCH as usize * (plan.size + 64));
        // Message `k` goes to room `k mod rooms` as that room's message `k div rooms`.
        let mut k = 0;
        while k < total {
            let due = match plan.rate {
                None => total,
                Some(rate) => {
                    tick.tick().await;
                    let due = (started.elapsed().as_secs_f64() * rate) as u64 + 1;
                    let due = due.min(total);
                    let behind_ms = due.saturating_sub(k) as f64 / rate * 1000.0;
                    report.max_behind_ms = report.max_behind_ms.max(behind_ms);
                    due
                }
            };
            while k < due {
                let n = BATCH.min(due - k).min(run.window.max(1));
                // Rounds of the rooms begun by messages k..k+n: those whose index is a
                // multiple of the room count.
                let rounds = (k + n).div_ceil(rooms) - k.div_ceil(rooms);
                run.wait_window(n, rounds).await?;
                out.clear();
                while self.pongs.try_recv().is_ok() {
                    let pong = encode(&ClientFrame::Pong).map_err(|e| e.to_string())?;
                    out.extend_from_slice(pong.as_bytes());
                }
                let sent_ns = run.now_ns();
                report.first_ns.get_or_insert(sent_ns);
                for k in k..k + n {
                    let stamp = Stamp {
                        publisher: self.id,
                        seq: k / rooms,
                        sent_ns,
                    };
                    templates[(k % rooms) as usize].write(&stamp, &mut out);
                }
                run.sent.fetch_add(n, Ordering::SeqCst);
                run.rounds.fetch_add(rounds, Ordering::SeqCst);
                self.write
                    .write_all(&out)
                    .await
                    .map_err(|e| format!("write: {e}"))?;
                k += n;
                report.sent = k;
            }
        }
        Ok(())
    }
}

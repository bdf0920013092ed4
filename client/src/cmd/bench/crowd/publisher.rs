//! The crowd's one publisher: in every room, it sends a round (one message to each room)
//! and reads until the server has given each its `seq` (its own copy of a message is the
//! confirmation). The run sends one round to time a delivery to everyone, rounds at a
//! steady rate while the storm lasts, reconnecting whenever its own connection goes, and a
//! last round whose `seq`s every member must reach.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_proto::codec::{decode_body, encode, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::validate::room_key;
use chat_proto::{Backlog, ClientFrame, ServerFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::time::timeout;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::dial::{rejoin, Caller};
use super::member::msg_room_seq;
use super::state::Crowd;
use crate::cmd::bench::join::{answer_pings, Reader};
use crate::cmd::bench::layout::publisher_name;

/// One round: when it was written, and the `seq` each room gave its message.
#[derive(Debug, Clone)]
pub struct Round {
    /// Nanoseconds since the run began, just before the write.
    pub sent_ns: u64,
    /// The `seq` of the message to `rooms[k]`, for each `k`.
    pub seqs: Vec<u64>,
}

/// The publisher and its connection, when it has one.
#[derive(Debug)]
pub struct Publisher {
    /// Its name.
    name: String,
    /// Reading and writing halves, and the frames cut so far; `None` after its connection
    /// went.
    conn: Option<(Reader, OwnedWriteHalf, FrameCodec)>,
    /// Rounds confirmed during the storm.
    pub storm_rounds: u64,
    /// Rounds that failed during the storm (no connection, or it went mid-round).
    pub storm_failures: u64,
}

impl Publisher {
    /// Publisher 0 of the run, joined to every room; it connects from the first source
    /// address.
    pub async fn connect(crowd: &Crowd) -> Option<Publisher> {
        let mut publisher = Publisher {
            name: publisher_name(&crowd.prefix, 0),
            conn: None,
            storm_rounds: 0,
            storm_failures: 0,
        };
        publisher.reconnect(crowd, &crowd.stop).await?;
        Some(publisher)
    }

    /// Connects again (and again) until it is in every room, or `stop`.
    async fn reconnect(&mut self, crowd: &Crowd, stop: &CancellationToken) -> Option<()> {
        let caller = Caller {
            name: &self.name,
            rooms: &crowd.rooms,
            from: crowd.source(0),
            backlog: Backlog::None,
            key: usize::MAX,
        };
        let joined = rejoin(crowd, caller, stop).await?;
        let (reader, write) = joined.split();
        self.conn = Some((reader, write, FrameCodec::new(CLIENT_MAX_FRAME)));
        Some(())
    }

    /// Sends one message with `text` to every room and waits (at most the crowd's
    /// handshake limit) until each has come back with its `seq`.
    pub async fn round(&mut self, text: &str, crowd: &Crowd) -> Result<Round, String> {
        let Some((reader, write, codec)) = &mut self.conn else {
            return Err("not connected".to_owned());
        };
        let mut out = Vec::new();
        for room in crowd.rooms.iter() {
            let frame = encode(&ClientFrame::Msg {
                room: room.clone(),
                text: text.to_owned(),
            })
            .map_err(|e| e.to_string())?;
            out.extend_from_slice(frame.as_bytes());
        }
        let sent_ns = crowd.now_ns();
        let outcome = timeout(crowd.wait, async {
            write
                .write_all(&out)
                .await
                .map_err(|e| format!("write: {e}"))?;
            confirmations(reader, write, codec, crowd).await
        })
        .await
        .unwrap_or_else(|_| Err(format!("no confirmation within {:?}", crowd.wait)));
        match outcome {
            Ok(seqs) => Ok(Round { sent_ns, seqs }),
            Err(err) => {
                self.conn = None;
                Err(err)
            }
        }
    }

    /// A round that must go through: reconnects first if needed.
    pub async fn sure_round(&mut self, text: &str, crowd: &Crowd) -> Result<Round, String> {
        if self.conn.is_none() {
            self.reconnect(crowd, &crowd.stop)
                .await
                .ok_or("the run stopped before the publisher was back")?;
        }
        self.round(text, crowd).await
    }

    /// Sends a round every `1 / rate` seconds until `until`, reconnecting as needed.
    pub async fn storm(mut self, rate: f64, until: CancellationToken, crowd: Arc<Crowd>) -> Self {
        let period = Duration::from_secs_f64(1.0 / rate);
        let mut next = Instant::now();
        let mut n = 0u64;
        loop {
            tokio::select! {
                () = until.cancelled() => break,
                () = tokio::time::sleep_until(next.into()) => {}
            }
            next = (next + period).max(Instant::now());
            if self.conn.is_none() && self.reconnect(&crowd, &until).await.is_none() {
                break;
            }
            n += 1;
            match self.round(&format!("storm {n}"), &crowd).await {
                Ok(_) => self.storm_rounds += 1,
                Err(_) => self.storm_failures += 1,
            }
        }
        self
    }
}

/// Reads until every room has sent back its message's `seq`, answering pings.
async fn confirmations(
    reader: &mut Reader,
    write: &mut OwnedWriteHalf,
    codec: &mut FrameCodec,
    crowd: &Crowd,
) -> Result<Vec<u64>, String> {
    let keys: Vec<String> = crowd.rooms.iter().map(|r| room_key(r)).collect();
    let mut seqs: Vec<Option<u64>> = vec![None; keys.len()];
    loop {
        let mut pongs = 0;
        while let Some(body) = codec.decode(&mut reader.buf).map_err(|e| e.to_string())? {
            if let Some((room, seq)) = msg_room_seq(&body) {
                let key = String::from_utf8_lossy(room).to_ascii_lowercase();
                if let Some(k) = keys.iter().position(|r| *r == key) {
                    seqs[k] = Some(seq);
                }
            } else if let Ok(ServerFrame::Ping) = decode_body::<ServerFrame>(&body) {
                pongs += 1;
            }
        }
        if seqs.iter().all(Option::is_some) {
            return Ok(seqs.into_iter().flatten().collect());
        }
        answer_pings(write, pongs)
            .await
            .map_err(|e| format!("write: {e}"))?;
        if reader.buf.capacity() - reader.buf.len() < reader.chunk / 4 {
            reader.buf.reserve(reader.chunk);
        }
        match reader.read.read_buf(&mut reader.buf).await {
            Ok(0) => return Err("closed by the server".to_owned()),
            Ok(_) => {}
            Err(err) => return Err(format!("read: {err}")),
        }
    }
}

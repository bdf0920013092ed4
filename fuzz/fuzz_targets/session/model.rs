//! What a simulated client did and got, as the checks read it: its bytes each way decoded
//! ([`Seen`]), its stays in rooms as its own frames show them ([`Stay`]), and what pairing
//! its requests with its replies found ([`Walked`]); with the small rules on names and rooms
//! that the checks share.

use chat_proto::codec::{decode_chunks, CodecError, CLIENT_MAX_FRAME};
use chat_proto::validate::{self, name_key, room_key};
use chat_proto::{ClientFrame, ErrorKind, LeftReason, ServerFrame};

use super::Sim;

/// What one simulated client did and got, decoded.
pub(crate) struct Seen {
    /// What it sent, as the server reads it: frames and the framing errors among them.
    pub(crate) requests: Vec<Result<ClientFrame, CodecError>>,
    /// Every frame it received.
    pub(crate) frames: Vec<ServerFrame>,
    /// Whether what it received may stop short: it stopped reading, or was dropped as a
    /// slow consumer.
    pub(crate) may_be_cut: bool,
}

impl Seen {
    /// The frames it sent that the server could read.
    pub(crate) fn sent(&self) -> impl Iterator<Item = &ClientFrame> {
        self.requests.iter().filter_map(|r| r.as_ref().ok())
    }
}

/// Decodes what `sim` sent (as the server reads it) and received (as a client reads it).
pub(crate) fn decode(sim: &Sim, buffsize: usize) -> Seen {
    let requests = decode_chunks::<ClientFrame>([sim.sent.as_slice()], buffsize);
    let received = sim.received.lock().unwrap();
    let items = decode_chunks::<ServerFrame>([received.as_slice()], CLIENT_MAX_FRAME);
    let mut frames = Vec::new();
    let last = items.len().saturating_sub(1);
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Ok(frame) => frames.push(frame),
            Err(CodecError::Truncated { .. }) if sim.stalled && i == last => {}
            Err(e) => panic!("a client received bytes that are not server frames: {e}"),
        }
    }
    let welcomes: Vec<&str> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Welcome { username, .. } => Some(username.as_str()),
            _ => None,
        })
        .collect();
    assert!(welcomes.len() <= 1, "welcomed twice: {welcomes:?}");
    let dropped = frames.iter().any(|f| {
        matches!(
            f,
            ServerFrame::Error {
                kind: ErrorKind::SlowConsumer,
                ..
            }
        )
    });
    Seen {
        requests,
        may_be_cut: sim.stalled || dropped,
        frames,
    }
}

/// One stay of a client in a room, as its own frames show it.
#[derive(Debug, Clone)]
pub(crate) struct Stay {
    /// [`room_key`] of the room.
    pub(crate) key: String,
    /// The room's name as shown in its `Joined`.
    pub(crate) shown: String,
    /// The member list of its `Joined`.
    pub(crate) joined: Vec<String>,
    /// The room's `Msg`, `UserJoined` and `UserLeft` frames it received while in.
    pub(crate) events: Vec<ServerFrame>,
    /// `Joined` again while in: after how many of `events`, and its member list.
    pub(crate) rejoins: Vec<(usize, Vec<String>)>,
    /// Whether it ended with the client's `Parted` (otherwise with its leaving).
    pub(crate) parted: bool,
    /// The `seq` of the last `Msg` it heard.
    pub(crate) last_seq: Option<u64>,
}

impl Stay {
    /// Records a room frame heard during the stay; a `Msg` must carry the room's next
    /// `seq` (a member hears every message while in, and the numbering has no gaps).
    pub(crate) fn hear(&mut self, frame: &ServerFrame, me: Option<&str>) {
        if let ServerFrame::Msg { seq, .. } = frame {
            if let Some(last) = self.last_seq {
                assert_eq!(
                    *seq,
                    last + 1,
                    "{me:?} in #{}: {frame:?} after seq {last}",
                    self.shown
                );
            }
            self.last_seq = Some(*seq);
        }
        self.events.push(frame.clone());
    }
}

/// What walking one client's requests and replies found.
pub(crate) struct Walked {
    /// The name it was welcomed under, if it was.
    pub(crate) name: Option<String>,
    /// Its stays in rooms, in order.
    pub(crate) stays: Vec<Stay>,
    /// What the members of its rooms must have been told when it left; `None` when that
    /// cannot be known (it was cut short).
    pub(crate) leave: Option<LeftReason>,
}

/// The valid names a client asked for in its Hellos.
pub(crate) fn possible_names(seen: &Seen) -> impl Iterator<Item = &str> {
    seen.sent().filter_map(|frame| match frame {
        ClientFrame::Hello { username, .. } if validate::username(username).is_ok() => {
            Some(username.as_str())
        }
        _ => None,
    })
}

/// The key of a room as typed, if it is a valid name.
pub(crate) fn key_of(typed: &str) -> Option<String> {
    validate::room(typed).ok().map(room_key)
}

/// Whether `names` is sorted as the server sorts member lists: case-insensitively, each
/// name once.
pub(crate) fn sorted(names: &[String]) -> bool {
    names.windows(2).all(|w| name_key(&w[0]) < name_key(&w[1]))
}

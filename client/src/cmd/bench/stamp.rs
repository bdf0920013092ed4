//! The text of a benchmark message, and reading it back cheaply.
//!
//! Every message a publisher sends says who sent it, its place in that publisher's sequence
//! and when it left, so a receiver can count gaps and measure latency without any state
//! shared with the sender but the clock:
//!
//! ```text
//! d 0003 00000000002a 0000000012345678 ..........   (no spaces on the wire)
//! │ │    │            │                └ '.' up to the requested size
//! │ │    │            └ send time: nanoseconds since the run's epoch, 16 hex digits
//! │ │    └ sequence number, 12 hex digits
//! │ └ publisher, 4 hex digits
//! └ kind: 'd' a measured message
//! ```
//!
//! Printable ASCII, so it passes the server's message rules unchanged. Receivers read it
//! straight out of the frame body ([`msg_text`]) without building a `ServerFrame`: a
//! thousand receivers each decoding every message into owned strings would measure the
//! benchmark, not the server.

use chat_proto::codec::bincode_options;
use chat_proto::ClientFrame;

/// Bytes in the fixed part of a message text; the smallest `--size`.
pub const HEADER_LEN: usize = 1 + 4 + 12 + 16;

/// The first byte of a measured message.
const DATA: u8 = b'd';

/// `ServerFrame::Msg`'s variant index as bincode writes it: a one-byte varint.
const MSG_TAG: u8 = 1;

/// What a measured message says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Which publisher sent it.
    pub publisher: u16,
    /// Its position in that publisher's sequence, from 0.
    pub seq: u64,
    /// When it was sent, in nanoseconds since the run's epoch.
    pub sent_ns: u64,
}

impl Stamp {
    /// The `ClientFrame::Msg` carrying this stamp, padded to `size` bytes of text
    /// (at least [`HEADER_LEN`]).
    pub fn frame(&self, size: usize) -> ClientFrame {
        let mut text = format!(
            "{}{:04x}{:012x}{:016x}",
            DATA as char, self.publisher, self.seq, self.sent_ns
        );
        let len = size.max(HEADER_LEN);
        text.extend(std::iter::repeat_n('.', len - text.len()));
        ClientFrame::Msg { text }
    }

    /// The stamp in a message text; `None` for a message that is not a benchmark's.
    pub fn parse(text: &[u8]) -> Option<Stamp> {
        if text.len() < HEADER_LEN || text[0] != DATA {
            return None;
        }
        Some(Stamp {
            publisher: u16::try_from(hex(&text[1..5])?).ok()?,
            seq: hex(&text[5..17])?,
            sent_ns: hex(&text[17..33])?,
        })
    }
}

/// Lowercase hex digits to a number; `None` on anything else.
fn hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &c| {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u64::from(digit))
    })
}

/// The text of a `ServerFrame::Msg` body, borrowed from the body; `None` for any other frame.
///
/// Reads the fields in the frame's own layout (`from`, `text`, `at`) with the protocol's
/// bincode options, so it cannot drift from what `chat_proto::codec::encode` writes
/// without the round-trip test below failing.
pub fn msg_text(body: &[u8]) -> Option<&[u8]> {
    let (&tag, fields) = body.split_first()?;
    if tag != MSG_TAG {
        return None;
    }
    use bincode::Options;
    let (_from, text, _at): (&[u8], &[u8], i64) =
        bincode_options(fields.len()).deserialize(fields).ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_proto::codec::encode;
    use chat_proto::ServerFrame;

    /// The text a publisher sends is the text a receiver reads back, stamp included, and
    /// it is exactly the requested size.
    #[test]
    fn a_stamp_survives_the_server_frame_it_is_broadcast_in() {
        let stamp = Stamp {
            publisher: 3,
            seq: 0x2a,
            sent_ns: 0x1234_5678_9abc,
        };
        let ClientFrame::Msg { text } = stamp.frame(64) else {
            panic!("a message frame")
        };
        assert_eq!(text.len(), 64);
        chat_proto::validate::message(&text).unwrap();
        let broadcast = encode(&ServerFrame::Msg {
            from: "bench-p3".into(),
            text: text.clone(),
            at: 1_779_000_000_000,
        })
        .unwrap();
        let read = msg_text(broadcast.body()).unwrap();
        assert_eq!(read, text.as_bytes());
        assert_eq!(Stamp::parse(read), Some(stamp));
    }

    /// Every other frame is passed over, and chat text that merely looks similar is not
    /// taken for a stamp.
    #[test]
    fn other_frames_and_texts_are_not_stamps() {
        let frames = [
            ServerFrame::Welcome {
                version: 1,
                username: "x".into(),
                online: 1,
            },
            ServerFrame::System {
                text: "d0003 joined".into(),
                at: 1,
            },
            ServerFrame::Pong,
            ServerFrame::Ping,
        ];
        for frame in frames {
            assert_eq!(msg_text(encode(&frame).unwrap().body()), None, "{frame:?}");
        }
        assert_eq!(Stamp::parse(b"hello"), None);
        let not_hex = format!("d{}", "x".repeat(HEADER_LEN - 1));
        assert_eq!(Stamp::parse(not_hex.as_bytes()), None);
        assert_eq!(Stamp::parse(b"d0001"), None);
    }
}

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
//! The sequence number counts one publisher's messages to one room: a receiver is in one
//! room, so it expects `0, 1, 2, ...` from each publisher.
//!
//! Printable ASCII, so it passes the server's message rules unchanged. Receivers read it
//! straight out of the frame body ([`msg_room_text`]) without building a `ServerFrame`: a
//! thousand receivers each decoding every message into owned strings would measure the
//! benchmark, not the server. Publishers write it into a frame encoded once per room
//! ([`MsgTemplate`]), so sending costs a copy and 32 digits a message.

use chat_proto::codec::{bincode_options, encode};
use chat_proto::{ClientFrame, CodecError};

/// Bytes in the fixed part of a message text; the smallest `--size`.
pub const HEADER_LEN: usize = 1 + 4 + 12 + 16;

/// The first byte of a measured message.
const DATA: u8 = b'd';

/// `ServerFrame::Msg`'s variant index as bincode writes it: a one-byte varint.
pub(super) const MSG_TAG: u8 = 1;

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
    /// The `ClientFrame::Msg` to `room` carrying this stamp, padded to `size` bytes of
    /// text (at least [`HEADER_LEN`]).
    pub fn frame(&self, room: &str, size: usize) -> ClientFrame {
        ClientFrame::Msg {
            room: room.to_owned(),
            text: self.text(size),
        }
    }

    /// The message text carrying this stamp, padded to `size` bytes (at least
    /// [`HEADER_LEN`]): what [`Stamp::frame`] sends, and what another protocol's publish
    /// carries as its payload.
    pub fn text(&self, size: usize) -> String {
        let mut text = format!(
            "{}{:04x}{:012x}{:016x}",
            DATA as char, self.publisher, self.seq, self.sent_ns
        );
        let len = size.max(HEADER_LEN);
        text.extend(std::iter::repeat_n('.', len - text.len()));
        text
    }

    /// The stamp's 32 digits (publisher, sequence, send time), as [`Stamp::frame`] writes
    /// them after the kind byte.
    fn write_digits(&self, out: &mut [u8; HEADER_LEN - 1]) {
        let (publisher, rest) = out.split_at_mut(4);
        let (seq, sent) = rest.split_at_mut(12);
        put_hex(publisher, u64::from(self.publisher));
        put_hex(seq, self.seq);
        put_hex(sent, self.sent_ns);
    }

    /// The stamp in a message text; `None` for a message that is not a benchmark's.
    pub fn parse(text: &[u8]) -> Option<Stamp> {
        if text.len() < HEADER_LEN || text[0] != DATA {
            return None;
        }
        // Publisher and sequence are sixteen digits together: the top four are the publisher.
        let ids = hex16(text[1..17].try_into().ok()?)?;
        Some(Stamp {
            publisher: (ids >> 48) as u16,
            seq: ids & 0xffff_ffff_ffff,
            sent_ns: hex16(text[17..33].try_into().ok()?)?,
        })
    }
}

/// `value` as lowercase hex digits filling `out`, most significant first (the low
/// `out.len()` digits of it).
fn put_hex(out: &mut [u8], mut value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for digit in out.iter_mut().rev() {
        *digit = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

/// A publisher's message to one room, encoded once: each message sent is a copy with the
/// stamp written into it, instead of a new text and a new encoding.
#[derive(Debug, Clone)]
pub struct MsgTemplate {
    /// The whole frame, prefix included, with a zero stamp.
    wire: Vec<u8>,
    /// Where the stamp's digits start in `wire`.
    digits_at: usize,
}

impl MsgTemplate {
    /// The frame [`Stamp::frame`] makes for `room` and `size`.
    pub fn new(room: &str, size: usize) -> Result<MsgTemplate, CodecError> {
        let zero = Stamp {
            publisher: 0,
            seq: 0,
            sent_ns: 0,
        };
        let wire = encode(&zero.frame(room, size))?.as_bytes().to_vec();
        // The text is the frame's last field, so it ends the wire bytes; the digits follow
        // its kind byte.
        let digits_at = wire.len() - size.max(HEADER_LEN) + 1;
        debug_assert_eq!(wire[digits_at - 1], DATA);
        Ok(MsgTemplate { wire, digits_at })
    }

    /// A template for another wire form of a stamped message: `wire` holds the text of a
    /// zero stamp ([`Stamp::text`]) starting at `text_at`, such as NATS's `PUB` line and
    /// payload.
    pub fn from_wire(wire: Vec<u8>, text_at: usize) -> MsgTemplate {
        debug_assert_eq!(wire[text_at], DATA);
        MsgTemplate {
            wire,
            digits_at: text_at + 1,
        }
    }

    /// Appends the frame carrying `stamp` to `out`.
    pub fn write(&self, stamp: &Stamp, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.wire);
        let at = start + self.digits_at;
        let digits: &mut [u8; HEADER_LEN - 1] = (&mut out[at..at + HEADER_LEN - 1])
            .try_into()
            .expect("the slice has the stamp's length");
        stamp.write_digits(digits);
    }
}

/// Sixteen lowercase hex digits to a number; `None` on anything else.
///
/// Eight digits at a time in one `u64` rather than a loop per digit: a thousand receivers
/// read two of these for every message they count.
fn hex16(digits: &[u8; 16]) -> Option<u64> {
    let (high, low) = digits.split_at(8);
    let high = hex8(u64::from_be_bytes(high.try_into().ok()?))?;
    let low = hex8(u64::from_be_bytes(low.try_into().ok()?))?;
    Some(u64::from(high) << 32 | u64::from(low))
}

/// Eight lowercase hex digits, one per byte of `ascii` (first digit in the top byte).
fn hex8(ascii: u64) -> Option<u32> {
    const LOW: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // '0'..'9' are 0x30..0x39 and 'a'..'f' are 0x61..0x66: the low nibble, plus 9 for letters.
    let letters = (ascii & 0x4040_4040_4040_4040) >> 6;
    let nibbles = (ascii & LOW) + letters * 9;
    // Valid only if every byte is a digit whose encoding gives back the byte it came from.
    let over_nine = ((nibbles + 0x7676_7676_7676_7676) & 0x8080_8080_8080_8080) >> 7;
    let encoded = nibbles + 0x30 * ONES + over_nine * 0x27;
    if nibbles & !LOW != 0 || encoded != ascii {
        return None;
    }
    // Pack the eight nibbles: pairs into bytes, bytes into halves, halves into the word.
    let bytes = (nibbles | nibbles >> 4) & 0x00ff_00ff_00ff_00ff;
    let halves = (bytes | bytes >> 8) & 0x0000_ffff_0000_ffff;
    Some(((halves | halves >> 16) & 0xffff_ffff) as u32)
}

/// The room and the text of a `ServerFrame::Msg` body, borrowed from the body; `None` for
/// any other frame.
///
/// Reads the fields in the frame's own layout (`room`, `from`, `text`, `at`, `seq`) with the
/// protocol's bincode options, so it cannot drift from what `chat_proto::codec::encode`
/// writes without the round-trip test below failing.
pub fn msg_room_text(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tag, fields) = body.split_first()?;
    if tag != MSG_TAG {
        return None;
    }
    // Rooms, names and benchmark texts are short: a length under 251 is one varint byte.
    if let [room_len @ 0..=250, rest @ ..] = fields {
        let (room, rest) = rest.split_at_checked(usize::from(*room_len))?;
        if let [from_len @ 0..=250, rest @ ..] = rest {
            if let [text_len @ 0..=250, rest @ ..] = rest.get(usize::from(*from_len)..)? {
                return Some((room, rest.get(..usize::from(*text_len))?));
            }
        }
    }
    use bincode::Options;
    let (room, _from, text, _at, _seq): (&[u8], &[u8], &[u8], i64, u64) =
        bincode_options(fields.len()).deserialize(fields).ok()?;
    Some((room, text))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let ClientFrame::Msg { room, text } = stamp.frame("bench-7", 64) else {
            panic!("a message frame")
        };
        assert_eq!(room, "bench-7");
        assert_eq!(text.len(), 64);
        chat_proto::validate::message(&text).unwrap();
        let broadcast = encode(&ServerFrame::Msg {
            room,
            from: "bench-p3".into(),
            text: text.clone(),
            at: 1_779_000_000_000,
            seq: 301,
        })
        .unwrap();
        let (read_room, read) = msg_room_text(broadcast.body()).unwrap();
        assert_eq!(read_room, b"bench-7");
        assert_eq!(read, text.as_bytes());
        assert_eq!(Stamp::parse(read), Some(stamp));
    }

    /// A template with a stamp written in is byte for byte the frame encoded from scratch,
    /// for short and long rooms and texts.
    #[test]
    fn a_template_writes_the_frame_encode_writes() {
        let stamps = [
            Stamp {
                publisher: 0,
                seq: 0,
                sent_ns: 0,
            },
            Stamp {
                publisher: 0xbeef,
                seq: 0x0123_4567_89ab,
                sent_ns: u64::MAX,
            },
        ];
        for (room, size) in [("lobby", 33), ("b-999", 64), (&*"r".repeat(32), 300)] {
            let template = MsgTemplate::new(room, size).unwrap();
            for stamp in stamps {
                let mut out = vec![7];
                template.write(&stamp, &mut out);
                let expected = encode(&stamp.frame(room, size)).unwrap();
                assert_eq!(&out[1..], &expected.as_bytes()[..], "{room} {size}");
            }
        }
    }

    /// The short-length shortcut and the general decoder read the same text.
    #[test]
    fn long_and_short_texts_are_read_alike() {
        for len in [40, 250, 251, 300, 1000] {
            let text = "y".repeat(len);
            let frame = encode(&ServerFrame::Msg {
                room: "r".repeat(32),
                from: "z".repeat(32),
                text: text.clone(),
                at: -5,
                seq: u64::MAX,
            })
            .unwrap();
            assert_eq!(
                msg_room_text(frame.body()),
                Some((&*"r".repeat(32).into_bytes(), text.as_bytes())),
                "{len}"
            );
        }
    }

    /// Hex fields decode to the number written, and any other byte is refused.
    #[test]
    fn hex_fields_round_trip_and_refuse_other_bytes() {
        let digits = |text: String| -> [u8; 16] { text.as_bytes().try_into().unwrap() };
        for n in [0u64, 1, 0xa, 0xdead_beef, 0x0123_4567_89ab_cdef, u64::MAX] {
            assert_eq!(hex16(&digits(format!("{n:016x}"))), Some(n));
        }
        for bad in [b'g', b'G', b'/', b':', b'`', b'F', b' ', 0x7f, 0xe1] {
            for at in [0, 7, 8, 15] {
                let mut text = digits("0".repeat(16));
                text[at] = bad;
                assert_eq!(hex16(&text), None, "{bad:#x} at {at}");
            }
        }
    }

    /// Every other frame is passed over, and chat text that merely looks similar is not
    /// taken for a stamp.
    #[test]
    fn other_frames_and_texts_are_not_stamps() {
        let frames = [
            ServerFrame::Welcome {
                version: 3,
                username: "x".into(),
                online: 1,
                buffsize: 1024,
                rooms_per_user: 50,
                history: 500,
            },
            ServerFrame::System {
                text: "d0003 joined".into(),
                at: 1,
            },
            ServerFrame::UserJoined {
                room: "lobby".into(),
                user: "d0003".into(),
                at: 1,
            },
            ServerFrame::Joined {
                room: "lobby".into(),
                members: vec!["d0003".into()],
            },
            ServerFrame::Pong,
            ServerFrame::Ping,
        ];
        for frame in frames {
            assert_eq!(
                msg_room_text(encode(&frame).unwrap().body()),
                None,
                "{frame:?}"
            );
        }
        assert_eq!(Stamp::parse(b"hello"), None);
        let not_hex = format!("d{}", "x".repeat(HEADER_LEN - 1));
        assert_eq!(Stamp::parse(not_hex.as_bytes()), None);
        assert_eq!(Stamp::parse(b"d0001"), None);
    }
}

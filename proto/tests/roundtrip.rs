//! Encode → decode round trips for every frame of both directions.

mod common;

use chat_proto::codec::{self, decode_body, CLIENT_MAX_FRAME, PREFIX_LEN};
use chat_proto::validate::{MAX_NAME_LEN, MAX_ROOM_LEN};
use chat_proto::{ErrorKind, LeftReason, RoomSummary, ServerFrame};
use common::{client_frame, every_unit_variant, outcomes, server_frame, Outcome, SERVER_MAX_FRAME};
use proptest::prelude::*;

/// Decodes one encoded frame through the streaming decoder, the way a connection reads it.
fn decode_one<T: serde::de::DeserializeOwned>(wire: &[u8], max_frame: usize) -> Vec<Outcome<T>> {
    outcomes(vec![wire], max_frame)
}

proptest! {
    /// Every client frame, with any Unicode text, decodes back to itself under the tightest
    /// limit it fits (its own body length) and under the server's default limit when it fits.
    #[test]
    fn client_frames_round_trip(frame in client_frame(2 * SERVER_MAX_FRAME)) {
        let wire = codec::encode(&frame).unwrap();
        let len = wire.body().len();
        prop_assert_eq!(decode_one(wire.as_bytes(), len), vec![Outcome::Frame(frame.clone())]);
        if len <= SERVER_MAX_FRAME {
            prop_assert_eq!(
                decode_one(wire.as_bytes(), SERVER_MAX_FRAME),
                vec![Outcome::Frame(frame)]
            );
        }
    }

    /// Every server frame, with any Unicode text and sizes up to the client's limit, decodes
    /// back to itself under its own body length and under `CLIENT_MAX_FRAME`.
    #[test]
    fn server_frames_round_trip(frame in server_frame(CLIENT_MAX_FRAME / 3)) {
        let wire = codec::encode(&frame).unwrap();
        let len = wire.body().len();
        prop_assert_eq!(decode_one(wire.as_bytes(), len), vec![Outcome::Frame(frame.clone())]);
        if len <= CLIENT_MAX_FRAME {
            prop_assert_eq!(
                decode_one(wire.as_bytes(), CLIENT_MAX_FRAME),
                vec![Outcome::Frame(frame)]
            );
        }
    }

    /// The wire form is a big-endian prefix holding `body_len`, then the body, and
    /// `decode_body` reads the body alone.
    #[test]
    fn the_prefix_states_the_body_length(frame in server_frame(4_096)) {
        let wire = codec::encode(&frame).unwrap();
        let bytes = wire.as_bytes();
        let prefix = u32::from_be_bytes(bytes[..PREFIX_LEN].try_into().unwrap());
        prop_assert_eq!(u64::from(prefix), codec::body_len(&frame));
        prop_assert_eq!(wire.len(), PREFIX_LEN + prefix as usize);
        prop_assert_eq!(wire.body(), &bytes[PREFIX_LEN..]);
        prop_assert_eq!(decode_body::<ServerFrame>(wire.body()).unwrap(), frame);
    }

    /// A frame is accepted exactly when its body fits the limit; one byte over, the reader
    /// refuses it with the body's true length and the limit in force.
    #[test]
    fn the_limit_is_exact(frame in client_frame(SERVER_MAX_FRAME), delta in -3i64..=3) {
        let wire = codec::encode(&frame).unwrap();
        let len = wire.body().len();
        let Ok(max) = usize::try_from(len as i64 + delta) else {
            return Ok(());
        };
        let expected = if len <= max {
            Outcome::Frame(frame)
        } else {
            Outcome::TooLarge { len: len as u64, max }
        };
        prop_assert_eq!(decode_one(wire.as_bytes(), max), vec![expected]);
    }
}

/// The client's limit is there so that a full room's `UserList` always arrives: 10,000 names
/// of the longest allowed length fit in `CLIENT_MAX_FRAME` and come back intact.
#[test]
fn a_user_list_of_ten_thousand_longest_names_fits_the_client_limit() {
    let users: Vec<String> = (0..10_000)
        .map(|i| format!("{i:0>width$}", width = MAX_NAME_LEN))
        .collect();
    let frame = ServerFrame::UserList { users };
    let wire = codec::encode(&frame).unwrap();
    assert!(wire.body().len() <= CLIENT_MAX_FRAME, "{}", wire.len());
    assert_eq!(
        decode_one(wire.as_bytes(), CLIENT_MAX_FRAME),
        vec![Outcome::Frame(frame)]
    );
}

/// A `RoomList` at the default `max_rooms` (10,000), every name of the longest allowed length
/// and every count at its widest varint, fits in `CLIENT_MAX_FRAME` and comes back intact.
#[test]
fn a_room_list_of_ten_thousand_longest_names_fits_the_client_limit() {
    let rooms: Vec<RoomSummary> = (0..10_000)
        .map(|i| RoomSummary {
            name: format!("{i:0>width$}", width = MAX_ROOM_LEN),
            members: u32::MAX,
        })
        .collect();
    let frame = ServerFrame::RoomList { rooms };
    let wire = codec::encode(&frame).unwrap();
    assert!(wire.body().len() <= CLIENT_MAX_FRAME, "{}", wire.len());
    assert_eq!(
        decode_one(wire.as_bytes(), CLIENT_MAX_FRAME),
        vec![Outcome::Frame(frame)]
    );
}

/// The wire knows 48 error kinds and 10 leave reasons, at indices 0.. in declaration order,
/// each with its own stable name; the five room errors (17–21), the two history errors
/// (22, 23) and the cluster's (24) leave the connection open; of the account errors
/// (25–32) only a wrong password and an ended session close it; of moderation's (33–43)
/// only the removal, a server ban and a suspension do; message events' and search's (44–47) none.
#[test]
fn error_kinds_and_leave_reasons_have_stable_indices_and_names() {
    let kinds = every_unit_variant::<ErrorKind>();
    assert_eq!(kinds.len(), 48);
    assert_eq!(kinds[0], ErrorKind::BadFrame);
    assert_eq!(kinds[16], ErrorKind::Flooding);
    assert_eq!(
        kinds[17..],
        [
            ErrorKind::NotInRoom,
            ErrorKind::InvalidRoom,
            ErrorKind::TooManyRooms,
            ErrorKind::RoomsFull,
            ErrorKind::NoSuchRoom,
            ErrorKind::HistoryOff,
            ErrorKind::StoreFailed,
            ErrorKind::ClusterUnavailable,
            ErrorKind::NameRegistered,
            ErrorKind::WrongPassword,
            ErrorKind::SessionEnded,
            ErrorKind::WeakPassword,
            ErrorKind::RegistrationClosed,
            ErrorKind::GuestsOff,
            ErrorKind::NotSignedIn,
            ErrorKind::AccountsOff,
            ErrorKind::NotPermitted,
            ErrorKind::Removed,
            ErrorKind::Banned,
            ErrorKind::BannedFromRoom,
            ErrorKind::Muted,
            ErrorKind::NoSuchMessage,
            ErrorKind::RoomClaimed,
            ErrorKind::RegisteredOnly,
            ErrorKind::SlowMode,
            ErrorKind::Suspended,
            ErrorKind::InvalidAction,
            ErrorKind::InvalidEmoji,
            ErrorKind::TooManyReactions,
            ErrorKind::EditWindowPassed,
            ErrorKind::InvalidSearch,
        ]
    );
    assert!(kinds[17..25].iter().all(|k| !k.is_fatal()));
    let fatal: Vec<ErrorKind> = kinds[25..]
        .iter()
        .copied()
        .filter(|k| k.is_fatal())
        .collect();
    assert_eq!(
        fatal,
        [
            ErrorKind::WrongPassword,
            ErrorKind::SessionEnded,
            ErrorKind::Removed,
            ErrorKind::Banned,
            ErrorKind::Suspended,
        ]
    );
    let names: std::collections::BTreeSet<&str> = kinds.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), kinds.len(), "two kinds share a name");

    let reasons = every_unit_variant::<LeftReason>();
    assert_eq!(
        reasons,
        [
            LeftReason::Parted,
            LeftReason::Quit,
            LeftReason::Disconnected,
            LeftReason::TimedOut,
            LeftReason::SlowConsumer,
            LeftReason::Refused,
            LeftReason::NodeLost,
            LeftReason::Removed,
            LeftReason::Kicked,
            LeftReason::Banned,
        ]
    );
    let names: std::collections::BTreeSet<&str> = reasons.iter().map(|r| r.as_str()).collect();
    assert_eq!(names.len(), reasons.len(), "two reasons share a name");
}

//! Named strategies and helpers shared by the property suites.
//!
//! Each suite uses only part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use chat_proto::codec::{self, decode_body, CodecError, CLIENT_MAX_FRAME};
use chat_proto::input::Input;
use chat_proto::moderation::{
    AuditEntry, Ban, BanTarget, Mute, RoomAction, RoomChange, RoomInfo, ServerAction,
};
use chat_proto::search::{Hit, Mark, SearchCursor};
use chat_proto::validate::{MAX_NAME_LEN, MAX_ROOM_LEN};
use chat_proto::{
    Backlog, ClientFrame, Connection, Credential, Cursor, DeviceSession, ErrorKind, FrameReader,
    LeftReason, Past, Revocation, RoomSummary, Secret, ServerFrame, SessionToken,
};
use chat_proto::{PastKind, Reaction};
use proptest::prelude::*;
use proptest::sample::Index;
use tokio::io::AsyncWriteExt;

/// The server's default `buffsize`: the limit client frames meet in practice.
pub const SERVER_MAX_FRAME: usize = 1024;

/// Any Unicode text of up to `max_chars` characters, control characters and all: the wire
/// carries whatever a peer sends, validation is a separate layer.
pub fn unicode_text(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..=max_chars).prop_map(String::from_iter)
}

/// A piece of Unicode text repeated until it is up to `max_bytes` long: cheap large strings,
/// so frames reach the client's 1 MiB limit without generating a million characters.
pub fn large_text(max_bytes: usize) -> impl Strategy<Value = String> {
    (unicode_text(8), 0..=max_bytes).prop_map(|(unit, target)| {
        let unit = if unit.is_empty() {
            "x".to_owned()
        } else {
            unit
        };
        let mut text = unit.repeat(target / unit.len() + 1);
        let mut end = target.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text
    })
}

/// Text of every size class: mostly chat-sized, sometimes kilobytes, now and then up to
/// `max_bytes`.
pub fn sized_text(max_bytes: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => unicode_text(64),
        3 => unicode_text(2_000),
        1 => large_text(max_bytes),
    ]
}

/// Timestamps anywhere in `i64`: the varint encoding has a different length per range.
pub fn millis() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), 0i64..=4_102_444_800_000]
}

/// Every value of a field-less enum, read back from the wire by variant index (0, 1, ...
/// until the first index that decodes to nothing).
pub fn every_unit_variant<T: serde::de::DeserializeOwned>() -> Vec<T> {
    (0u8..=250)
        .map_while(|i| decode_body::<T>(&[i]).ok())
        .collect()
}

/// Every [`ErrorKind`], read back from the wire by variant index so that a variant added
/// later is generated without touching this file.
pub fn error_kind() -> impl Strategy<Value = ErrorKind> {
    prop::sample::select(every_unit_variant::<ErrorKind>())
}

/// Every [`LeftReason`], found the same way as [`error_kind`].
pub fn left_reason() -> impl Strategy<Value = LeftReason> {
    prop::sample::select(every_unit_variant::<LeftReason>())
}

/// One line of a `RoomList`: any name (the wire carries any text) and any count, the count's
/// varint of every length.
pub fn room_summary(name: BoxedStrategy<String>) -> impl Strategy<Value = RoomSummary> {
    (name, prop_oneof![0u32..=300, any::<u32>()])
        .prop_map(|(name, members)| RoomSummary { name, members })
}

/// A `RoomList`'s rooms: usually a handful, sometimes up to `max`.
pub fn room_list(max: usize) -> impl Strategy<Value = Vec<RoomSummary>> {
    let name = || unicode_text(MAX_ROOM_LEN + 1).boxed();
    prop_oneof![
        3 => prop::collection::vec(room_summary(name()), 0..16),
        1 => prop::collection::vec(room_summary(name()), 0..=max),
    ]
}

/// Any client frame, with text up to `max_bytes` in each string.
pub fn client_frame(max_bytes: usize) -> impl Strategy<Value = ClientFrame> {
    client_frame_with(sized_text(max_bytes).boxed())
}

/// Any client frame, its strings drawn from `text`.
pub fn client_frame_with(text: BoxedStrategy<String>) -> impl Strategy<Value = ClientFrame> {
    prop_oneof![
        (any::<u32>(), text.clone(), prop::option::of(text.clone())).prop_map(
            |(version, username, password)| ClientFrame::Hello {
                version,
                username,
                password
            }
        ),
        (text.clone(), text.clone()).prop_map(|(room, text)| ClientFrame::Msg { room, text }),
        (text.clone(), text.clone()).prop_map(|(to, text)| ClientFrame::Whisper { to, text }),
        Just(ClientFrame::ListUsers),
        Just(ClientFrame::Ping),
        Just(ClientFrame::Pong),
        Just(ClientFrame::Bye),
        (text.clone(), backlog()).prop_map(|(room, backlog)| ClientFrame::Join { room, backlog }),
        text.clone().prop_map(|room| ClientFrame::Part { room }),
        Just(ClientFrame::ListRooms),
        text.clone()
            .prop_map(|room| ClientFrame::ListMembers { room }),
        (text.clone(), cursor(), any::<u32>())
            .prop_map(|(room, from, limit)| { ClientFrame::History { room, from, limit } }),
        (
            any::<u32>(),
            text.clone(),
            prop::option::of(text.clone()),
            credential(text.clone()),
            any::<bool>()
        )
            .prop_map(|(version, username, server_password, credential, online)| {
                ClientFrame::SignIn {
                    version,
                    username,
                    server_password,
                    credential,
                    online,
                }
            }),
        (
            any::<u32>(),
            text.clone(),
            prop::option::of(text.clone()),
            text.clone(),
            text.clone()
        )
            .prop_map(|(version, username, server_password, password, device)| {
                ClientFrame::Register {
                    version,
                    username,
                    server_password,
                    password: Secret::new(password),
                    device,
                }
            }),
        (text.clone(), text.clone()).prop_map(|(old, new)| ClientFrame::ChangePassword {
            old: Secret::new(old),
            new: Secret::new(new),
        }),
        Just(ClientFrame::ListSessions),
        revocation().prop_map(|which| ClientFrame::Revoke { which }),
        text.clone()
            .prop_map(|password| ClientFrame::DeleteAccount {
                password: Secret::new(password)
            }),
        (text.clone(), text.clone())
            .prop_map(|(user, reason)| ClientFrame::Disconnect { user, reason }),
        text.clone().prop_map(|room| ClientFrame::Claim { room }),
        (text.clone(), room_action(text.clone()))
            .prop_map(|(room, action)| ClientFrame::Moderate { room, action }),
        (text.clone(), any::<u64>())
            .prop_map(|(room, seq)| ClientFrame::RemoveMessage { room, seq }),
        server_action(text.clone()).prop_map(|action| ClientFrame::Operate { action }),
        text.clone().prop_map(|room| ClientFrame::RoomInfo { room }),
        (prop::option::of(text.clone()), any::<u32>())
            .prop_map(|(room, limit)| ClientFrame::ModLog { room, limit }),
        (text.clone(), any::<u64>(), text.clone())
            .prop_map(|(room, to, text)| ClientFrame::Reply { room, to, text }),
        (text.clone(), any::<u64>(), text.clone())
            .prop_map(|(room, seq, text)| ClientFrame::Edit { room, seq, text }),
        (text.clone(), any::<u64>(), text.clone(), any::<bool>()).prop_map(
            |(room, seq, emoji, on)| ClientFrame::React {
                room,
                seq,
                emoji,
                on
            }
        ),
        text.clone().prop_map(|room| ClientFrame::Typing { room }),
        (
            text.clone(),
            prop::option::of(text.clone()),
            prop::option::of(search_cursor(text)),
            any::<u32>()
        )
            .prop_map(|(query, room, before, limit)| ClientFrame::Search {
                query,
                room,
                before,
                limit
            }),
    ]
}

/// Any ban target, its strings drawn from `text`.
pub fn ban_target(text: BoxedStrategy<String>) -> impl Strategy<Value = BanTarget> {
    prop_oneof![
        text.clone().prop_map(BanTarget::Account),
        text.clone().prop_map(BanTarget::Name),
        text.prop_map(BanTarget::Address),
    ]
}

/// Any room action, its strings drawn from `text`.
pub fn room_action(text: BoxedStrategy<String>) -> impl Strategy<Value = RoomAction> {
    let secs = prop::option::of(any::<u64>());
    prop_oneof![
        (text.clone(), text.clone()).prop_map(|(user, reason)| RoomAction::Kick { user, reason }),
        (ban_target(text.clone()), secs.clone(), text.clone()).prop_map(
            |(target, for_secs, reason)| RoomAction::Ban {
                target,
                for_secs,
                reason
            }
        ),
        ban_target(text.clone()).prop_map(|target| RoomAction::Unban { target }),
        (text.clone(), secs, text.clone()).prop_map(|(user, for_secs, reason)| RoomAction::Mute {
            user,
            for_secs,
            reason
        }),
        text.clone().prop_map(|user| RoomAction::Unmute { user }),
        text.clone().prop_map(|user| RoomAction::Promote { user }),
        text.clone().prop_map(|user| RoomAction::Demote { user }),
        text.prop_map(|topic| RoomAction::Topic { topic }),
        any::<bool>().prop_map(|on| RoomAction::RegisteredOnly { on }),
        any::<u32>().prop_map(|secs| RoomAction::Slow { secs }),
    ]
}

/// Any server-wide action, its strings drawn from `text`.
pub fn server_action(text: BoxedStrategy<String>) -> impl Strategy<Value = ServerAction> {
    prop_oneof![
        (
            ban_target(text.clone()),
            prop::option::of(any::<u64>()),
            text.clone()
        )
            .prop_map(|(target, for_secs, reason)| ServerAction::Ban {
                target,
                for_secs,
                reason
            }),
        ban_target(text.clone()).prop_map(|target| ServerAction::Unban { target }),
        (text.clone(), text.clone())
            .prop_map(|(account, reason)| ServerAction::Suspend { account, reason }),
        text.prop_map(|account| ServerAction::Unsuspend { account }),
    ]
}

/// Any room change, its strings drawn from `text`.
pub fn room_change(text: BoxedStrategy<String>) -> impl Strategy<Value = RoomChange> {
    let until = prop::option::of(millis()).boxed();
    prop_oneof![
        Just(RoomChange::Claimed),
        (text.clone(), text.clone()).prop_map(|(user, reason)| RoomChange::Kicked { user, reason }),
        (ban_target(text.clone()), text.clone(), until.clone()).prop_map(
            |(target, reason, until)| RoomChange::Banned {
                target,
                reason,
                until
            }
        ),
        ban_target(text.clone()).prop_map(|target| RoomChange::Unbanned { target }),
        (text.clone(), text.clone(), until).prop_map(|(user, reason, until)| RoomChange::Muted {
            user,
            reason,
            until
        }),
        text.clone().prop_map(|user| RoomChange::Unmuted { user }),
        text.clone().prop_map(|user| RoomChange::Promoted { user }),
        text.clone().prop_map(|user| RoomChange::Demoted { user }),
        text.prop_map(|topic| RoomChange::Topic { topic }),
        any::<bool>().prop_map(|on| RoomChange::RegisteredOnly { on }),
        any::<u32>().prop_map(|secs| RoomChange::Slow { secs }),
    ]
}

/// Any room info, its strings drawn from `text`.
pub fn room_info(text: BoxedStrategy<String>) -> impl Strategy<Value = RoomInfo> {
    let until = prop::option::of(millis()).boxed();
    let ban = (
        ban_target(text.clone()),
        text.clone(),
        text.clone(),
        until.clone(),
    )
        .prop_map(|(target, by, reason, until)| Ban {
            target,
            by,
            reason,
            until,
        });
    let mute =
        (text.clone(), text.clone(), text.clone(), until).prop_map(|(user, by, reason, until)| {
            Mute {
                user,
                by,
                reason,
                until,
            }
        });
    (
        (
            text.clone(),
            prop::option::of(text.clone()),
            prop::collection::vec(text.clone(), 0..4),
        ),
        (text, any::<bool>(), any::<u32>()),
        (
            prop::collection::vec(ban, 0..4),
            prop::collection::vec(mute, 0..4),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (room, owner, moderators),
                (topic, registered_only, slow_secs),
                (bans, mutes, moderator),
            )| RoomInfo {
                room,
                owner,
                moderators,
                topic,
                registered_only,
                slow_secs,
                bans,
                mutes,
                moderator,
            },
        )
}

/// Any audit entry, its strings drawn from `text`.
pub fn audit_entry(text: BoxedStrategy<String>) -> impl Strategy<Value = AuditEntry> {
    (
        millis(),
        text.clone(),
        prop::option::of(text.clone()),
        text.clone(),
        text.clone(),
        text,
        prop::option::of(millis()),
    )
        .prop_map(
            |(at, actor, room, action, target, reason, until)| AuditEntry {
                at,
                actor,
                room,
                action,
                target,
                reason,
                until,
            },
        )
}

/// What a past entry can be, its strings drawn from `text`.
pub fn past_kind(text: BoxedStrategy<String>) -> impl Strategy<Value = PastKind> {
    prop_oneof![
        3 => Just(PastKind::Message),
        1 => text.clone().prop_map(|by| PastKind::Removed { by }),
        1 => any::<u64>().prop_map(|target| PastKind::Removal { target }),
        1 => any::<u64>().prop_map(|target| PastKind::Edit { target }),
        1 => (any::<u64>(), text.clone())
            .prop_map(|(target, emoji)| PastKind::React { target, emoji }),
        1 => (any::<u64>(), text).prop_map(|(target, emoji)| PastKind::Unreact { target, emoji }),
    ]
}

/// Any session token.
pub fn session_token() -> impl Strategy<Value = SessionToken> {
    any::<[u8; 32]>().prop_map(SessionToken::from_bytes)
}

/// Any credential a `SignIn` can carry, its strings drawn from `text`.
pub fn credential(text: BoxedStrategy<String>) -> impl Strategy<Value = Credential> {
    prop_oneof![
        (text.clone(), text).prop_map(|(password, device)| Credential::Password {
            password: Secret::new(password),
            device,
        }),
        session_token().prop_map(Credential::Token),
        Just(Credential::Cookie),
    ]
}

/// Any sessions a `Revoke` can name.
pub fn revocation() -> impl Strategy<Value = Revocation> {
    prop_oneof![
        Just(Revocation::This),
        Just(Revocation::Others),
        Just(Revocation::All),
        any::<u64>().prop_map(Revocation::One),
    ]
}

/// Any backlog a `Join` can ask for.
pub fn backlog() -> impl Strategy<Value = Backlog> {
    prop_oneof![
        Just(Backlog::None),
        any::<u32>().prop_map(Backlog::Latest),
        any::<u64>().prop_map(Backlog::After),
    ]
}

/// Any place a history page can start.
pub fn cursor() -> impl Strategy<Value = Cursor> {
    prop_oneof![
        Just(Cursor::Latest),
        any::<u64>().prop_map(Cursor::Before),
        any::<u64>().prop_map(Cursor::After),
    ]
}

/// Any entry of a room's log, its strings drawn from `text`.
pub fn past(text: BoxedStrategy<String>) -> BoxedStrategy<Past> {
    // Short strings: a page of a few hundred entries with long reactions would outgrow any
    // frame, as no server sends.
    let short = || unicode_text(MAX_NAME_LEN);
    let reaction = (short(), prop::collection::vec(short(), 0..4))
        .prop_map(|(emoji, by)| Reaction { emoji, by });
    (
        (any::<u64>(), text.clone(), text.clone(), millis()),
        past_kind(text),
        prop::option::of(any::<u64>()),
        prop::option::of(millis()),
        prop::collection::vec(reaction, 0..3),
    )
        .prop_map(
            |((seq, from, text, at), kind, reply_to, edited, reactions)| Past {
                seq,
                from,
                text,
                at,
                kind,
                reply_to,
                edited,
                reactions,
            },
        )
        .boxed()
}

/// Any search cursor, its room drawn from `text`.
pub fn search_cursor(text: BoxedStrategy<String>) -> impl Strategy<Value = SearchCursor> {
    (millis(), text, any::<u64>()).prop_map(|(at, room, seq)| SearchCursor { at, room, seq })
}

/// Any search hit, its strings drawn from `text`.
pub fn hit(text: BoxedStrategy<String>) -> impl Strategy<Value = Hit> {
    let mark = (any::<u32>(), any::<u32>()).prop_map(|(start, end)| Mark { start, end });
    (text.clone(), past(text), prop::collection::vec(mark, 0..4))
        .prop_map(|(room, entry, marks)| Hit { room, entry, marks })
}

/// Pages of past messages: usually a few, sometimes a few hundred, their strings from `text`.
pub fn past_messages(text: BoxedStrategy<String>) -> impl Strategy<Value = Vec<Past>> {
    let past = past(text);
    prop_oneof![
        3 => prop::collection::vec(past.clone(), 0..8),
        1 => prop::collection::vec(past, 0..=300),
    ]
}

/// Any server frame, with text up to `max_bytes` in each string and lists of up to a few
/// thousand names or rooms.
pub fn server_frame(max_bytes: usize) -> impl Strategy<Value = ServerFrame> {
    server_frame_with(
        sized_text(max_bytes).boxed(),
        user_list(3_000).boxed(),
        room_list(3_000).boxed(),
    )
}

/// Any server frame, its strings drawn from `text`, its name lists from `users` and its room
/// lists from `rooms`.
pub fn server_frame_with(
    text: BoxedStrategy<String>,
    users: BoxedStrategy<Vec<String>>,
    rooms: BoxedStrategy<Vec<RoomSummary>>,
) -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        (
            any::<u32>(),
            text.clone(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(
                |(version, username, online, buffsize, rooms_per_user, history)| {
                    ServerFrame::Welcome {
                        version,
                        username,
                        online,
                        buffsize,
                        rooms_per_user,
                        history,
                    }
                }
            ),
        (
            text.clone(),
            text.clone(),
            text.clone(),
            millis(),
            any::<u64>()
        )
            .prop_map(|(room, from, text, at, seq)| ServerFrame::Msg {
                room,
                from,
                text,
                at,
                seq,
            }),
        (text.clone(), text.clone(), text.clone(), millis())
            .prop_map(|(from, to, text, at)| ServerFrame::Whisper { from, to, text, at }),
        users
            .clone()
            .prop_map(|users| ServerFrame::UserList { users }),
        (text.clone(), millis()).prop_map(|(text, at)| ServerFrame::System { text, at }),
        (error_kind(), text.clone()).prop_map(|(kind, detail)| ServerFrame::Error { kind, detail }),
        Just(ServerFrame::Pong),
        Just(ServerFrame::Ping),
        (text.clone(), users.clone())
            .prop_map(|(room, members)| ServerFrame::Joined { room, members }),
        text.clone().prop_map(|room| ServerFrame::Parted { room }),
        rooms.prop_map(|rooms| ServerFrame::RoomList { rooms }),
        (text.clone(), users).prop_map(|(room, users)| ServerFrame::Members { room, users }),
        (text.clone(), text.clone(), millis())
            .prop_map(|(room, user, at)| ServerFrame::UserJoined { room, user, at }),
        (text.clone(), text.clone(), millis(), left_reason()).prop_map(
            |(room, user, at, reason)| ServerFrame::UserLeft {
                room,
                user,
                at,
                reason,
            }
        ),
        (
            text.clone(),
            past_messages(text.clone()),
            any::<bool>(),
            cursor(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(room, messages, more, next, backlog, missed)| {
                ServerFrame::History {
                    room,
                    messages,
                    more,
                    next,
                    backlog,
                    missed,
                }
            }),
        (any::<u64>(), prop::option::of(session_token()))
            .prop_map(|(session, token)| ServerFrame::SignedIn { session, token }),
        prop::collection::vec(
            (
                any::<u64>(),
                text.clone(),
                millis(),
                millis(),
                any::<bool>()
            )
                .prop_map(|(id, device, created, last_used, current)| DeviceSession {
                    id,
                    device,
                    created,
                    last_used,
                    current,
                }),
            0..8
        )
        .prop_map(|sessions| ServerFrame::Sessions { sessions }),
        any::<u32>().prop_map(|count| ServerFrame::Revoked { count }),
        any::<u32>().prop_map(|ended| ServerFrame::PasswordChanged { ended }),
        Just(ServerFrame::AccountDeleted),
        text.clone()
            .prop_map(|user| ServerFrame::Disconnected { user }),
        room_info(text.clone()).prop_map(|info| ServerFrame::RoomInfo { info }),
        (
            text.clone(),
            text.clone(),
            room_change(text.clone()),
            millis()
        )
            .prop_map(|(room, by, change, at)| ServerFrame::RoomChanged {
                room,
                by,
                change,
                at
            }),
        (
            text.clone(),
            any::<u64>(),
            any::<u64>(),
            text.clone(),
            millis()
        )
            .prop_map(|(room, seq, target, by, at)| ServerFrame::MessageRemoved {
                room,
                seq,
                target,
                by,
                at
            }),
        prop::collection::vec(audit_entry(text.clone()), 0..8)
            .prop_map(|entries| ServerFrame::ModLog { entries }),
        any::<u32>().prop_map(|closed| ServerFrame::Enforced { closed }),
        (text.clone(), past(text.clone()))
            .prop_map(|(room, entry)| ServerFrame::Event { room, entry }),
        (text.clone(), text.clone()).prop_map(|(room, user)| ServerFrame::Typing { room, user }),
        (
            text.clone(),
            prop::collection::vec(hit(text.clone()), 0..4),
            prop::option::of(search_cursor(text))
        )
            .prop_map(|(query, hits, next)| ServerFrame::SearchResults {
                query,
                hits,
                next
            }),
    ]
}

/// Lists of names as a `UserList` carries them: usually a handful, sometimes up to `max`.
pub fn user_list(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => prop::collection::vec(unicode_text(MAX_NAME_LEN), 0..16),
        1 => prop::collection::vec(unicode_text(MAX_NAME_LEN), 0..=max),
    ]
}

/// Text for frames inside a stream: chat-sized, now and then a few kilobytes, so that a
/// stream of dozens of frames stays quick to generate and to feed byte by byte.
pub fn stream_text() -> BoxedStrategy<String> {
    prop_oneof![8 => unicode_text(48), 1 => large_text(4_096)].boxed()
}

/// Several client frames in a row, small enough that a stream of them stays quick.
pub fn client_frames() -> impl Strategy<Value = Vec<ClientFrame>> {
    prop::collection::vec(client_frame_with(stream_text()), 0..40)
}

/// Server frames as they come in a stream: small text, lists of up to 200.
pub fn stream_server_frame() -> impl Strategy<Value = ServerFrame> {
    server_frame_with(
        stream_text(),
        user_list(200).boxed(),
        room_list(200).boxed(),
    )
}

/// Several server frames in a row.
pub fn server_frames() -> impl Strategy<Value = Vec<ServerFrame>> {
    prop::collection::vec(stream_server_frame(), 0..40)
}

/// Where to cut a byte stream: positions, as fractions of whatever length it turns out to have.
pub fn cut_points() -> impl Strategy<Value = Vec<Index>> {
    prop::collection::vec(any::<Index>(), 0..64)
}

/// Arbitrary bytes, from nothing to a few frames' worth.
pub fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..4_096),
    ]
}

/// A frame limit from tiny to the client's own.
pub fn frame_limit() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..=64,
        64usize..=SERVER_MAX_FRAME,
        Just(CLIENT_MAX_FRAME)
    ]
}

/// A name the validator accepts.
pub fn valid_username() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9_.-]{{1,{MAX_NAME_LEN}}}"))
        .expect("the name pattern is a valid regex")
}

/// A room name as [`chat_proto::validate::room`] returns it: 1 to 32 of `A-Z a-z 0-9 _ - .`,
/// no `#`.
pub fn valid_room() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9_.-]{{1,{MAX_ROOM_LEN}}}"))
        .expect("the room pattern is a valid regex")
}

/// A valid room as a person may type it: with or without one leading `#`.
pub fn typed_room() -> impl Strategy<Value = (String, String)> {
    (valid_room(), any::<bool>()).prop_map(|(room, hash)| {
        let typed = if hash {
            format!("#{room}")
        } else {
            room.clone()
        };
        (typed, room)
    })
}

/// The characters no message may hold, or may hold only between two visible characters,
/// as a regex class body: the direction controls and the zero-width characters. Left out of
/// the valid texts below, so that those stay valid wherever they are put.
const INVISIBLE: &str =
    "\\x{061C}\\x{200B}-\\x{200F}\\x{202A}-\\x{202E}\\x{2060}\\x{2066}-\\x{2069}\\x{FEFF}";

/// A message text the validator accepts: Unicode without control characters (tab allowed)
/// or the invisible characters of the text rules, not blank.
pub fn valid_message_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("([^\\p{{Cc}}{INVISIBLE}]|\t){{1,200}}"))
        .expect("the message pattern is a valid regex")
        .prop_filter("not blank", |t| !t.trim().is_empty())
}

/// A whisper's text as the parser yields it: a valid message that does not start with
/// whitespace (the parser eats the spaces between the name and the text).
pub fn valid_whisper_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(
        "[^\\p{{Cc}}\\s{INVISIBLE}]([^\\p{{Cc}}{INVISIBLE}]|\t){{0,199}}"
    ))
    .expect("the whisper pattern is a valid regex")
}

/// The characters that change the direction text is shown in: embeddings, overrides,
/// isolates and the three marks.
pub const DIRECTION_CONTROLS: [char; 12] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
];

/// The zero-width characters: space, non-joiner, joiner, word joiner, no-break space.
pub const ZERO_WIDTHS: [char; 5] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

/// One of [`DIRECTION_CONTROLS`].
pub fn direction_control() -> impl Strategy<Value = char> {
    prop::sample::select(DIRECTION_CONTROLS.to_vec())
}

/// One of [`ZERO_WIDTHS`].
pub fn zero_width() -> impl Strategy<Value = char> {
    prop::sample::select(ZERO_WIDTHS.to_vec())
}

/// Text near the edges of the message rules: letters of several scripts, emoji and the
/// marks that go with them (skin tone, variation selector, virama), spaces and tabs, the
/// direction controls and zero-width characters, now and then a control or any character.
pub fn message_like() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        8 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9'].into()),
        2 => prop::sample::select(vec!['ی', 'خ', 'ש', 'क', 'ष', 'ไ', '中', '!', '-', '.']),
        2 => prop::sample::select(vec!['👨', '👩', '💻', '🏳', '🌈', '\u{1F3FD}', '\u{FE0F}', '\u{94D}']),
        3 => prop::sample::select(vec![' ', ' ', '\t', '\u{A0}', '\u{3000}']),
        3 => direction_control(),
        5 => zero_width(),
        1 => prop::sample::select(vec!['\u{0}', '\n', '\u{1B}', '\u{7F}', '\u{85}']),
        1 => any::<char>(),
    ];
    prop::collection::vec(ch, 0..=24).prop_map(String::from_iter)
}

/// Every `Input` the parser can produce.
pub fn valid_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => valid_message_text().prop_map(|text| Input::Message { text }),
        2 => (valid_username(), valid_whisper_text())
            .prop_map(|(to, text)| Input::Whisper { to, text }),
        1 => Just(Input::ListUsers),
        1 => valid_room().prop_map(|room| Input::Join { room }),
        1 => prop::option::of(valid_room()).prop_map(|room| Input::Part { room }),
        1 => valid_room().prop_map(|room| Input::Switch { room }),
        1 => Just(Input::Rooms),
        1 => prop::option::of(valid_room()).prop_map(|room| Input::Members { room }),
        1 => prop::option::of(1u32..=100_000).prop_map(|count| Input::History { count }),
        1 => (valid_username(), "([a-z]{1,10}( [a-z]{1,10}){0,3})?")
            .prop_map(|(user, reason)| Input::Disconnect { user, reason }),
        1 => prop::option::of(valid_room()).prop_map(|room| Input::Claim { room }),
        1 => prop::option::of(valid_room()).prop_map(|room| Input::Info { room }),
        1 => prop::option::of(valid_room()).prop_map(|room| Input::ModLog { room }),
        1 => any::<u64>().prop_map(|seq| Input::Remove { seq }),
        1 => "[a-z]{3,8}( [a-z]{3,8}){0,3}".prop_map(|query| Input::Search { query }),
        1 => (any::<u64>(), valid_whisper_text()).prop_map(|(to, text)| Input::Reply { to, text }),
        1 => (any::<u64>(), valid_whisper_text()).prop_map(|(seq, text)| Input::Edit { seq, text }),
        1 => (any::<u64>(), prop::sample::select(vec!["👍", "👍🏽", "🎉", "❤️", "👨\u{200D}👩\u{200D}👧"]), any::<bool>())
            .prop_map(|(seq, emoji, on)| Input::React { seq, emoji: emoji.to_owned(), on }),
        3 => valid_room_action().prop_map(|action| Input::Moderate { action }),
        2 => valid_server_action().prop_map(|action| Input::Operate { action }),
        1 => Just(Input::Help),
        1 => Just(Input::Quit),
    ]
}

/// A reason as people type one: a few words, or none.
fn valid_reason() -> impl Strategy<Value = String> {
    "([a-z]{1,10}( [a-z]{1,10}){0,3})?"
}

/// A ban target the parser reads: an account, a name, an address or a network.
fn valid_target() -> impl Strategy<Value = BanTarget> {
    prop_oneof![
        valid_username().prop_map(BanTarget::Account),
        valid_username().prop_map(BanTarget::Name),
        prop::sample::select(vec!["192.0.2.7", "192.0.2.0/24", "2001:db8::/32", "::1"])
            .prop_map(|address| BanTarget::Address(address.to_owned())),
    ]
}

/// Any room action a moderator can type.
pub fn valid_room_action() -> impl Strategy<Value = RoomAction> {
    let secs = prop::option::of(1u64..=10_000_000);
    prop_oneof![
        (valid_username(), valid_reason())
            .prop_map(|(user, reason)| RoomAction::Kick { user, reason }),
        (valid_target(), secs.clone(), valid_reason()).prop_map(|(target, for_secs, reason)| {
            RoomAction::Ban {
                target,
                for_secs,
                reason,
            }
        }),
        valid_target().prop_map(|target| RoomAction::Unban { target }),
        (valid_username(), secs, valid_reason()).prop_map(|(user, for_secs, reason)| {
            RoomAction::Mute {
                user,
                for_secs,
                reason,
            }
        }),
        valid_username().prop_map(|user| RoomAction::Unmute { user }),
        valid_username().prop_map(|user| RoomAction::Promote { user }),
        valid_username().prop_map(|user| RoomAction::Demote { user }),
        "([A-Za-z]{1,10}( [a-z]{1,10}){0,3})?".prop_map(|topic| RoomAction::Topic { topic }),
        any::<bool>().prop_map(|on| RoomAction::RegisteredOnly { on }),
        any::<u32>().prop_map(|secs| RoomAction::Slow { secs }),
    ]
}

/// Any server-wide action an operator can type.
pub fn valid_server_action() -> impl Strategy<Value = ServerAction> {
    prop_oneof![
        (
            valid_target(),
            prop::option::of(1u64..=10_000_000),
            valid_reason()
        )
            .prop_map(|(target, for_secs, reason)| ServerAction::Ban {
                target,
                for_secs,
                reason
            }),
        valid_target().prop_map(|target| ServerAction::Unban { target }),
        (valid_username(), valid_reason())
            .prop_map(|(account, reason)| ServerAction::Suspend { account, reason }),
        valid_username().prop_map(|account| ServerAction::Unsuspend { account }),
    ]
}

/// Stops the build when an input is added, so that [`valid_input`] learns it.
pub fn every_input_is_generated(input: &Input) {
    match input {
        Input::Message { .. }
        | Input::Whisper { .. }
        | Input::ListUsers
        | Input::Join { .. }
        | Input::Part { .. }
        | Input::Switch { .. }
        | Input::Rooms
        | Input::Members { .. }
        | Input::History { .. }
        | Input::Disconnect { .. }
        | Input::Claim { .. }
        | Input::Info { .. }
        | Input::ModLog { .. }
        | Input::Remove { .. }
        | Input::Reply { .. }
        | Input::Edit { .. }
        | Input::React { .. }
        | Input::Search { .. }
        | Input::Moderate { .. }
        | Input::Operate { .. }
        | Input::Help
        | Input::Quit => {}
    }
}

/// `bytes` cut at `cuts`, in order, as a socket might deliver them (empty pieces included).
pub fn split_at<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for end in at {
        pieces.push(&bytes[start..end]);
        start = end;
    }
    pieces.push(&bytes[start..]);
    pieces
}

/// The frames encoded back to back, as one stream.
pub fn encode_all<T: serde::Serialize>(frames: &[T]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| {
            codec::encode(f)
                .expect("test frames are under the encoder's limit")
                .into_bytes()
        })
        .collect()
}

/// A length prefix for a body of `len` bytes.
pub fn prefix(len: usize) -> [u8; 4] {
    u32::try_from(len)
        .expect("test bodies are under 4 GiB")
        .to_be_bytes()
}

/// `body` behind its length prefix.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = prefix(body.len()).to_vec();
    out.extend_from_slice(body);
    out
}

/// One decoded item reduced to what two decoders must agree on, so results of different
/// decoders (and error types without `PartialEq`) can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// A frame.
    Frame(T),
    /// `FrameTooLarge` with its fields.
    TooLarge { len: u64, max: usize },
    /// `Truncated` with its field.
    Truncated { buffered: usize },
    /// `Malformed`, with bincode's reason.
    Malformed(String),
    /// A transport error: never expected from in-memory input.
    Io(String),
}

impl<T> From<Result<T, CodecError>> for Outcome<T> {
    fn from(item: Result<T, CodecError>) -> Self {
        match item {
            Ok(frame) => Outcome::Frame(frame),
            Err(CodecError::FrameTooLarge { len, max }) => Outcome::TooLarge { len, max },
            Err(CodecError::Truncated { buffered }) => Outcome::Truncated { buffered },
            Err(CodecError::Malformed(e)) => Outcome::Malformed(e.to_string()),
            Err(CodecError::Io(e)) => Outcome::Io(e.to_string()),
        }
    }
}

/// `decode_chunks`, reduced to outcomes.
pub fn outcomes<T: serde::de::DeserializeOwned>(
    chunks: Vec<&[u8]>,
    max_frame: usize,
) -> Vec<Outcome<T>> {
    codec::decode_chunks(chunks, max_frame)
        .into_iter()
        .map(Outcome::from)
        .collect()
}

/// A current-thread runtime for the suites that drive a real `Connection`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds")
}

/// Feeds `pieces` one by one into a pipe that holds at most `pipe_buf` bytes, and reads
/// `In` frames from the other end through a real [`Connection`] until it reports the end.
///
/// Every item is kept, including what comes after a fatal error, so that a test can check
/// that nothing does.
pub fn read_through_connection<In, Out>(
    pieces: &[&[u8]],
    pipe_buf: usize,
    max_frame: usize,
) -> Vec<Outcome<In>>
where
    In: serde::de::DeserializeOwned,
    Out: serde::Serialize,
{
    let (reader_end, writer_end) = tokio::io::duplex(pipe_buf);
    let read = async move {
        let mut conn = Connection::<_, In, Out>::new(reader_end, max_frame);
        collect(async || conn.read_frame().await).await
    };
    runtime().block_on(feed_while_reading(pieces, writer_end, read))
}

/// As [`read_through_connection`], but through a [`FrameReader`] on the read half alone, as
/// the server reads.
pub fn read_through_frame_reader<In>(
    pieces: &[&[u8]],
    pipe_buf: usize,
    max_frame: usize,
) -> Vec<Outcome<In>>
where
    In: serde::de::DeserializeOwned,
{
    let (reader_end, writer_end) = tokio::io::duplex(pipe_buf);
    let read = async move {
        let (read_half, _write_half) = tokio::io::split(reader_end);
        let mut reader = FrameReader::<_, In>::new(read_half, max_frame);
        collect(async || reader.read_frame().await).await
    };
    runtime().block_on(feed_while_reading(pieces, writer_end, read))
}

/// Reads until `Ok(None)`; a reader that keeps yielding past the end fails the test instead
/// of hanging it.
async fn collect<In>(
    mut next: impl AsyncFnMut() -> Result<Option<In>, CodecError>,
) -> Vec<Outcome<In>> {
    let mut out = Vec::new();
    loop {
        match next().await {
            Ok(None) => return out,
            Ok(Some(frame)) => out.push(Outcome::Frame(frame)),
            Err(e) => out.push(Outcome::from(Err::<In, _>(e))),
        }
        assert!(out.len() < 100_000, "the reader never reported the end");
    }
}

/// Writes `pieces` into `writer_end`, each flushed and followed by a yield so the reader sees
/// them separately, then closes it; meanwhile runs `read`. A reader that stops early drops its
/// end, which ends the writer with a broken pipe.
async fn feed_while_reading<R: std::future::Future>(
    pieces: &[&[u8]],
    mut writer_end: tokio::io::DuplexStream,
    read: R,
) -> R::Output {
    let write = async move {
        for piece in pieces {
            if writer_end.write_all(piece).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        let _ = writer_end.shutdown().await;
    };
    let ((), out) = tokio::join!(write, read);
    out
}

/// Stops the build when a client frame variant is added, so that [`client_frame`] learns it.
pub fn every_client_variant_is_generated(frame: &ClientFrame) {
    match frame {
        ClientFrame::Hello { .. }
        | ClientFrame::Msg { .. }
        | ClientFrame::Whisper { .. }
        | ClientFrame::ListUsers
        | ClientFrame::Ping
        | ClientFrame::Pong
        | ClientFrame::Bye
        | ClientFrame::Join { .. }
        | ClientFrame::Part { .. }
        | ClientFrame::ListRooms
        | ClientFrame::ListMembers { .. }
        | ClientFrame::History { .. }
        | ClientFrame::SignIn { .. }
        | ClientFrame::Register { .. }
        | ClientFrame::ChangePassword { .. }
        | ClientFrame::ListSessions
        | ClientFrame::Revoke { .. }
        | ClientFrame::DeleteAccount { .. }
        | ClientFrame::Disconnect { .. }
        | ClientFrame::Claim { .. }
        | ClientFrame::Moderate { .. }
        | ClientFrame::RemoveMessage { .. }
        | ClientFrame::Operate { .. }
        | ClientFrame::RoomInfo { .. }
        | ClientFrame::ModLog { .. }
        | ClientFrame::Reply { .. }
        | ClientFrame::Edit { .. }
        | ClientFrame::React { .. }
        | ClientFrame::Typing { .. }
        | ClientFrame::Search { .. } => {}
    }
}

/// Stops the build when a server frame variant is added, so that [`server_frame`] learns it.
pub fn every_server_variant_is_generated(frame: &ServerFrame) {
    match frame {
        ServerFrame::Welcome { .. }
        | ServerFrame::Msg { .. }
        | ServerFrame::Whisper { .. }
        | ServerFrame::UserList { .. }
        | ServerFrame::System { .. }
        | ServerFrame::Error { .. }
        | ServerFrame::Pong
        | ServerFrame::Ping
        | ServerFrame::Joined { .. }
        | ServerFrame::Parted { .. }
        | ServerFrame::RoomList { .. }
        | ServerFrame::Members { .. }
        | ServerFrame::UserJoined { .. }
        | ServerFrame::UserLeft { .. }
        | ServerFrame::History { .. }
        | ServerFrame::SignedIn { .. }
        | ServerFrame::Sessions { .. }
        | ServerFrame::Revoked { .. }
        | ServerFrame::PasswordChanged { .. }
        | ServerFrame::AccountDeleted
        | ServerFrame::Disconnected { .. }
        | ServerFrame::RoomInfo { .. }
        | ServerFrame::RoomChanged { .. }
        | ServerFrame::MessageRemoved { .. }
        | ServerFrame::ModLog { .. }
        | ServerFrame::Enforced { .. }
        | ServerFrame::Event { .. }
        | ServerFrame::Typing { .. }
        | ServerFrame::SearchResults { .. } => {}
    }
}

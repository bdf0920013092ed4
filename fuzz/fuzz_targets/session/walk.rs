//! One client's requests paired with the replies among what it received, each checked
//! against the protocol's rules, and its rooms followed from its own `Joined` and `Parted`.

use std::collections::BTreeMap;

use chat_proto::codec::CodecError;
use chat_proto::validate::{self, name_key, room_key};
use chat_proto::{
    Backlog, ClientFrame, Cursor, ErrorKind, LeftReason, ServerFrame, PROTOCOL_VERSION,
};

use super::model::{key_of, sorted, Seen, Stay, Walked};
use super::{Rules, WITNESS};

/// Pairs one client's requests with the replies among what it received, checking each
/// against the protocol's rules, and follows its rooms from its own `Joined` and `Parted`.
/// `watched`: the witness's rooms (key, name as shown) while the witness is in them all
/// throughout; `None` once it was dropped.
pub(crate) fn walk(seen: &Seen, rules: Rules, watched: Option<&[(String, &str)]>) -> Walked {
    let mut name: Option<String> = None;
    // key → the stay under way.
    let mut rooms: BTreeMap<String, Stay> = BTreeMap::new();
    let mut stays: Vec<Stay> = Vec::new();
    let mut next = 0;
    // Set once the connection is over on the server's side, with what its rooms were told
    // (`None`: nothing, or not known).
    let mut over: Option<Option<LeftReason>> = None;
    let is_watched = |key: &str| watched.is_some_and(|w| w.iter().any(|(k, _)| k == key));
    let shown_of =
        |key: &str| watched.and_then(|w| w.iter().find(|(k, _)| k == key).map(|(_, shown)| *shown));

    // The room whose (empty: this server keeps no history) backlog must come next: the
    // second half of the answer to a `Join` that asked for one.
    let mut backlog_of: Option<String> = None;
    for frame in &seen.frames {
        let me = name.as_deref();
        if let Some(shown) = backlog_of.take() {
            assert_eq!(
                *frame,
                ServerFrame::History {
                    room: shown,
                    messages: Vec::new(),
                    more: false,
                    next: Cursor::Latest,
                    backlog: true,
                    missed: false,
                },
                "{me:?}: the backlog right after Joined"
            );
            continue;
        }
        // Frames that answer no request.
        let event = match frame {
            ServerFrame::Ping => continue,
            ServerFrame::Error {
                kind: ErrorKind::Timeout,
                ..
            } => {
                over.get_or_insert(Some(LeftReason::TimedOut));
                continue;
            }
            ServerFrame::Error {
                kind: ErrorKind::SlowConsumer,
                ..
            } => {
                over.get_or_insert(Some(LeftReason::SlowConsumer));
                continue;
            }
            ServerFrame::System { .. } => panic!("a System frame without a shutdown: {frame:?}"),
            ServerFrame::Whisper { from, to, .. } if Some(from.as_str()) != me => {
                assert_eq!(
                    Some(to.as_str()),
                    me,
                    "a whisper for someone else: {frame:?}"
                );
                continue;
            }
            // Someone else typing: passed on to the room's members but the typer, so it is
            // no part of the room's one order, which every member sees alike.
            ServerFrame::Typing { room, user } if Some(user.as_str()) != me => {
                assert!(
                    rooms.contains_key(&room_key(room)),
                    "{me:?} was told of typing in a room it is not in: {frame:?}"
                );
                continue;
            }
            ServerFrame::Msg { room, from, .. } if Some(from.as_str()) != me => Some(room),
            ServerFrame::UserJoined { room, user, .. }
            | ServerFrame::UserLeft { room, user, .. } => {
                assert_ne!(Some(user.as_str()), me, "told of itself: {frame:?}");
                Some(room)
            }
            _ => None,
        };
        if let Some(room) = event {
            let Some(stay) = rooms.get_mut(&room_key(room)) else {
                panic!("{me:?} received {frame:?} for a room it is not in ({rooms:?})");
            };
            assert_eq!(
                *room, stay.shown,
                "a room's name changed while {me:?} was in it"
            );
            stay.hear(frame, me);
            continue;
        }

        // A reply: to the next request that gets one.
        let request = loop {
            assert!(
                over.is_none(),
                "{me:?} got {frame:?} after its connection was over"
            );
            let Some(request) = seen.requests.get(next) else {
                panic!("{me:?} got {frame:?}, which answers no request it sent");
            };
            next += 1;
            match request {
                Ok(ClientFrame::Pong) if me.is_some() => {}
                // Typing in a room one is in is answered by nothing.
                Ok(ClientFrame::Typing { room })
                    if me.is_some() && key_of(room).is_some_and(|k| rooms.contains_key(&k)) => {}
                Ok(ClientFrame::Bye) => {
                    over = Some(me.map(|_| LeftReason::Quit));
                }
                _ => break request,
            }
        };
        macro_rules! fail {
            () => {
                panic!(
                    "{me:?} got {frame:?} in answer to {request:?} (request {}); its rooms: \
                     {rooms:?}",
                    next - 1
                )
            };
        }
        let error = match frame {
            ServerFrame::Error { kind, .. } => Some(*kind),
            _ => None,
        };
        if rules.flood
            && error == Some(ErrorKind::RateLimited)
            && match request {
                Ok(frame) => chat_server::flood::is_metered(frame),
                Err(e) => matches!(e, CodecError::Malformed(_)),
            }
        {
            continue;
        }
        if rules.flood && error == Some(ErrorKind::Flooding) {
            over = Some(me.map(|_| LeftReason::Refused));
            continue;
        }
        let request = match request {
            Err(CodecError::Malformed(_)) if error == Some(ErrorKind::BadFrame) => continue,
            Err(CodecError::FrameTooLarge { .. }) if error == Some(ErrorKind::FrameTooLarge) => {
                over = Some(me.map(|_| LeftReason::Refused));
                continue;
            }
            Err(CodecError::Truncated { .. }) if error == Some(ErrorKind::BadFrame) => {
                over = Some(me.map(|_| LeftReason::Disconnected));
                continue;
            }
            Err(_) => fail!(),
            Ok(request) => request,
        };
        let Some(me) = me else {
            // Before the handshake only Hello and Bye mean anything.
            match (request, frame) {
                (
                    ClientFrame::Hello {
                        version, username, ..
                    },
                    _,
                ) if *version != PROTOCOL_VERSION => {
                    if error != Some(ErrorKind::VersionMismatch) {
                        fail!();
                    }
                    over = Some(None);
                }
                (ClientFrame::Hello { username, .. }, _)
                    if validate::username(username).is_err() =>
                {
                    if error != Some(ErrorKind::InvalidName) {
                        fail!();
                    }
                }
                (ClientFrame::Hello { .. }, _) if error == Some(ErrorKind::NameTaken) => {}
                (
                    ClientFrame::Hello { username, .. },
                    ServerFrame::Welcome {
                        version,
                        username: welcomed,
                        online,
                        buffsize,
                        rooms_per_user,
                        history,
                    },
                ) => {
                    if welcomed != username
                        || *version != PROTOCOL_VERSION
                        || *online < 1
                        || *buffsize as usize != rules.buffsize
                        || *rooms_per_user as usize != rules.rooms_per_user
                        || *history != 0
                    {
                        fail!();
                    }
                    name = Some(welcomed.clone());
                }
                (ClientFrame::Hello { .. }, _) => fail!(),
                // This server keeps no accounts: an account's handshake is refused after
                // the version check, and the connection goes on.
                (
                    ClientFrame::SignIn { version, .. } | ClientFrame::Register { version, .. },
                    _,
                ) if *version != PROTOCOL_VERSION => {
                    if error != Some(ErrorKind::VersionMismatch) {
                        fail!();
                    }
                    over = Some(None);
                }
                (ClientFrame::SignIn { .. } | ClientFrame::Register { .. }, _) => {
                    if error != Some(ErrorKind::AccountsOff) {
                        fail!();
                    }
                }
                (_, _) if error == Some(ErrorKind::NotRegistered) => {}
                _ => fail!(),
            }
            continue;
        };
        let me = me.to_owned();
        match request {
            ClientFrame::Hello { .. } => {
                if error != Some(ErrorKind::AlreadyRegistered) {
                    fail!();
                }
            }
            ClientFrame::Msg { room, text } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let Some(stay) = rooms.get_mut(&key) else {
                    if error != Some(ErrorKind::NotInRoom) {
                        fail!();
                    }
                    continue;
                };
                if validate::message(text).is_err() {
                    if error != Some(ErrorKind::InvalidMessage) {
                        fail!();
                    }
                    continue;
                }
                match frame {
                    ServerFrame::Msg {
                        room: shown,
                        from,
                        text: said,
                        ..
                    } if *shown == stay.shown && *from == me && said == text => {
                        stay.hear(frame, Some(&me));
                    }
                    _ => fail!(),
                }
            }
            ClientFrame::Whisper { to, text } => {
                if validate::message(text).is_err() {
                    if error != Some(ErrorKind::InvalidMessage) {
                        fail!();
                    }
                    continue;
                }
                match frame {
                    ServerFrame::Error {
                        kind: ErrorKind::NoSuchUser,
                        ..
                    } => {}
                    ServerFrame::Whisper {
                        from,
                        to: target,
                        text: said,
                        ..
                    } if *from == me && name_key(target) == name_key(to) && said == text => {}
                    _ => fail!(),
                }
            }
            ClientFrame::ListUsers => match frame {
                ServerFrame::UserList { users } if sorted(users) && users.contains(&me) => {}
                _ => fail!(),
            },
            ClientFrame::Ping => {
                if *frame != ServerFrame::Pong {
                    fail!();
                }
            }
            ClientFrame::Pong | ClientFrame::Bye => unreachable!("answered by nothing"),
            ClientFrame::SignIn { .. } | ClientFrame::Register { .. } => {
                if error != Some(ErrorKind::AlreadyRegistered) {
                    fail!();
                }
            }
            // A guest has no account to change.
            ClientFrame::ChangePassword { .. }
            | ClientFrame::ListSessions
            | ClientFrame::Revoke { .. }
            | ClientFrame::DeleteAccount { .. } => {
                if error != Some(ErrorKind::NotSignedIn) {
                    fail!();
                }
            }
            // A guest is no operator.
            ClientFrame::Disconnect { .. } => {
                if error != Some(ErrorKind::NotPermitted) {
                    fail!();
                }
            }
            // Without accounts there is no moderation: nobody could hold a role.
            ClientFrame::Claim { .. }
            | ClientFrame::Moderate { .. }
            | ClientFrame::Operate { .. }
            | ClientFrame::ModLog { .. } => {
                if error != Some(ErrorKind::AccountsOff) {
                    fail!();
                }
            }
            // ... and every room is unclaimed, which anyone may ask.
            ClientFrame::RoomInfo { room } => match (key_of(room), frame) {
                (None, _) if error == Some(ErrorKind::InvalidRoom) => {}
                (Some(_), ServerFrame::RoomInfo { info })
                    if info.owner.is_none() && !info.moderator => {}
                _ => fail!(),
            },
            // Without history there is no message to remove.
            ClientFrame::RemoveMessage { room, .. } => match key_of(room) {
                None if error == Some(ErrorKind::InvalidRoom) => {}
                Some(_) if error == Some(ErrorKind::HistoryOff) => {}
                _ => fail!(),
            },
            ClientFrame::History { room, .. } => match key_of(room) {
                None if error == Some(ErrorKind::InvalidRoom) => {}
                Some(_) if error == Some(ErrorKind::HistoryOff) => {}
                _ => fail!(),
            },
            // Without history there is no message to answer, edit or react to; the room and
            // the text or emoji are checked first.
            ClientFrame::Reply { room, text, .. } | ClientFrame::Edit { room, text, .. } => {
                match key_of(room).map(|key| rooms.contains_key(&key)) {
                    None if error == Some(ErrorKind::InvalidRoom) => {}
                    Some(false) if error == Some(ErrorKind::NotInRoom) => {}
                    Some(true) if validate::message(text).is_err() => {
                        if error != Some(ErrorKind::InvalidMessage) {
                            fail!();
                        }
                    }
                    Some(true) if error == Some(ErrorKind::HistoryOff) => {}
                    _ => fail!(),
                }
            }
            ClientFrame::React { room, emoji, .. } => {
                match key_of(room).map(|key| rooms.contains_key(&key)) {
                    None if error == Some(ErrorKind::InvalidRoom) => {}
                    Some(false) if error == Some(ErrorKind::NotInRoom) => {}
                    Some(true) if !validate::emoji(emoji) => {
                        if error != Some(ErrorKind::InvalidEmoji) {
                            fail!();
                        }
                    }
                    Some(true) if error == Some(ErrorKind::HistoryOff) => {}
                    _ => fail!(),
                }
            }
            // Without history there is nothing to search; the query and the room come first.
            ClientFrame::Search { query, room, .. } => {
                let room_ok = room.as_ref().is_none_or(|room| key_of(room).is_some());
                match (chat_proto::search::terms(query), room_ok) {
                    (Err(_), _) if error == Some(ErrorKind::InvalidSearch) => {}
                    (Ok(_), false) if error == Some(ErrorKind::InvalidRoom) => {}
                    (Ok(_), true) if error == Some(ErrorKind::HistoryOff) => {}
                    _ => fail!(),
                }
            }
            // Typing is answered only when refused: a room one is not in (else it was
            // skipped as answered by nothing).
            ClientFrame::Typing { room } => match key_of(room) {
                None if error == Some(ErrorKind::InvalidRoom) => {}
                Some(_) if error == Some(ErrorKind::NotInRoom) => {}
                _ => fail!(),
            },
            ClientFrame::Join { room, backlog } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let member = rooms.contains_key(&key);
                let full = rules.rooms_per_user != 0 && rooms.len() >= rules.rooms_per_user;
                match frame {
                    ServerFrame::Error {
                        kind: ErrorKind::TooManyRooms,
                        ..
                    } if !member && full => {}
                    ServerFrame::Error {
                        kind: ErrorKind::RoomsFull,
                        ..
                    } if !member && !full && !is_watched(&key) => {}
                    ServerFrame::Joined {
                        room: shown,
                        members,
                    } if !(full && !member)
                        && room_key(shown) == key
                        && shown_of(&key).is_none_or(|s| s == shown)
                        && sorted(members)
                        && members.contains(&me)
                        && (!is_watched(&key) || members.iter().any(|m| m == WITNESS)) =>
                    {
                        if *backlog != Backlog::None {
                            backlog_of = Some(shown.clone());
                        }
                        match rooms.get_mut(&key) {
                            Some(stay) => {
                                if stay.shown != *shown {
                                    fail!();
                                }
                                stay.rejoins.push((stay.events.len(), members.clone()));
                            }
                            None => {
                                rooms.insert(
                                    key.clone(),
                                    Stay {
                                        key,
                                        shown: shown.clone(),
                                        joined: members.clone(),
                                        events: Vec::new(),
                                        rejoins: Vec::new(),
                                        parted: false,
                                        last_seq: None,
                                    },
                                );
                            }
                        }
                    }
                    _ => fail!(),
                }
            }
            ClientFrame::Part { room } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let Some(stay) = rooms.remove(&key) else {
                    if error != Some(ErrorKind::NotInRoom) {
                        fail!();
                    }
                    continue;
                };
                if *frame
                    != (ServerFrame::Parted {
                        room: stay.shown.clone(),
                    })
                {
                    fail!();
                }
                stays.push(Stay {
                    parted: true,
                    ..stay
                });
            }
            ClientFrame::ListRooms => match frame {
                ServerFrame::RoomList { rooms: listed }
                    if listed
                        .windows(2)
                        .all(|w| room_key(&w[0].name) < room_key(&w[1].name))
                        && listed.len() <= rules.max_rooms
                        && listed.iter().all(|r| r.members >= 1)
                        && rooms
                            .values()
                            .all(|stay| listed.iter().any(|r| r.name == stay.shown))
                        && watched.is_none_or(|w| {
                            w.iter()
                                .all(|(_, shown)| listed.iter().any(|r| r.name == *shown))
                        }) => {}
                _ => fail!(),
            },
            ClientFrame::ListMembers { room } => {
                let Some(key) = key_of(room) else {
                    if error != Some(ErrorKind::InvalidRoom) {
                        fail!();
                    }
                    continue;
                };
                let stay = rooms.get(&key);
                match frame {
                    ServerFrame::Error {
                        kind: ErrorKind::NoSuchRoom,
                        ..
                    } if stay.is_none() && !is_watched(&key) => {}
                    ServerFrame::Members { room: shown, users }
                        if room_key(shown) == key
                            && stay.is_none_or(|s| s.shown == *shown)
                            && shown_of(&key).is_none_or(|s| s == shown)
                            && sorted(users)
                            && users.contains(&me) == stay.is_some()
                            && (!is_watched(&key) || users.iter().any(|m| m == WITNESS)) => {}
                    _ => fail!(),
                }
            }
        }
    }

    let name_known = name.is_some();
    let leave = if seen.may_be_cut {
        None
    } else {
        match over {
            Some(told) => told,
            None => {
                // Nothing ended the connection early: it read to the end of the stream, so
                // every request up to a Bye was answered.
                let rest: Vec<_> = seen.requests[next..]
                    .iter()
                    .filter(|r| {
                        !(name_known
                            && match r {
                                Ok(ClientFrame::Pong) => true,
                                Ok(ClientFrame::Typing { room }) => {
                                    key_of(room).is_some_and(|k| rooms.contains_key(&k))
                                }
                                _ => false,
                            })
                    })
                    .collect();
                match rest.first() {
                    None => Some(LeftReason::Disconnected),
                    Some(Ok(ClientFrame::Bye)) => Some(LeftReason::Quit),
                    Some(unanswered) => panic!(
                        "{name:?}'s connection stopped answering: {unanswered:?} (request \
                         {next}) got no reply; the requests: {:#?}\nwhat it received: {:#?}",
                        seen.requests, seen.frames
                    ),
                }
            }
        }
    };
    stays.extend(rooms.into_values());
    Walked {
        name,
        stays,
        leave: if name_known { leave } else { None },
    }
}

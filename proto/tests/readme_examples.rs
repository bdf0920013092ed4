//! The README's Protocol section is the specification an independent client is written
//! from, so it is checked here against the real encoder: its hex examples, its tables of
//! frames, fields, error kinds and leave reasons, and the bincode rules it states.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bincode::Options;
use chat_proto::codec::{self, bincode_options, decode_body};
use chat_proto::moderation::{
    AuditEntry, Ban, BanTarget, Mute, RoomAction, RoomChange, RoomInfo, ServerAction,
};
use chat_proto::search::{Hit, Mark, SearchCursor};
use chat_proto::{
    Backlog, ClientFrame, Credential, Cursor, DeviceSession, ErrorKind, LeftReason, Past, PastKind,
    Reaction, Revocation, RoomSummary, Secret, ServerFrame, SessionToken, PROTOCOL_VERSION,
};
use common::every_unit_variant;
use common::{every_client_variant_is_generated, every_server_variant_is_generated};
use serde::Serialize;

/// The README's Protocol section, up to the codec benchmark.
fn protocol_section() -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("\n## Protocol\n")
        .expect("the README has a Protocol section");
    let end = readme[start..]
        .find("\n### Codec benchmark")
        .map_or(readme.len(), |end| start + end);
    readme[start..end].to_owned()
}

/// The frames the README shows in hex, each written as its direction and its `Debug` form.
fn examples() -> Vec<(String, Vec<u8>)> {
    let at = 1_700_000_000_000;
    let client = [
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: "ann".into(),
            password: None,
        },
        ClientFrame::Join {
            room: "#Rust".into(),
            backlog: Backlog::Latest(20),
        },
        ClientFrame::Msg {
            room: "rust".into(),
            text: "hi".into(),
        },
        ClientFrame::History {
            room: "rust".into(),
            from: Cursor::Before(301),
            limit: 500,
        },
        ClientFrame::SignIn {
            version: PROTOCOL_VERSION,
            username: "ann".into(),
            server_password: None,
            credential: Credential::Cookie,
            online: true,
        },
        ClientFrame::Moderate {
            room: "rust".into(),
            action: RoomAction::Ban {
                target: BanTarget::Account("troll".into()),
                for_secs: Some(3_600),
                reason: "spam".into(),
            },
        },
    ];
    let server = [
        ServerFrame::SignedIn {
            session: 7,
            token: None,
        },
        ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            username: "ann".into(),
            online: 2,
            buffsize: 1024,
            rooms_per_user: 50,
            history: 500,
        },
        ServerFrame::Joined {
            room: "Rust".into(),
            members: vec!["ann".into(), "bob".into()],
        },
        ServerFrame::Msg {
            room: "Rust".into(),
            from: "bob".into(),
            text: "hi".into(),
            at,
            seq: 301,
        },
        ServerFrame::History {
            room: "Rust".into(),
            messages: vec![Past {
                seq: 300,
                from: "ann".into(),
                text: "yo".into(),
                at,
                kind: PastKind::Message,
                reply_to: None,
                edited: None,
                reactions: vec![],
            }],
            more: true,
            next: Cursor::Before(300),
            backlog: false,
            missed: false,
        },
        ServerFrame::UserLeft {
            room: "Rust".into(),
            user: "bob".into(),
            at,
            reason: LeftReason::TimedOut,
        },
        ServerFrame::RoomList {
            rooms: vec![RoomSummary {
                name: "Rust".into(),
                members: 300,
            }],
        },
        ServerFrame::Error {
            kind: ErrorKind::NotInRoom,
            detail: "not in #go".into(),
        },
        ServerFrame::MessageRemoved {
            room: "Rust".into(),
            seq: 302,
            target: 300,
            by: "ann".into(),
            at,
        },
    ];
    let wire = |frame: &dyn erased::Frame| frame.wire();
    client
        .iter()
        .map(|f| (format!("ClientFrame::{f:?}"), wire(f)))
        .chain(
            server
                .iter()
                .map(|f| (format!("ServerFrame::{f:?}"), wire(f))),
        )
        .collect()
}

/// Object-safe access to a frame's wire bytes, so both directions share one list.
mod erased {
    pub trait Frame {
        fn wire(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Frame for T {
        fn wire(&self) -> Vec<u8> {
            chat_proto::codec::encode(self)
                .expect("an example frame encodes")
                .as_bytes()
                .to_vec()
        }
    }
}

/// Bytes as the README writes them: lowercase hex pairs, the prefix apart from the body.
fn hex(bytes: &[u8]) -> String {
    let pairs = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>();
    format!(
        "{} │ {}",
        pairs(&bytes[..4]).join(" "),
        pairs(&bytes[4..]).join(" ")
    )
}

/// The bytes of a hex line (`00 00 00 07 │ 00 02 ...`), or `None` for any other line.
fn hex_line(line: &str) -> Option<Vec<u8>> {
    let tokens: Vec<&str> = line.split_whitespace().filter(|t| *t != "│").collect();
    if tokens.is_empty() {
        return None;
    }
    tokens
        .iter()
        .map(|t| {
            (t.len() == 2 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u8::from_str_radix(t, 16).ok())
                .flatten()
        })
        .collect()
}

/// Every example in `section`: a line starting with `ClientFrame::` or `ServerFrame::`, and
/// the bytes of the hex lines under it, up to the end of its code block.
fn documented_examples(section: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut lines = section.lines().peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("ClientFrame::") || line.starts_with("ServerFrame::")) {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with("```") || next.trim().is_empty() {
                break;
            }
            if let Some(more) = hex_line(next) {
                bytes.extend(more);
            }
            lines.next();
        }
        assert!(
            out.insert(line.to_owned(), bytes).is_none(),
            "{line} is shown twice"
        );
    }
    out
}

/// Each hex example in the README is exactly what `codec::encode` writes for the frame
/// named above it, and every frame the test knows is shown.
#[test]
fn the_hex_examples_are_what_the_encoder_writes() {
    let documented = documented_examples(&protocol_section());
    let expected: BTreeMap<String, Vec<u8>> = examples().into_iter().collect();
    let mut report = String::new();
    for (frame, wire) in &expected {
        match documented.get(frame) {
            Some(bytes) if bytes == wire => {}
            Some(_) => writeln!(report, "wrong bytes for\n{frame}\n{}", hex(wire)).unwrap(),
            None => writeln!(report, "missing example\n{frame}\n{}", hex(wire)).unwrap(),
        }
    }
    for frame in documented.keys().filter(|f| !expected.contains_key(*f)) {
        writeln!(report, "an example this test does not check: {frame}").unwrap();
    }
    assert!(report.is_empty(), "{report}");
}

/// One of every client frame, with a value in every option and list so that the schema
/// below sees each field's inner type.
fn every_client_frame() -> Vec<ClientFrame> {
    let s = || String::from("x");
    let frames = vec![
        ClientFrame::Hello {
            version: 0,
            username: s(),
            password: Some(s()),
        },
        ClientFrame::Msg {
            room: s(),
            text: s(),
        },
        ClientFrame::Whisper { to: s(), text: s() },
        ClientFrame::ListUsers,
        ClientFrame::Ping,
        ClientFrame::Pong,
        ClientFrame::Bye,
        ClientFrame::Join {
            room: s(),
            backlog: Backlog::None,
        },
        ClientFrame::Part { room: s() },
        ClientFrame::ListRooms,
        ClientFrame::ListMembers { room: s() },
        ClientFrame::History {
            room: s(),
            from: Cursor::Latest,
            limit: 0,
        },
        ClientFrame::SignIn {
            version: 0,
            username: s(),
            server_password: Some(s()),
            credential: Credential::Token(SessionToken::from_bytes([0; 32])),
            online: false,
        },
        ClientFrame::Register {
            version: 0,
            username: s(),
            server_password: Some(s()),
            password: Secret::new("x"),
            device: s(),
        },
        ClientFrame::ChangePassword {
            old: Secret::new("x"),
            new: Secret::new("x"),
        },
        ClientFrame::ListSessions,
        ClientFrame::Revoke {
            which: Revocation::This,
        },
        ClientFrame::DeleteAccount {
            password: Secret::new("x"),
        },
        ClientFrame::Disconnect {
            user: "x".into(),
            reason: String::new(),
        },
        ClientFrame::Claim { room: s() },
        ClientFrame::Moderate {
            room: s(),
            action: RoomAction::Slow { secs: 0 },
        },
        ClientFrame::RemoveMessage { room: s(), seq: 0 },
        ClientFrame::Operate {
            action: ServerAction::Unsuspend { account: s() },
        },
        ClientFrame::RoomInfo { room: s() },
        ClientFrame::ModLog {
            room: Some(s()),
            limit: 0,
        },
        ClientFrame::Reply {
            room: s(),
            to: 0,
            text: s(),
        },
        ClientFrame::Edit {
            room: s(),
            seq: 0,
            text: s(),
        },
        ClientFrame::React {
            room: s(),
            seq: 0,
            emoji: s(),
            on: false,
        },
        ClientFrame::Typing { room: s() },
        ClientFrame::Search {
            query: s(),
            room: Some(s()),
            before: Some(search_cursor()),
            limit: 0,
        },
    ];
    frames.iter().for_each(every_client_variant_is_generated);
    frames
}

/// One of every server frame, as [`every_client_frame`].
fn every_server_frame() -> Vec<ServerFrame> {
    let s = || String::from("x");
    let frames = vec![
        ServerFrame::Welcome {
            version: 0,
            username: s(),
            online: 0,
            buffsize: 0,
            rooms_per_user: 0,
            history: 0,
        },
        ServerFrame::Msg {
            room: s(),
            from: s(),
            text: s(),
            at: 0,
            seq: 0,
        },
        ServerFrame::Whisper {
            from: s(),
            to: s(),
            text: s(),
            at: 0,
        },
        ServerFrame::UserList { users: vec![s()] },
        ServerFrame::System { text: s(), at: 0 },
        ServerFrame::Error {
            kind: ErrorKind::BadFrame,
            detail: s(),
        },
        ServerFrame::Pong,
        ServerFrame::Ping,
        ServerFrame::Joined {
            room: s(),
            members: vec![s()],
        },
        ServerFrame::Parted { room: s() },
        ServerFrame::RoomList {
            rooms: vec![RoomSummary {
                name: s(),
                members: 0,
            }],
        },
        ServerFrame::Members {
            room: s(),
            users: vec![s()],
        },
        ServerFrame::UserJoined {
            room: s(),
            user: s(),
            at: 0,
        },
        ServerFrame::UserLeft {
            room: s(),
            user: s(),
            at: 0,
            reason: LeftReason::Parted,
        },
        ServerFrame::History {
            room: s(),
            messages: vec![past()],
            more: false,
            next: Cursor::Latest,
            backlog: false,
            missed: false,
        },
        ServerFrame::SignedIn {
            session: 0,
            token: Some(SessionToken::from_bytes([0; 32])),
        },
        ServerFrame::Sessions {
            sessions: vec![device_session()],
        },
        ServerFrame::Revoked { count: 0 },
        ServerFrame::PasswordChanged { ended: 0 },
        ServerFrame::AccountDeleted,
        ServerFrame::Disconnected { user: "x".into() },
        ServerFrame::RoomInfo { info: room_info() },
        ServerFrame::RoomChanged {
            room: s(),
            by: s(),
            change: RoomChange::Claimed,
            at: 0,
        },
        ServerFrame::MessageRemoved {
            room: s(),
            seq: 0,
            target: 0,
            by: s(),
            at: 0,
        },
        ServerFrame::ModLog {
            entries: vec![audit_entry()],
        },
        ServerFrame::Enforced { closed: 0 },
        ServerFrame::Event {
            room: s(),
            entry: past(),
        },
        ServerFrame::Typing {
            room: s(),
            user: s(),
        },
        ServerFrame::SearchResults {
            query: s(),
            hits: vec![Hit {
                room: s(),
                entry: past(),
                marks: vec![Mark { start: 0, end: 0 }],
            }],
            next: Some(search_cursor()),
        },
    ];
    frames.iter().for_each(every_server_variant_is_generated);
    frames
}

/// A sample past message, for the tables.
fn past() -> Past {
    Past {
        seq: 0,
        from: "x".into(),
        text: "x".into(),
        at: 0,
        kind: PastKind::Message,
        reply_to: Some(0),
        edited: Some(0),
        reactions: vec![Reaction {
            emoji: "x".into(),
            by: vec!["x".into()],
        }],
    }
}

/// A sample search cursor, for the tables.
fn search_cursor() -> SearchCursor {
    SearchCursor {
        at: 0,
        room: "x".into(),
        seq: 0,
    }
}

/// A sample ban target, for the tables.
fn ban_target() -> BanTarget {
    BanTarget::Name("x".into())
}

/// A sample ban, for the tables.
fn ban() -> Ban {
    Ban {
        target: ban_target(),
        by: "x".into(),
        reason: "x".into(),
        until: Some(0),
    }
}

/// A sample mute, for the tables.
fn mute() -> Mute {
    Mute {
        user: "x".into(),
        by: "x".into(),
        reason: "x".into(),
        until: Some(0),
    }
}

/// A sample room info, for the tables.
fn room_info() -> RoomInfo {
    RoomInfo {
        room: "x".into(),
        owner: Some("x".into()),
        moderators: vec!["x".into()],
        topic: "x".into(),
        registered_only: false,
        slow_secs: 0,
        bans: vec![ban()],
        mutes: vec![mute()],
        moderator: true,
    }
}

/// A sample audit entry, for the tables.
fn audit_entry() -> AuditEntry {
    AuditEntry {
        at: 0,
        actor: "x".into(),
        room: Some("x".into()),
        action: "x".into(),
        target: "x".into(),
        reason: "x".into(),
        until: Some(0),
    }
}

/// A sample device session, for the tables.
fn device_session() -> DeviceSession {
    DeviceSession {
        id: 0,
        device: "x".into(),
        created: 0,
        last_used: 0,
        current: false,
    }
}

/// The row the README's frame table must hold for `frame`: index, name, fields in order.
fn frame_row<T: Serialize>(frame: &T) -> String {
    let shape = schema::of(frame);
    let schema::Shape::Variant {
        index,
        name,
        fields,
        ..
    } = shape
    else {
        panic!("a frame is an enum variant, not {shape:?}")
    };
    format!("| {index} | `{name}` | {} |", schema::fields_cell(&fields))
}

/// The README lists every frame of both directions with its variant index and its fields in
/// wire order, with their types, and every struct they carry.
#[test]
fn the_frame_tables_match_the_frames() {
    let section = protocol_section();
    let mut missing = Vec::new();
    let client_rows: Vec<String> = every_client_frame().iter().map(frame_row).collect();
    let server_rows: Vec<String> = every_server_frame().iter().map(frame_row).collect();
    let (client_table, server_table) = tables(&section);
    for (rows, table) in [(client_rows, client_table), (server_rows, server_table)] {
        for row in rows {
            if !table.iter().any(|line| line.starts_with(&row)) {
                missing.push(row);
            }
        }
    }
    let structs = [
        schema::of(&RoomSummary {
            name: "x".into(),
            members: 0,
        }),
        schema::of(&past()),
        schema::of(&device_session()),
        schema::of(&ban()),
        schema::of(&mute()),
        schema::of(&room_info()),
        schema::of(&audit_entry()),
    ];
    for shape in structs {
        let schema::Shape::Struct { name, fields } = shape else {
            panic!("a struct, not {shape:?}")
        };
        let row = format!("| `{name}` | {} |", schema::fields_cell(&fields));
        if !section.lines().any(|line| line.starts_with(&row)) {
            missing.push(row);
        }
    }
    // The enums with data a frame carries: each variant with its index and its value.
    let variants = [Backlog::None, Backlog::Latest(0), Backlog::After(0)]
        .map(|b| schema::of(&b))
        .into_iter()
        .chain([Cursor::Latest, Cursor::Before(0), Cursor::After(0)].map(|c| schema::of(&c)))
        .chain(
            [
                Credential::Password {
                    password: Secret::new("x"),
                    device: "x".into(),
                },
                Credential::Token(SessionToken::from_bytes([0; 32])),
                Credential::Cookie,
            ]
            .map(|c| schema::of(&c)),
        )
        .chain(
            [
                Revocation::This,
                Revocation::Others,
                Revocation::All,
                Revocation::One(0),
            ]
            .map(|r| schema::of(&r)),
        )
        .chain(
            [
                PastKind::Message,
                PastKind::Removed { by: "x".into() },
                PastKind::Removal { target: 0 },
                PastKind::Edit { target: 0 },
                PastKind::React {
                    target: 0,
                    emoji: "x".into(),
                },
                PastKind::Unreact {
                    target: 0,
                    emoji: "x".into(),
                },
            ]
            .map(|k| schema::of(&k)),
        )
        .chain(
            [
                BanTarget::Account("x".into()),
                BanTarget::Name("x".into()),
                BanTarget::Address("x".into()),
            ]
            .map(|t| schema::of(&t)),
        )
        .chain(every_room_action().into_iter().map(|a| schema::of(&a)))
        .chain(every_server_action().into_iter().map(|a| schema::of(&a)))
        .chain(every_room_change().into_iter().map(|c| schema::of(&c)));
    for shape in variants {
        let schema::Shape::Variant {
            enum_name,
            index,
            name,
            fields,
        } = shape
        else {
            panic!("an enum variant, not {shape:?}")
        };
        // A newtype variant by its one value's type; a struct variant by its fields.
        let value = match fields.as_slice() {
            [("0", t)] => format!("`{t}`"),
            fields => schema::fields_cell(fields),
        };
        let row = format!("| `{enum_name}` | {index} | `{name}` | {value} |");
        if !section.lines().any(|line| line.starts_with(&row)) {
            missing.push(row);
        }
    }
    assert!(
        missing.is_empty(),
        "rows missing from the README:\n{}",
        missing.join("\n")
    );
}

/// One of every room action, with a value in every option.
fn every_room_action() -> Vec<RoomAction> {
    let s = || String::from("x");
    let actions = vec![
        RoomAction::Kick {
            user: s(),
            reason: s(),
        },
        RoomAction::Ban {
            target: ban_target(),
            for_secs: Some(0),
            reason: s(),
        },
        RoomAction::Unban {
            target: ban_target(),
        },
        RoomAction::Mute {
            user: s(),
            for_secs: Some(0),
            reason: s(),
        },
        RoomAction::Unmute { user: s() },
        RoomAction::Promote { user: s() },
        RoomAction::Demote { user: s() },
        RoomAction::Topic { topic: s() },
        RoomAction::RegisteredOnly { on: false },
        RoomAction::Slow { secs: 0 },
    ];
    // No `_` arm: a new action stops the build here until it is listed above.
    for action in &actions {
        match action {
            RoomAction::Kick { .. }
            | RoomAction::Ban { .. }
            | RoomAction::Unban { .. }
            | RoomAction::Mute { .. }
            | RoomAction::Unmute { .. }
            | RoomAction::Promote { .. }
            | RoomAction::Demote { .. }
            | RoomAction::Topic { .. }
            | RoomAction::RegisteredOnly { .. }
            | RoomAction::Slow { .. } => {}
        }
    }
    actions
}

/// One of every server-wide action, with a value in every option.
fn every_server_action() -> Vec<ServerAction> {
    let s = || String::from("x");
    let actions = vec![
        ServerAction::Ban {
            target: ban_target(),
            for_secs: Some(0),
            reason: s(),
        },
        ServerAction::Unban {
            target: ban_target(),
        },
        ServerAction::Suspend {
            account: s(),
            reason: s(),
        },
        ServerAction::Unsuspend { account: s() },
    ];
    for action in &actions {
        match action {
            ServerAction::Ban { .. }
            | ServerAction::Unban { .. }
            | ServerAction::Suspend { .. }
            | ServerAction::Unsuspend { .. } => {}
        }
    }
    actions
}

/// One of every room change, with a value in every option.
fn every_room_change() -> Vec<RoomChange> {
    let s = || String::from("x");
    let changes = vec![
        RoomChange::Claimed,
        RoomChange::Kicked {
            user: s(),
            reason: s(),
        },
        RoomChange::Banned {
            target: ban_target(),
            reason: s(),
            until: Some(0),
        },
        RoomChange::Unbanned {
            target: ban_target(),
        },
        RoomChange::Muted {
            user: s(),
            reason: s(),
            until: Some(0),
        },
        RoomChange::Unmuted { user: s() },
        RoomChange::Promoted { user: s() },
        RoomChange::Demoted { user: s() },
        RoomChange::Topic { topic: s() },
        RoomChange::RegisteredOnly { on: false },
        RoomChange::Slow { secs: 0 },
    ];
    for change in &changes {
        match change {
            RoomChange::Claimed
            | RoomChange::Kicked { .. }
            | RoomChange::Banned { .. }
            | RoomChange::Unbanned { .. }
            | RoomChange::Muted { .. }
            | RoomChange::Unmuted { .. }
            | RoomChange::Promoted { .. }
            | RoomChange::Demoted { .. }
            | RoomChange::Topic { .. }
            | RoomChange::RegisteredOnly { .. }
            | RoomChange::Slow { .. } => {}
        }
    }
    changes
}

/// The lines of the client-frame table and of the server-frame table: the table rows under
/// the headings `### Client frames` and `### Server frames`.
fn tables(section: &str) -> (Vec<&str>, Vec<&str>) {
    let rows_under = |heading: &str| -> Vec<&str> {
        let start = section
            .find(heading)
            .unwrap_or_else(|| panic!("no heading {heading}"));
        section[start + heading.len()..]
            .lines()
            .take_while(|line| !line.starts_with("###"))
            .filter(|line| line.starts_with('|'))
            .collect()
    };
    (
        rows_under("\n### Client frames"),
        rows_under("\n### Server frames"),
    )
}

/// The README lists every error kind with its index, its stable name and whether it ends the
/// connection, and every leave reason with its index and stable name.
#[test]
fn the_error_kind_and_leave_reason_tables_match_the_enums() {
    let section = protocol_section();
    let mut missing = Vec::new();
    for (index, kind) in every_unit_variant::<ErrorKind>().into_iter().enumerate() {
        let fatal = if kind.is_fatal() { "yes" } else { "no" };
        let row = format!("| {index} | `{kind:?}` | `{}` | {fatal} |", kind.as_str());
        if !section.lines().any(|line| line.starts_with(&row)) {
            missing.push(row);
        }
    }
    for (index, reason) in every_unit_variant::<LeftReason>().into_iter().enumerate() {
        let row = format!(
            "| {index} | `{reason:?}` | `{}` | {reason} |",
            reason.as_str()
        );
        if !section.lines().any(|line| line.starts_with(&row)) {
            missing.push(row);
        }
    }
    assert!(
        missing.is_empty(),
        "rows missing from the README:\n{}",
        missing.join("\n")
    );
    let version = format!("`PROTOCOL_VERSION` = {PROTOCOL_VERSION}");
    assert!(
        section.contains(&version),
        "the README does not say {version}"
    );
}

/// `value` in the protocol's bincode settings.
fn bytes<T: Serialize>(value: &T) -> Vec<u8> {
    bincode_options(1 << 20).serialize(value).unwrap()
}

/// The encoding rules the README states, checked against bincode itself: an unsigned
/// integer under 251 is one byte, 251/252/253 introduce a little-endian u16/u32/u64, and
/// the shortest form is always written; a signed one is zig-zagged first; a string or a list
/// is its length then its contents; an option is a byte 0 or 1 then the value; an enum is
/// its variant index then its fields; a struct is its fields in order.
#[test]
fn the_encoding_rules_the_readme_states_hold() {
    // Unsigned varints, at every boundary, for u32 and u64 alike.
    for (n, wire) in [
        (0u64, vec![0x00]),
        (250, vec![0xfa]),
        (251, vec![0xfb, 0xfb, 0x00]),
        (1024, vec![0xfb, 0x00, 0x04]),
        (65_535, vec![0xfb, 0xff, 0xff]),
        (65_536, vec![0xfc, 0x00, 0x00, 0x01, 0x00]),
        (u64::from(u32::MAX), vec![0xfc, 0xff, 0xff, 0xff, 0xff]),
        (1 << 32, vec![0xfd, 0, 0, 0, 0, 1, 0, 0, 0]),
        (
            u64::MAX,
            vec![0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
    ] {
        assert_eq!(bytes(&n), wire, "u64 {n}");
        if let Ok(n32) = u32::try_from(n) {
            assert_eq!(bytes(&n32), wire, "u32 {n}");
        }
    }
    // Signed: zig-zag (0, -1, 1, -2, ... become 0, 1, 2, 3, ...), then the same varint.
    for (n, wire) in [
        (0i64, vec![0x00]),
        (-1, vec![0x01]),
        (1, vec![0x02]),
        (-2, vec![0x03]),
        (125, vec![0xfa]),
        (-126, vec![0xfb, 0xfb, 0x00]),
        (
            i64::MAX,
            vec![0xfd, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            i64::MIN,
            vec![0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
    ] {
        assert_eq!(bytes(&n), wire, "i64 {n}");
    }
    // Strings: byte length as a varint, then UTF-8, no terminator.
    assert_eq!(bytes(&"ann"), [3, b'a', b'n', b'n']);
    assert_eq!(bytes(&"zoë"), [4, b'z', b'o', 0xc3, 0xab]);
    assert_eq!(bytes(&"x".repeat(300))[..3], [0xfb, 0x2c, 0x01]);
    // Bool: one byte.
    assert_eq!(bytes(&false), [0]);
    assert_eq!(bytes(&true), [1]);
    // Option: 00, or 01 then the value.
    assert_eq!(bytes(&None::<String>), [0]);
    assert_eq!(bytes(&Some("pw")), [1, 2, b'p', b'w']);
    // Vec: element count as a varint, then the elements.
    assert_eq!(bytes(&vec!["a", "bc"]), [2, 1, b'a', 2, b'b', b'c']);
    assert_eq!(bytes(&Vec::<String>::new()), [0]);
    // Struct: its fields in order, nothing between them.
    let summary = RoomSummary {
        name: "go".into(),
        members: 300,
    };
    assert_eq!(bytes(&summary), [2, b'g', b'o', 0xfb, 0x2c, 0x01]);
    // Enum: the variant index as a varint, then the variant's fields; a unit variant is its
    // index alone.
    assert_eq!(bytes(&ClientFrame::Ping), [4]);
    assert_eq!(bytes(&ErrorKind::NoSuchRoom), [21]);
    assert_eq!(
        bytes(&ClientFrame::Part { room: "go".into() }),
        [8, 2, b'g', b'o']
    );
}

/// What bincode's reader accepts and refuses, as the README states it: longer varint forms
/// than the shortest are read; 254 and 255 never start a valid varint; an option byte other
/// than 0 or 1, a u32 above 2^32 − 1, bad UTF-8 and trailing bytes are refused.
#[test]
fn the_decoding_rules_the_readme_states_hold() {
    // Non-shortest forms read as their value (the encoder never writes them).
    assert_eq!(
        decode_body::<ClientFrame>(&[0xfb, 0x04, 0x00]).unwrap(),
        ClientFrame::Ping
    );
    assert_eq!(
        decode_body::<ClientFrame>(&[0xfd, 4, 0, 0, 0, 0, 0, 0, 0]).unwrap(),
        ClientFrame::Ping
    );
    // 254 (a u128) and 255 (reserved) are refused, wherever a varint is expected.
    assert!(decode_body::<ClientFrame>(&[0xfe]).is_err());
    assert!(decode_body::<ClientFrame>(&[0xff]).is_err());
    // Option bytes other than 0 and 1.
    assert!(decode_body::<ClientFrame>(&[0, 2, 3, b'a', b'n', b'n', 2]).is_err());
    // A u32 field whose varint holds more than 32 bits.
    assert!(decode_body::<ClientFrame>(&[0, 0xfd, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]).is_err());
    // A variant index past the last.
    assert!(decode_body::<ClientFrame>(&[30]).is_err());
    assert!(decode_body::<ServerFrame>(&[29]).is_err());
    assert!(decode_body::<ServerFrame>(&[5, 48, 0]).is_err());
    assert!(decode_body::<ServerFrame>(&[5, 47, 0]).is_ok());
    // Bad UTF-8 in a string.
    assert!(decode_body::<ClientFrame>(&[7, 1, 0xff]).is_err());
    // Trailing bytes after a complete frame, and an empty body.
    assert!(decode_body::<ClientFrame>(&[4, 0]).is_err());
    assert!(decode_body::<ClientFrame>(&[]).is_err());
    // The frame's length prefix is a plain u32, big-endian, body only.
    let wire = codec::encode(&ClientFrame::Ping).unwrap();
    assert_eq!(wire.as_bytes().as_ref(), [0, 0, 0, 1, 4]);
}

/// A serde `Serializer` that records a value's shape instead of its bytes: enough of serde
/// for the frames (integers, strings, options, lists, structs, enums), so that the README's
/// tables are checked against the types themselves.
mod schema {
    use serde::ser::{self, Impossible, Serialize};

    /// What a value looks like on the wire.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Shape {
        /// A primitive or a composite, by the README's type name (`u32`, `vec<string>`, ...).
        Type(String),
        /// An enum variant with its fields.
        Variant {
            enum_name: &'static str,
            index: u32,
            name: &'static str,
            fields: Vec<(&'static str, String)>,
        },
        /// A struct with its fields.
        Struct {
            name: &'static str,
            fields: Vec<(&'static str, String)>,
        },
    }

    /// The shape of `value`.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Shape {
        value
            .serialize(Recorder)
            .expect("a frame's types are all known here")
    }

    /// The type name of `value`, as a field's type column shows it: a field-less enum
    /// (`ErrorKind`) or a struct (`RoomSummary`) by its own name.
    fn type_of<T: Serialize + ?Sized>(value: &T) -> String {
        match of(value) {
            Shape::Type(name) => name,
            Shape::Variant {
                enum_name, fields, ..
            } if fields.is_empty() => enum_name.to_owned(),
            // An enum with data (`Backlog`, `Cursor`): by its name too, its variants
            // documented in a table of their own.
            Shape::Variant { enum_name, .. } => enum_name.to_owned(),
            Shape::Struct { name, .. } => name.to_owned(),
        }
    }

    /// A frame table's fields cell: `` `name: type, ...` ``, or `(none)`.
    pub fn fields_cell(fields: &[(&str, String)]) -> String {
        if fields.is_empty() {
            return "(none)".to_owned();
        }
        let list: Vec<String> = fields.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        format!("`{}`", list.join(", "))
    }

    /// Anything outside the frames' types.
    #[derive(Debug)]
    pub struct Unsupported(String);

    impl std::fmt::Display for Unsupported {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Unsupported {}

    impl ser::Error for Unsupported {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            Unsupported(msg.to_string())
        }
    }

    /// The recording serializer.
    struct Recorder;

    /// Collects the fields of a struct or a struct variant.
    pub struct Fields {
        /// For a variant: its enum's name, its index and its name.
        variant: Option<(&'static str, u32, &'static str)>,
        name: &'static str,
        fields: Vec<(&'static str, String)>,
    }

    /// A fixed array of bytes (a session token), written as they are, with no length.
    pub struct Bytes {
        len: usize,
    }

    impl ser::SerializeTuple for Bytes {
        type Ok = Shape;
        type Error = Unsupported;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unsupported> {
            match type_of(v).as_str() {
                "u8" => Ok(()),
                other => unsupported(&format!("a tuple of {other}")),
            }
        }
        fn end(self) -> Result<Shape, Unsupported> {
            Ok(Shape::Type(format!("[u8; {}]", self.len)))
        }
    }

    /// Collects a list's element type (all elements have one type).
    pub struct Elements {
        element: Option<String>,
    }

    fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
        Err(Unsupported(format!("{what} is not used by any frame")))
    }

    impl ser::Serializer for Recorder {
        type Ok = Shape;
        type Error = Unsupported;
        type SerializeSeq = Elements;
        type SerializeTuple = Bytes;
        type SerializeTupleStruct = Impossible<Shape, Unsupported>;
        type SerializeTupleVariant = Impossible<Shape, Unsupported>;
        type SerializeMap = Impossible<Shape, Unsupported>;
        type SerializeStruct = Fields;
        type SerializeStructVariant = Fields;

        fn serialize_u32(self, _: u32) -> Result<Shape, Unsupported> {
            Ok(Shape::Type("u32".into()))
        }
        fn serialize_i64(self, _: i64) -> Result<Shape, Unsupported> {
            Ok(Shape::Type("i64".into()))
        }
        fn serialize_str(self, _: &str) -> Result<Shape, Unsupported> {
            Ok(Shape::Type("string".into()))
        }
        fn serialize_none(self) -> Result<Shape, Unsupported> {
            unsupported("None (give the sample a value)")
        }
        fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Shape, Unsupported> {
            Ok(Shape::Type(format!("option<{}>", type_of(v))))
        }
        fn serialize_unit_variant(
            self,
            name: &'static str,
            index: u32,
            variant: &'static str,
        ) -> Result<Shape, Unsupported> {
            Ok(Shape::Variant {
                enum_name: name,
                index,
                name: variant,
                fields: vec![],
            })
        }
        fn serialize_seq(self, len: Option<usize>) -> Result<Elements, Unsupported> {
            assert_ne!(len, Some(0), "give the sample a non-empty list");
            Ok(Elements { element: None })
        }
        fn serialize_struct(self, name: &'static str, _: usize) -> Result<Fields, Unsupported> {
            Ok(Fields {
                variant: None,
                name,
                fields: vec![],
            })
        }
        fn serialize_struct_variant(
            self,
            name: &'static str,
            index: u32,
            variant: &'static str,
            _: usize,
        ) -> Result<Fields, Unsupported> {
            Ok(Fields {
                variant: Some((name, index, variant)),
                name: variant,
                fields: vec![],
            })
        }

        fn serialize_bool(self, _: bool) -> Result<Shape, Unsupported> {
            Ok(Shape::Type("bool".into()))
        }
        fn serialize_i8(self, _: i8) -> Result<Shape, Unsupported> {
            unsupported("i8")
        }
        fn serialize_i16(self, _: i16) -> Result<Shape, Unsupported> {
            unsupported("i16")
        }
        fn serialize_i32(self, _: i32) -> Result<Shape, Unsupported> {
            unsupported("i32")
        }
        fn serialize_u8(self, _: u8) -> Result<Shape, Unsupported> {
            Ok(Shape::Type("u8".into()))
        }
        fn serialize_u16(self, _: u16) -> Result<Shape, Unsupported> {
            unsupported("u16")
        }
        fn serialize_u64(self, _: u64) -> Result<Shape, Unsupported> {
            Ok(Shape::Type("u64".into()))
        }
        fn serialize_f32(self, _: f32) -> Result<Shape, Unsupported> {
            unsupported("f32")
        }
        fn serialize_f64(self, _: f64) -> Result<Shape, Unsupported> {
            unsupported("f64")
        }
        fn serialize_char(self, _: char) -> Result<Shape, Unsupported> {
            unsupported("char")
        }
        fn serialize_bytes(self, _: &[u8]) -> Result<Shape, Unsupported> {
            unsupported("bytes")
        }
        fn serialize_unit(self) -> Result<Shape, Unsupported> {
            unsupported("()")
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<Shape, Unsupported> {
            unsupported("a unit struct")
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<Shape, Unsupported> {
            unsupported("a newtype struct")
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            name: &'static str,
            index: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<Shape, Unsupported> {
            Ok(Shape::Variant {
                enum_name: name,
                index,
                name: variant,
                fields: vec![("0", type_of(value))],
            })
        }
        fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Unsupported> {
            Ok(Bytes { len })
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Unsupported> {
            unsupported("a tuple struct")
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Unsupported> {
            unsupported("a tuple variant")
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
            unsupported("a map")
        }
    }

    impl ser::SerializeStruct for Fields {
        type Ok = Shape;
        type Error = Unsupported;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), Unsupported> {
            self.fields.push((key, type_of(value)));
            Ok(())
        }
        fn end(self) -> Result<Shape, Unsupported> {
            Ok(match self.variant {
                Some((enum_name, index, name)) => Shape::Variant {
                    enum_name,
                    index,
                    name,
                    fields: self.fields,
                },
                None => Shape::Struct {
                    name: self.name,
                    fields: self.fields,
                },
            })
        }
    }

    impl ser::SerializeStructVariant for Fields {
        type Ok = Shape;
        type Error = Unsupported;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), Unsupported> {
            ser::SerializeStruct::serialize_field(self, key, value)
        }
        fn end(self) -> Result<Shape, Unsupported> {
            ser::SerializeStruct::end(self)
        }
    }

    impl ser::SerializeSeq for Elements {
        type Ok = Shape;
        type Error = Unsupported;
        fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Unsupported> {
            let t = type_of(v);
            assert!(
                self.element.as_ref().is_none_or(|e| *e == t),
                "mixed element types"
            );
            self.element = Some(t);
            Ok(())
        }
        fn end(self) -> Result<Shape, Unsupported> {
            let element = self.element.expect("a non-empty list");
            Ok(Shape::Type(format!("vec<{element}>")))
        }
    }
}

/// Every number that follows `prefix` in `text`, up to the first character that is not a
/// digit (a prefix followed by no digit is skipped).
fn numbers_after(text: &str, prefix: &str) -> Vec<u32> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The protocol version is stated in several places of the README (the Protocol section's
/// heading, `Hello`'s row, the sequence diagram, the `Debug` examples); every one of them
/// names [`PROTOCOL_VERSION`], so a version bump cannot leave one stale.
#[test]
fn every_stated_protocol_version_is_the_codes() {
    let readme = include_str!("../../README.md");
    for prefix in [
        "wire protocol, **version ",
        "(`PROTOCOL_VERSION` = ",
        "the protocol version (must be ",
        "Hello{version: ",
        "Hello { version: ",
        "Welcome { version: ",
    ] {
        let stated = numbers_after(readme, prefix);
        assert!(
            !stated.is_empty(),
            "the README no longer states the version as {prefix:?}N; update this test's list"
        );
        for version in stated {
            assert_eq!(
                version, PROTOCOL_VERSION,
                "the README says {prefix}{version}, the code's PROTOCOL_VERSION is {PROTOCOL_VERSION}"
            );
        }
    }
}

/// The log example of a bad frame shows the words the server logs for a `ClientFrame`
/// variant index that does not exist, so it names how many variants there are today.
#[test]
fn the_bad_frame_log_example_is_what_decoding_says() {
    let readme = include_str!("../../README.md");
    let err = match decode_body::<ClientFrame>(&[200, 1]) {
        Err(codec::CodecError::Malformed(err)) => err.to_string(),
        other => panic!("variant index 200 decoded as {other:?}"),
    };
    let line = format!("| WARN | Bad frame: {err} peer=");
    assert!(
        readme.contains(&line),
        "the README's log example should show {line:?}"
    );
}

//! Golden vectors for the browser's codec, `server/web/codec.js`, which is written from the
//! README alone: this test encodes at least one frame of every variant of both directions
//! (and every variant of every enum inside them) with `chat_proto::codec::encode`, checks
//! that `server/web/test/vectors.json` holds exactly those bytes, then runs the page's
//! `node --test` suite, which decodes each vector, compares it with the frame written beside
//! it and encodes it back byte for byte.
//!
//! The file is generated, not edited: after a change to the frames (or to this list), run
//! `CHAT_UPDATE_VECTORS=1 cargo test -p chat-proto --test golden_vectors` and commit it.
//!
//! `vectors.json` is a list of `{direction, name, hex, frame}`: `direction` is `"client"` or
//! `"server"`, `hex` the whole frame with its length prefix in lowercase hex, and `frame`
//! the object codec.js decodes it to: `{"type": "Msg", "room": ..., "text": ...}`, fields
//! named as in Rust; `Backlog` and `Cursor` as `{"kind": "After", "seq": ...}` (`count` for
//! `Backlog::Latest`), and every other enum with fields likewise tagged `kind` (`BanTarget`
//! as `{"kind": "Account", "name": ...}`, `{"kind": "Address", "address": ...}`; `PastKind`,
//! `RoomAction`, `ServerAction` and `RoomChange` with their fields by name); `ErrorKind` and
//! `LeftReason` as the variant's name; `None` as `null`.
//! A `u64` or `i64` beyond 2^53 − 1 either way, which a JSON reader would round, is written
//! `{"$bigint": "<decimal>"}`, and stands for the `BigInt` codec.js decodes it to.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

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
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// Set (to anything but `0`) to rewrite `vectors.json` instead of comparing with it.
const UPDATE_ENV: &str = "CHAT_UPDATE_VECTORS";

/// The largest integer a JavaScript `Number` holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A timestamp of today's size: 41 bits, so always the 9-byte varint.
const AT: i64 = 1_700_000_000_000;

/// Variant names in declaration (wire) order: the position of each is its tag.
const CLIENT_VARIANTS: [&str; 30] = [
    "Hello",
    "Msg",
    "Whisper",
    "ListUsers",
    "Ping",
    "Pong",
    "Bye",
    "Join",
    "Part",
    "ListRooms",
    "ListMembers",
    "History",
    "SignIn",
    "Register",
    "ChangePassword",
    "ListSessions",
    "Revoke",
    "DeleteAccount",
    "Disconnect",
    "Claim",
    "Moderate",
    "RemoveMessage",
    "Operate",
    "RoomInfo",
    "ModLog",
    "Reply",
    "Edit",
    "React",
    "Typing",
    "Search",
];
const SERVER_VARIANTS: [&str; 29] = [
    "Welcome",
    "Msg",
    "Whisper",
    "UserList",
    "System",
    "Error",
    "Pong",
    "Ping",
    "Joined",
    "Parted",
    "RoomList",
    "Members",
    "UserJoined",
    "UserLeft",
    "History",
    "SignedIn",
    "Sessions",
    "Revoked",
    "PasswordChanged",
    "AccountDeleted",
    "Disconnected",
    "RoomInfo",
    "RoomChanged",
    "MessageRemoved",
    "ModLog",
    "Enforced",
    "Event",
    "Typing",
    "SearchResults",
];
const BACKLOG_VARIANTS: [&str; 3] = ["None", "Latest", "After"];
const CREDENTIAL_VARIANTS: [&str; 3] = ["Password", "Token", "Cookie"];
const REVOCATION_VARIANTS: [&str; 4] = ["This", "Others", "All", "One"];
const CURSOR_VARIANTS: [&str; 3] = ["Latest", "Before", "After"];
const PAST_KIND_VARIANTS: [&str; 6] = ["Message", "Removed", "Removal", "Edit", "React", "Unreact"];
const BAN_TARGET_VARIANTS: [&str; 3] = ["Account", "Name", "Address"];
const ROOM_ACTION_VARIANTS: [&str; 10] = [
    "Kick",
    "Ban",
    "Unban",
    "Mute",
    "Unmute",
    "Promote",
    "Demote",
    "Topic",
    "RegisteredOnly",
    "Slow",
];
const SERVER_ACTION_VARIANTS: [&str; 4] = ["Ban", "Unban", "Suspend", "Unsuspend"];
const ROOM_CHANGE_VARIANTS: [&str; 11] = [
    "Claimed",
    "Kicked",
    "Banned",
    "Unbanned",
    "Muted",
    "Unmuted",
    "Promoted",
    "Demoted",
    "Topic",
    "RegisteredOnly",
    "Slow",
];

/// A JSON value whose objects keep the order they are built in (type first, then the
/// fields in wire order), whatever features `serde_json` is built with elsewhere in the
/// workspace, so the generated file is the same on every build.
enum Js {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    /// An integer a JavaScript `Number` would round: `{"$bigint": "<decimal>"}`.
    Big(String),
    Str(String),
    List(Vec<Js>),
    Obj(Vec<(&'static str, Js)>),
}

impl Serialize for Js {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Js::Null => s.serialize_unit(),
            Js::Bool(b) => s.serialize_bool(*b),
            Js::Num(n) => n.serialize(s),
            Js::Big(digits) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("$bigint", digits)?;
                map.end()
            }
            Js::Str(text) => s.serialize_str(text),
            Js::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Js::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

fn u32_(v: u32) -> Js {
    Js::Num(v.into())
}

fn u64_(v: u64) -> Js {
    if v <= MAX_SAFE_INTEGER {
        Js::Num(v.into())
    } else {
        Js::Big(v.to_string())
    }
}

fn i64_(v: i64) -> Js {
    if v.unsigned_abs() <= MAX_SAFE_INTEGER {
        Js::Num(v.into())
    } else {
        Js::Big(v.to_string())
    }
}

fn str_(v: &str) -> Js {
    Js::Str(v.to_owned())
}

fn strings(v: &[String]) -> Js {
    Js::List(v.iter().map(|s| str_(s)).collect())
}

/// An object tagged `tag_key: name`, then `fields`.
fn tagged(tag_key: &'static str, name: &'static str, fields: Vec<(&'static str, Js)>) -> Js {
    let mut all = vec![(tag_key, str_(name))];
    all.extend(fields);
    Js::Obj(all)
}

/// Every variant name the vectors use, as `Enum::Variant`, so the test can tell what is
/// missing.
#[derive(Default)]
struct Coverage(BTreeSet<String>);

impl Coverage {
    fn note(&mut self, enum_name: &str, variant: &str) {
        self.0.insert(format!("{enum_name}::{variant}"));
    }

    /// Every variant of every enum that occurs in a frame.
    fn expected() -> BTreeSet<String> {
        let named = |enum_name: &str, variants: &[&str]| {
            variants
                .iter()
                .map(|v| format!("{enum_name}::{v}"))
                .collect::<Vec<_>>()
        };
        let mut all = BTreeSet::new();
        all.extend(named("ClientFrame", &CLIENT_VARIANTS));
        all.extend(named("ServerFrame", &SERVER_VARIANTS));
        all.extend(named("Backlog", &BACKLOG_VARIANTS));
        all.extend(named("Cursor", &CURSOR_VARIANTS));
        all.extend(named("Credential", &CREDENTIAL_VARIANTS));
        all.extend(named("Revocation", &REVOCATION_VARIANTS));
        all.extend(named("PastKind", &PAST_KIND_VARIANTS));
        all.extend(named("BanTarget", &BAN_TARGET_VARIANTS));
        all.extend(named("RoomAction", &ROOM_ACTION_VARIANTS));
        all.extend(named("ServerAction", &SERVER_ACTION_VARIANTS));
        all.extend(named("RoomChange", &ROOM_CHANGE_VARIANTS));
        // Field-less enums are listed from the wire, so a new kind is expected at once.
        all.extend(
            every_unit_variant::<ErrorKind>()
                .iter()
                .map(|k| format!("ErrorKind::{k:?}")),
        );
        all.extend(
            every_unit_variant::<LeftReason>()
                .iter()
                .map(|r| format!("LeftReason::{r:?}")),
        );
        all
    }
}

/// The variant index bincode writes for `value`, which is an enum's first byte.
fn tag_of<T: Serialize>(value: &T) -> usize {
    let bytes =
        bincode::Options::serialize(bincode_options(1 << 20), value).expect("a vector encodes");
    usize::from(bytes[0])
}

/// Checks that `name` sits at `value`'s wire index in `variants`, then notes it.
fn variant<T: Serialize>(
    cover: &mut Coverage,
    enum_name: &str,
    variants: &[&'static str],
    value: &T,
    name: &'static str,
) -> &'static str {
    assert_eq!(
        variants.get(tag_of(value)),
        Some(&name),
        "{enum_name}'s variant list is not in declaration order"
    );
    cover.note(enum_name, name);
    name
}

fn backlog_js(b: &Backlog, cover: &mut Coverage) -> Js {
    let (name, fields) = match *b {
        Backlog::None => ("None", vec![]),
        Backlog::Latest(count) => ("Latest", vec![("count", u32_(count))]),
        Backlog::After(seq) => ("After", vec![("seq", u64_(seq))]),
    };
    tagged(
        "kind",
        variant(cover, "Backlog", &BACKLOG_VARIANTS, b, name),
        fields,
    )
}

fn cursor_js(c: &Cursor, cover: &mut Coverage) -> Js {
    let (name, fields) = match *c {
        Cursor::Latest => ("Latest", vec![]),
        Cursor::Before(seq) => ("Before", vec![("seq", u64_(seq))]),
        Cursor::After(seq) => ("After", vec![("seq", u64_(seq))]),
    };
    tagged(
        "kind",
        variant(cover, "Cursor", &CURSOR_VARIANTS, c, name),
        fields,
    )
}

fn token_js(token: &SessionToken) -> Js {
    Js::Str(token.to_hex())
}

fn credential_js(c: &Credential, cover: &mut Coverage) -> Js {
    let (name, fields) = match c {
        Credential::Password { password, device } => (
            "Password",
            vec![
                ("password", str_(password.expose())),
                ("device", str_(device)),
            ],
        ),
        Credential::Token(token) => ("Token", vec![("token", token_js(token))]),
        Credential::Cookie => ("Cookie", vec![]),
    };
    tagged(
        "kind",
        variant(cover, "Credential", &CREDENTIAL_VARIANTS, c, name),
        fields,
    )
}

fn revocation_js(r: &Revocation, cover: &mut Coverage) -> Js {
    let (name, fields) = match *r {
        Revocation::This => ("This", vec![]),
        Revocation::Others => ("Others", vec![]),
        Revocation::All => ("All", vec![]),
        Revocation::One(id) => ("One", vec![("id", u64_(id))]),
    };
    tagged(
        "kind",
        variant(cover, "Revocation", &REVOCATION_VARIANTS, r, name),
        fields,
    )
}

fn device_session_js(d: &DeviceSession) -> Js {
    Js::Obj(vec![
        ("id", u64_(d.id)),
        ("device", str_(&d.device)),
        ("created", i64_(d.created)),
        ("last_used", i64_(d.last_used)),
        ("current", Js::Bool(d.current)),
    ])
}

fn error_kind_js(kind: ErrorKind, cover: &mut Coverage) -> Js {
    let name = format!("{kind:?}");
    cover.note("ErrorKind", &name);
    Js::Str(name)
}

fn left_reason_js(reason: LeftReason, cover: &mut Coverage) -> Js {
    let name = format!("{reason:?}");
    cover.note("LeftReason", &name);
    Js::Str(name)
}

fn opt_str(v: Option<&str>) -> Js {
    v.map_or(Js::Null, str_)
}

fn opt_u64(v: Option<u64>) -> Js {
    v.map_or(Js::Null, u64_)
}

fn opt_i64(v: Option<i64>) -> Js {
    v.map_or(Js::Null, i64_)
}

fn ban_target_js(t: &BanTarget, cover: &mut Coverage) -> Js {
    let (name, fields) = match t {
        BanTarget::Account(name) => ("Account", vec![("name", str_(name))]),
        BanTarget::Name(name) => ("Name", vec![("name", str_(name))]),
        BanTarget::Address(address) => ("Address", vec![("address", str_(address))]),
    };
    tagged(
        "kind",
        variant(cover, "BanTarget", &BAN_TARGET_VARIANTS, t, name),
        fields,
    )
}

fn room_action_js(a: &RoomAction, cover: &mut Coverage) -> Js {
    let (name, fields) = match a {
        RoomAction::Kick { user, reason } => {
            ("Kick", vec![("user", str_(user)), ("reason", str_(reason))])
        }
        RoomAction::Ban {
            target,
            for_secs,
            reason,
        } => (
            "Ban",
            vec![
                ("target", ban_target_js(target, cover)),
                ("for_secs", opt_u64(*for_secs)),
                ("reason", str_(reason)),
            ],
        ),
        RoomAction::Unban { target } => ("Unban", vec![("target", ban_target_js(target, cover))]),
        RoomAction::Mute {
            user,
            for_secs,
            reason,
        } => (
            "Mute",
            vec![
                ("user", str_(user)),
                ("for_secs", opt_u64(*for_secs)),
                ("reason", str_(reason)),
            ],
        ),
        RoomAction::Unmute { user } => ("Unmute", vec![("user", str_(user))]),
        RoomAction::Promote { user } => ("Promote", vec![("user", str_(user))]),
        RoomAction::Demote { user } => ("Demote", vec![("user", str_(user))]),
        RoomAction::Topic { topic } => ("Topic", vec![("topic", str_(topic))]),
        RoomAction::RegisteredOnly { on } => ("RegisteredOnly", vec![("on", Js::Bool(*on))]),
        RoomAction::Slow { secs } => ("Slow", vec![("secs", u32_(*secs))]),
    };
    tagged(
        "kind",
        variant(cover, "RoomAction", &ROOM_ACTION_VARIANTS, a, name),
        fields,
    )
}

fn server_action_js(a: &ServerAction, cover: &mut Coverage) -> Js {
    let (name, fields) = match a {
        ServerAction::Ban {
            target,
            for_secs,
            reason,
        } => (
            "Ban",
            vec![
                ("target", ban_target_js(target, cover)),
                ("for_secs", opt_u64(*for_secs)),
                ("reason", str_(reason)),
            ],
        ),
        ServerAction::Unban { target } => ("Unban", vec![("target", ban_target_js(target, cover))]),
        ServerAction::Suspend { account, reason } => (
            "Suspend",
            vec![("account", str_(account)), ("reason", str_(reason))],
        ),
        ServerAction::Unsuspend { account } => ("Unsuspend", vec![("account", str_(account))]),
    };
    tagged(
        "kind",
        variant(cover, "ServerAction", &SERVER_ACTION_VARIANTS, a, name),
        fields,
    )
}

fn ban_js(b: &Ban, cover: &mut Coverage) -> Js {
    Js::Obj(vec![
        ("target", ban_target_js(&b.target, cover)),
        ("by", str_(&b.by)),
        ("reason", str_(&b.reason)),
        ("until", opt_i64(b.until)),
    ])
}

fn mute_js(m: &Mute) -> Js {
    Js::Obj(vec![
        ("user", str_(&m.user)),
        ("by", str_(&m.by)),
        ("reason", str_(&m.reason)),
        ("until", opt_i64(m.until)),
    ])
}

fn room_info_js(i: &RoomInfo, cover: &mut Coverage) -> Js {
    Js::Obj(vec![
        ("room", str_(&i.room)),
        ("owner", opt_str(i.owner.as_deref())),
        ("moderators", strings(&i.moderators)),
        ("topic", str_(&i.topic)),
        ("registered_only", Js::Bool(i.registered_only)),
        ("slow_secs", u32_(i.slow_secs)),
        (
            "bans",
            Js::List(i.bans.iter().map(|b| ban_js(b, cover)).collect()),
        ),
        ("mutes", Js::List(i.mutes.iter().map(mute_js).collect())),
        ("moderator", Js::Bool(i.moderator)),
    ])
}

fn room_change_js(c: &RoomChange, cover: &mut Coverage) -> Js {
    let (name, fields) = match c {
        RoomChange::Claimed => ("Claimed", vec![]),
        RoomChange::Kicked { user, reason } => (
            "Kicked",
            vec![("user", str_(user)), ("reason", str_(reason))],
        ),
        RoomChange::Banned {
            target,
            reason,
            until,
        } => (
            "Banned",
            vec![
                ("target", ban_target_js(target, cover)),
                ("reason", str_(reason)),
                ("until", opt_i64(*until)),
            ],
        ),
        RoomChange::Unbanned { target } => {
            ("Unbanned", vec![("target", ban_target_js(target, cover))])
        }
        RoomChange::Muted {
            user,
            reason,
            until,
        } => (
            "Muted",
            vec![
                ("user", str_(user)),
                ("reason", str_(reason)),
                ("until", opt_i64(*until)),
            ],
        ),
        RoomChange::Unmuted { user } => ("Unmuted", vec![("user", str_(user))]),
        RoomChange::Promoted { user } => ("Promoted", vec![("user", str_(user))]),
        RoomChange::Demoted { user } => ("Demoted", vec![("user", str_(user))]),
        RoomChange::Topic { topic } => ("Topic", vec![("topic", str_(topic))]),
        RoomChange::RegisteredOnly { on } => ("RegisteredOnly", vec![("on", Js::Bool(*on))]),
        RoomChange::Slow { secs } => ("Slow", vec![("secs", u32_(*secs))]),
    };
    tagged(
        "kind",
        variant(cover, "RoomChange", &ROOM_CHANGE_VARIANTS, c, name),
        fields,
    )
}

fn audit_entry_js(e: &AuditEntry) -> Js {
    Js::Obj(vec![
        ("at", i64_(e.at)),
        ("actor", str_(&e.actor)),
        ("room", opt_str(e.room.as_deref())),
        ("action", str_(&e.action)),
        ("target", str_(&e.target)),
        ("reason", str_(&e.reason)),
        ("until", opt_i64(e.until)),
    ])
}

/// The object codec.js decodes `frame` to. No `_` arm: a new variant stops the build here.
fn client_js(frame: &ClientFrame, cover: &mut Coverage) -> Js {
    let (name, fields) = match frame {
        ClientFrame::Hello {
            version,
            username,
            password,
        } => (
            "Hello",
            vec![
                ("version", u32_(*version)),
                ("username", str_(username)),
                ("password", password.as_deref().map_or(Js::Null, str_)),
            ],
        ),
        ClientFrame::Msg { room, text } => {
            ("Msg", vec![("room", str_(room)), ("text", str_(text))])
        }
        ClientFrame::Whisper { to, text } => {
            ("Whisper", vec![("to", str_(to)), ("text", str_(text))])
        }
        ClientFrame::ListUsers => ("ListUsers", vec![]),
        ClientFrame::Ping => ("Ping", vec![]),
        ClientFrame::Pong => ("Pong", vec![]),
        ClientFrame::Bye => ("Bye", vec![]),
        ClientFrame::Join { room, backlog } => (
            "Join",
            vec![
                ("room", str_(room)),
                ("backlog", backlog_js(backlog, cover)),
            ],
        ),
        ClientFrame::Part { room } => ("Part", vec![("room", str_(room))]),
        ClientFrame::ListRooms => ("ListRooms", vec![]),
        ClientFrame::ListMembers { room } => ("ListMembers", vec![("room", str_(room))]),
        ClientFrame::History { room, from, limit } => (
            "History",
            vec![
                ("room", str_(room)),
                ("from", cursor_js(from, cover)),
                ("limit", u32_(*limit)),
            ],
        ),
        ClientFrame::SignIn {
            version,
            username,
            server_password,
            credential,
            online,
        } => (
            "SignIn",
            vec![
                ("version", u32_(*version)),
                ("username", str_(username)),
                (
                    "server_password",
                    server_password.as_deref().map_or(Js::Null, str_),
                ),
                ("credential", credential_js(credential, cover)),
                ("online", Js::Bool(*online)),
            ],
        ),
        ClientFrame::Register {
            version,
            username,
            server_password,
            password,
            device,
        } => (
            "Register",
            vec![
                ("version", u32_(*version)),
                ("username", str_(username)),
                (
                    "server_password",
                    server_password.as_deref().map_or(Js::Null, str_),
                ),
                ("password", str_(password.expose())),
                ("device", str_(device)),
            ],
        ),
        ClientFrame::ChangePassword { old, new } => (
            "ChangePassword",
            vec![("old", str_(old.expose())), ("new", str_(new.expose()))],
        ),
        ClientFrame::ListSessions => ("ListSessions", vec![]),
        ClientFrame::Revoke { which } => ("Revoke", vec![("which", revocation_js(which, cover))]),
        ClientFrame::DeleteAccount { password } => {
            ("DeleteAccount", vec![("password", str_(password.expose()))])
        }
        ClientFrame::Disconnect { user, reason } => (
            "Disconnect",
            vec![("user", str_(user)), ("reason", str_(reason))],
        ),
        ClientFrame::Claim { room } => ("Claim", vec![("room", str_(room))]),
        ClientFrame::Moderate { room, action } => (
            "Moderate",
            vec![
                ("room", str_(room)),
                ("action", room_action_js(action, cover)),
            ],
        ),
        ClientFrame::RemoveMessage { room, seq } => (
            "RemoveMessage",
            vec![("room", str_(room)), ("seq", u64_(*seq))],
        ),
        ClientFrame::Operate { action } => {
            ("Operate", vec![("action", server_action_js(action, cover))])
        }
        ClientFrame::RoomInfo { room } => ("RoomInfo", vec![("room", str_(room))]),
        ClientFrame::ModLog { room, limit } => (
            "ModLog",
            vec![("room", opt_str(room.as_deref())), ("limit", u32_(*limit))],
        ),
        ClientFrame::Reply { room, to, text } => (
            "Reply",
            vec![
                ("room", str_(room)),
                ("to", u64_(*to)),
                ("text", str_(text)),
            ],
        ),
        ClientFrame::Edit { room, seq, text } => (
            "Edit",
            vec![
                ("room", str_(room)),
                ("seq", u64_(*seq)),
                ("text", str_(text)),
            ],
        ),
        ClientFrame::React {
            room,
            seq,
            emoji,
            on,
        } => (
            "React",
            vec![
                ("room", str_(room)),
                ("seq", u64_(*seq)),
                ("emoji", str_(emoji)),
                ("on", Js::Bool(*on)),
            ],
        ),
        ClientFrame::Typing { room } => ("Typing", vec![("room", str_(room))]),
        ClientFrame::Search {
            query,
            room,
            before,
            limit,
        } => (
            "Search",
            vec![
                ("query", str_(query)),
                ("room", opt_str(room.as_deref())),
                ("before", before.as_ref().map_or(Js::Null, search_cursor_js)),
                ("limit", u32_(*limit)),
            ],
        ),
    };
    tagged(
        "type",
        variant(cover, "ClientFrame", &CLIENT_VARIANTS, frame, name),
        fields,
    )
}

fn past_kind_js(k: &PastKind, cover: &mut Coverage) -> Js {
    let (name, fields) = match k {
        PastKind::Message => ("Message", vec![]),
        PastKind::Removed { by } => ("Removed", vec![("by", str_(by))]),
        PastKind::Removal { target } => ("Removal", vec![("target", u64_(*target))]),
        PastKind::Edit { target } => ("Edit", vec![("target", u64_(*target))]),
        PastKind::React { target, emoji } => (
            "React",
            vec![("target", u64_(*target)), ("emoji", str_(emoji))],
        ),
        PastKind::Unreact { target, emoji } => (
            "Unreact",
            vec![("target", u64_(*target)), ("emoji", str_(emoji))],
        ),
    };
    tagged(
        "kind",
        variant(cover, "PastKind", &PAST_KIND_VARIANTS, k, name),
        fields,
    )
}

fn past_js(p: &Past, cover: &mut Coverage) -> Js {
    Js::Obj(vec![
        ("seq", u64_(p.seq)),
        ("from", str_(&p.from)),
        ("text", str_(&p.text)),
        ("at", i64_(p.at)),
        ("kind", past_kind_js(&p.kind, cover)),
        ("reply_to", opt_u64(p.reply_to)),
        ("edited", opt_i64(p.edited)),
        (
            "reactions",
            Js::List(
                p.reactions
                    .iter()
                    .map(|r| {
                        Js::Obj(vec![
                            ("emoji", str_(&r.emoji)),
                            ("by", Js::List(r.by.iter().map(|b| str_(b)).collect())),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

fn search_cursor_js(c: &SearchCursor) -> Js {
    Js::Obj(vec![
        ("at", i64_(c.at)),
        ("room", str_(&c.room)),
        ("seq", u64_(c.seq)),
    ])
}

fn hit_js(hit: &Hit, cover: &mut Coverage) -> Js {
    let marks = hit
        .marks
        .iter()
        .map(|m| Js::Obj(vec![("start", u32_(m.start)), ("end", u32_(m.end))]))
        .collect();
    Js::Obj(vec![
        ("room", str_(&hit.room)),
        ("entry", past_js(&hit.entry, cover)),
        ("marks", Js::List(marks)),
    ])
}

fn room_summary_js(r: &RoomSummary) -> Js {
    Js::Obj(vec![("name", str_(&r.name)), ("members", u32_(r.members))])
}

/// The object codec.js decodes `frame` to. No `_` arm: a new variant stops the build here.
fn server_js(frame: &ServerFrame, cover: &mut Coverage) -> Js {
    let (name, fields) = match frame {
        ServerFrame::Welcome {
            version,
            username,
            online,
            buffsize,
            rooms_per_user,
            history,
        } => (
            "Welcome",
            vec![
                ("version", u32_(*version)),
                ("username", str_(username)),
                ("online", u32_(*online)),
                ("buffsize", u32_(*buffsize)),
                ("rooms_per_user", u32_(*rooms_per_user)),
                ("history", u32_(*history)),
            ],
        ),
        ServerFrame::Msg {
            room,
            from,
            text,
            at,
            seq,
        } => (
            "Msg",
            vec![
                ("room", str_(room)),
                ("from", str_(from)),
                ("text", str_(text)),
                ("at", i64_(*at)),
                ("seq", u64_(*seq)),
            ],
        ),
        ServerFrame::Whisper { from, to, text, at } => (
            "Whisper",
            vec![
                ("from", str_(from)),
                ("to", str_(to)),
                ("text", str_(text)),
                ("at", i64_(*at)),
            ],
        ),
        ServerFrame::UserList { users } => ("UserList", vec![("users", strings(users))]),
        ServerFrame::System { text, at } => {
            ("System", vec![("text", str_(text)), ("at", i64_(*at))])
        }
        ServerFrame::Error { kind, detail } => (
            "Error",
            vec![
                ("kind", error_kind_js(*kind, cover)),
                ("detail", str_(detail)),
            ],
        ),
        ServerFrame::Pong => ("Pong", vec![]),
        ServerFrame::Ping => ("Ping", vec![]),
        ServerFrame::Joined { room, members } => (
            "Joined",
            vec![("room", str_(room)), ("members", strings(members))],
        ),
        ServerFrame::Parted { room } => ("Parted", vec![("room", str_(room))]),
        ServerFrame::RoomList { rooms } => (
            "RoomList",
            vec![(
                "rooms",
                Js::List(rooms.iter().map(room_summary_js).collect()),
            )],
        ),
        ServerFrame::Members { room, users } => (
            "Members",
            vec![("room", str_(room)), ("users", strings(users))],
        ),
        ServerFrame::UserJoined { room, user, at } => (
            "UserJoined",
            vec![
                ("room", str_(room)),
                ("user", str_(user)),
                ("at", i64_(*at)),
            ],
        ),
        ServerFrame::UserLeft {
            room,
            user,
            at,
            reason,
        } => (
            "UserLeft",
            vec![
                ("room", str_(room)),
                ("user", str_(user)),
                ("at", i64_(*at)),
                ("reason", left_reason_js(*reason, cover)),
            ],
        ),
        ServerFrame::History {
            room,
            messages,
            more,
            next,
            backlog,
            missed,
        } => (
            "History",
            vec![
                ("room", str_(room)),
                (
                    "messages",
                    Js::List(messages.iter().map(|p| past_js(p, cover)).collect()),
                ),
                ("more", Js::Bool(*more)),
                ("next", cursor_js(next, cover)),
                ("backlog", Js::Bool(*backlog)),
                ("missed", Js::Bool(*missed)),
            ],
        ),
        ServerFrame::SignedIn { session, token } => (
            "SignedIn",
            vec![
                ("session", u64_(*session)),
                ("token", token.as_ref().map_or(Js::Null, token_js)),
            ],
        ),
        ServerFrame::Sessions { sessions } => (
            "Sessions",
            vec![(
                "sessions",
                Js::List(sessions.iter().map(device_session_js).collect()),
            )],
        ),
        ServerFrame::Revoked { count } => ("Revoked", vec![("count", u32_(*count))]),
        ServerFrame::PasswordChanged { ended } => {
            ("PasswordChanged", vec![("ended", u32_(*ended))])
        }
        ServerFrame::AccountDeleted => ("AccountDeleted", vec![]),
        ServerFrame::Disconnected { user } => ("Disconnected", vec![("user", str_(user))]),
        ServerFrame::RoomInfo { info } => ("RoomInfo", vec![("info", room_info_js(info, cover))]),
        ServerFrame::RoomChanged {
            room,
            by,
            change,
            at,
        } => (
            "RoomChanged",
            vec![
                ("room", str_(room)),
                ("by", str_(by)),
                ("change", room_change_js(change, cover)),
                ("at", i64_(*at)),
            ],
        ),
        ServerFrame::MessageRemoved {
            room,
            seq,
            target,
            by,
            at,
        } => (
            "MessageRemoved",
            vec![
                ("room", str_(room)),
                ("seq", u64_(*seq)),
                ("target", u64_(*target)),
                ("by", str_(by)),
                ("at", i64_(*at)),
            ],
        ),
        ServerFrame::ModLog { entries } => (
            "ModLog",
            vec![(
                "entries",
                Js::List(entries.iter().map(audit_entry_js).collect()),
            )],
        ),
        ServerFrame::Enforced { closed } => ("Enforced", vec![("closed", u32_(*closed))]),
        ServerFrame::Event { room, entry } => (
            "Event",
            vec![("room", str_(room)), ("entry", past_js(entry, cover))],
        ),
        ServerFrame::Typing { room, user } => {
            ("Typing", vec![("room", str_(room)), ("user", str_(user))])
        }
        ServerFrame::SearchResults { query, hits, next } => (
            "SearchResults",
            vec![
                ("query", str_(query)),
                (
                    "hits",
                    Js::List(hits.iter().map(|hit| hit_js(hit, cover)).collect()),
                ),
                ("next", next.as_ref().map_or(Js::Null, search_cursor_js)),
            ],
        ),
    };
    tagged(
        "type",
        variant(cover, "ServerFrame", &SERVER_VARIANTS, frame, name),
        fields,
    )
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| s(n)).collect()
}

/// Client frames worth a vector: every variant, the edges of every integer's varint forms,
/// empty and non-ASCII strings.
fn client_frames() -> Vec<(String, ClientFrame)> {
    let mut out = vec![
        (
            s("Hello"),
            ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                username: s("ann"),
                password: None,
            },
        ),
        (
            s("Hello with a non-ASCII password"),
            ClientFrame::Hello {
                version: PROTOCOL_VERSION,
                username: s("Zoë"),
                password: Some(s("pässwörd 🔑")),
            },
        ),
        (
            s("Hello, version u32::MAX, empty strings"),
            ClientFrame::Hello {
                version: u32::MAX,
                username: s(""),
                password: Some(s("")),
            },
        ),
        (
            s("Msg"),
            ClientFrame::Msg {
                room: s("lobby"),
                text: s("hi"),
            },
        ),
        (
            s("Msg, non-ASCII"),
            ClientFrame::Msg {
                room: s("#Rust"),
                text: s("héllo — 你好 👩\u{200d}💻 مرحبا"),
            },
        ),
        (
            s("Msg starting with U+FEFF"),
            ClientFrame::Msg {
                room: s("lobby"),
                text: s("\u{feff}kept, not a byte order mark"),
            },
        ),
        (
            s("Msg of 300 bytes (a 3-byte length)"),
            ClientFrame::Msg {
                room: s("lobby"),
                text: "é".repeat(150),
            },
        ),
        (
            s("Msg, empty strings"),
            ClientFrame::Msg {
                room: s(""),
                text: s(""),
            },
        ),
        (
            s("Whisper"),
            ClientFrame::Whisper {
                to: s("bob"),
                text: s("psst, ça va ?"),
            },
        ),
        (s("ListUsers"), ClientFrame::ListUsers),
        (s("Ping"), ClientFrame::Ping),
        (s("Pong"), ClientFrame::Pong),
        (s("Bye"), ClientFrame::Bye),
        (s("Part"), ClientFrame::Part { room: s("#rust") }),
        (s("ListRooms"), ClientFrame::ListRooms),
        (s("ListMembers"), ClientFrame::ListMembers { room: s("") }),
    ];
    let backlogs = [
        ("None", Backlog::None),
        ("Latest(50)", Backlog::Latest(50)),
        ("Latest(u32::MAX)", Backlog::Latest(u32::MAX)),
        ("After(0)", Backlog::After(0)),
        ("After(250)", Backlog::After(250)),
        ("After(251)", Backlog::After(251)),
        ("After(65535)", Backlog::After(65_535)),
        ("After(65536)", Backlog::After(65_536)),
        ("After(2^40)", Backlog::After(1 << 40)),
        ("After(u64::MAX)", Backlog::After(u64::MAX)),
    ];
    for (label, backlog) in backlogs {
        out.push((
            format!("Join, backlog {label}"),
            ClientFrame::Join {
                room: s("lobby"),
                backlog,
            },
        ));
    }
    let pages = [
        ("Latest", Cursor::Latest, 50),
        ("Before(301)", Cursor::Before(301), 500),
        ("Before(2^53 - 1)", Cursor::Before(MAX_SAFE_INTEGER), 0),
        ("After(2^53)", Cursor::After(MAX_SAFE_INTEGER + 1), u32::MAX),
        ("After(u64::MAX)", Cursor::After(u64::MAX), 1),
    ];
    for (label, from, limit) in pages {
        out.push((
            format!("History from {label}, limit {limit}"),
            ClientFrame::History {
                room: s("rust"),
                from,
                limit,
            },
        ));
    }
    let token = SessionToken::from_bytes(std::array::from_fn(|i| (i * 8 + 1) as u8));
    out.extend([
        (
            s("SignIn with a password"),
            ClientFrame::SignIn {
                version: PROTOCOL_VERSION,
                username: s("ann"),
                server_password: None,
                credential: Credential::Password {
                    password: Secret::new("violet tractor"),
                    device: s("laptop"),
                },
                online: true,
            },
        ),
        (
            s("SignIn with a token"),
            ClientFrame::SignIn {
                version: PROTOCOL_VERSION,
                username: s("ann"),
                server_password: Some(s("club")),
                credential: Credential::Token(token),
                online: false,
            },
        ),
        (
            s("Register"),
            ClientFrame::Register {
                version: PROTOCOL_VERSION,
                username: s("Zoë"),
                server_password: None,
                password: Secret::new("pässwörd 🔑 long"),
                device: s("Firefox"),
            },
        ),
        (
            s("ChangePassword"),
            ClientFrame::ChangePassword {
                old: Secret::new("violet tractor"),
                new: Secret::new("amber kettle"),
            },
        ),
        (
            s("SignIn with the cookie"),
            ClientFrame::SignIn {
                version: PROTOCOL_VERSION,
                username: s("ann"),
                server_password: None,
                credential: Credential::Cookie,
                online: true,
            },
        ),
        (s("ListSessions"), ClientFrame::ListSessions),
        (
            s("DeleteAccount"),
            ClientFrame::DeleteAccount {
                password: Secret::new("amber kettle"),
            },
        ),
        (
            s("Disconnect"),
            ClientFrame::Disconnect {
                user: s("troll"),
                reason: s("spam"),
            },
        ),
    ]);
    for (name, which) in [
        ("This", Revocation::This),
        ("Others", Revocation::Others),
        ("All", Revocation::All),
        ("One", Revocation::One(301)),
        ("One, the largest id", Revocation::One(u64::MAX)),
    ] {
        out.push((format!("Revoke {name}"), ClientFrame::Revoke { which }));
    }
    out.push((s("Claim"), ClientFrame::Claim { room: s("#Rust") }));
    let room_actions = [
        (
            "Kick",
            RoomAction::Kick {
                user: s("troll"),
                reason: s("spam"),
            },
        ),
        (
            "Kick, no reason",
            RoomAction::Kick {
                user: s("Zoë"),
                reason: s(""),
            },
        ),
        (
            "Ban an account for an hour",
            RoomAction::Ban {
                target: BanTarget::Account(s("troll")),
                for_secs: Some(3_600),
                reason: s("spam, again"),
            },
        ),
        (
            "Ban a name for good",
            RoomAction::Ban {
                target: BanTarget::Name(s("Troll2")),
                for_secs: None,
                reason: s(""),
            },
        ),
        (
            "Ban a network for u64::MAX seconds",
            RoomAction::Ban {
                target: BanTarget::Address(s("192.0.2.0/24")),
                for_secs: Some(u64::MAX),
                reason: s("a botnet"),
            },
        ),
        (
            "Unban an address",
            RoomAction::Unban {
                target: BanTarget::Address(s("2001:db8::/32")),
            },
        ),
        (
            "Mute for 10 minutes",
            RoomAction::Mute {
                user: s("loud"),
                for_secs: Some(600),
                reason: s("CAPS"),
            },
        ),
        (
            "Mute until unmuted",
            RoomAction::Mute {
                user: s("loud"),
                for_secs: None,
                reason: s(""),
            },
        ),
        ("Unmute", RoomAction::Unmute { user: s("loud") }),
        ("Promote", RoomAction::Promote { user: s("bob") }),
        ("Demote", RoomAction::Demote { user: s("bob") }),
        (
            "Topic",
            RoomAction::Topic {
                topic: s("Rust, ça rouille 🦀"),
            },
        ),
        ("Topic, none", RoomAction::Topic { topic: s("") }),
        ("RegisteredOnly on", RoomAction::RegisteredOnly { on: true }),
        (
            "RegisteredOnly off",
            RoomAction::RegisteredOnly { on: false },
        ),
        ("Slow 30", RoomAction::Slow { secs: 30 }),
        ("Slow off", RoomAction::Slow { secs: 0 }),
        ("Slow u32::MAX", RoomAction::Slow { secs: u32::MAX }),
    ];
    for (label, action) in room_actions {
        out.push((
            format!("Moderate, {label}"),
            ClientFrame::Moderate {
                room: s("rust"),
                action,
            },
        ));
    }
    out.extend([
        (
            s("RemoveMessage"),
            ClientFrame::RemoveMessage {
                room: s("rust"),
                seq: 301,
            },
        ),
        (
            s("RemoveMessage, seq u64::MAX"),
            ClientFrame::RemoveMessage {
                room: s("#Rust"),
                seq: u64::MAX,
            },
        ),
    ]);
    let server_actions = [
        (
            "Ban an address for good",
            ServerAction::Ban {
                target: BanTarget::Address(s("203.0.113.9")),
                for_secs: None,
                reason: s("abuse"),
            },
        ),
        (
            "Ban an account for a day",
            ServerAction::Ban {
                target: BanTarget::Account(s("Troll")),
                for_secs: Some(86_400),
                reason: s(""),
            },
        ),
        (
            "Unban a name",
            ServerAction::Unban {
                target: BanTarget::Name(s("troll")),
            },
        ),
        (
            "Suspend",
            ServerAction::Suspend {
                account: s("troll"),
                reason: s("spam in #rust"),
            },
        ),
        (
            "Unsuspend",
            ServerAction::Unsuspend {
                account: s("troll"),
            },
        ),
    ];
    for (label, action) in server_actions {
        out.push((format!("Operate, {label}"), ClientFrame::Operate { action }));
    }
    out.extend([
        (s("RoomInfo"), ClientFrame::RoomInfo { room: s("rust") }),
        (
            s("ModLog of a room"),
            ClientFrame::ModLog {
                room: Some(s("#Rust")),
                limit: 50,
            },
        ),
        (
            s("ModLog server-wide, limit u32::MAX"),
            ClientFrame::ModLog {
                room: None,
                limit: u32::MAX,
            },
        ),
        (
            s("Reply"),
            ClientFrame::Reply {
                room: s("#Rust"),
                to: 300,
                text: s("agreed 👍"),
            },
        ),
        (
            s("Edit, a big seq"),
            ClientFrame::Edit {
                room: s("rust"),
                seq: MAX_SAFE_INTEGER + 1,
                text: s("fixed the typo"),
            },
        ),
        (
            s("React"),
            ClientFrame::React {
                room: s("rust"),
                seq: 301,
                emoji: s("👍🏽"),
                on: true,
            },
        ),
        (
            s("React, taken back"),
            ClientFrame::React {
                room: s("rust"),
                seq: 301,
                emoji: s("🎉"),
                on: false,
            },
        ),
        (s("Typing"), ClientFrame::Typing { room: s("Rust") }),
        (
            s("Search, every room"),
            ClientFrame::Search {
                query: s("deploy \"next week\""),
                room: None,
                before: None,
                limit: 20,
            },
        ),
        (
            s("Search, a room, a page on"),
            ClientFrame::Search {
                query: s("東京都"),
                room: Some(s("#Rust")),
                before: Some(SearchCursor {
                    at: AT,
                    room: s("rust"),
                    seq: MAX_SAFE_INTEGER + 1,
                }),
                limit: u32::MAX,
            },
        ),
    ]);
    out
}

/// Server frames worth a vector, as [`client_frames`], plus one `Error` per kind and one
/// `UserLeft` per reason.
fn server_frames() -> Vec<(String, ServerFrame)> {
    let mut out = vec![
        (
            s("Welcome"),
            ServerFrame::Welcome {
                version: PROTOCOL_VERSION,
                username: s("ann"),
                online: 2,
                buffsize: 1024,
                rooms_per_user: 50,
                history: 500,
            },
        ),
        (
            s("Welcome, u32 extremes"),
            ServerFrame::Welcome {
                version: u32::MAX,
                username: s("Zoë"),
                online: 65_536,
                buffsize: u32::MAX,
                rooms_per_user: 0,
                history: 0,
            },
        ),
        (
            s("Msg"),
            ServerFrame::Msg {
                room: s("Rust"),
                from: s("bob"),
                text: s("hi"),
                at: AT,
                seq: 301,
            },
        ),
        (
            s("Msg, non-ASCII, seq 2^40"),
            ServerFrame::Msg {
                room: s("lobby"),
                from: s("émile"),
                text: s("日本語のテキスト 🎉"),
                at: AT,
                seq: 1 << 40,
            },
        ),
        (
            s("Msg, at 0 and seq 0, empty text"),
            ServerFrame::Msg {
                room: s(""),
                from: s(""),
                text: s(""),
                at: 0,
                seq: 0,
            },
        ),
        (
            s("Msg, at -1, seq 2^53 - 1"),
            ServerFrame::Msg {
                room: s("lobby"),
                from: s("ann"),
                text: s("before the epoch"),
                at: -1,
                seq: MAX_SAFE_INTEGER,
            },
        ),
        (
            s("Msg, at -(2^53 - 1), seq 2^53"),
            ServerFrame::Msg {
                room: s("lobby"),
                from: s("ann"),
                text: s("the last safe integers"),
                at: -(MAX_SAFE_INTEGER as i64),
                seq: MAX_SAFE_INTEGER + 1,
            },
        ),
        (
            s("Msg, at i64::MIN, seq u64::MAX"),
            ServerFrame::Msg {
                room: s("lobby"),
                from: s("ann"),
                text: s("extremes"),
                at: i64::MIN,
                seq: u64::MAX,
            },
        ),
        (
            s("Msg, at i64::MAX"),
            ServerFrame::Msg {
                room: s("lobby"),
                from: s("ann"),
                text: s("far future"),
                at: i64::MAX,
                seq: 1,
            },
        ),
        (
            s("Whisper"),
            ServerFrame::Whisper {
                from: s("ann"),
                to: s("bob"),
                text: s("psst 🤫"),
                at: AT,
            },
        ),
        (
            s("UserList"),
            ServerFrame::UserList {
                users: names(&["ann", "Bob", "carol"]),
            },
        ),
        (
            s("UserList, empty"),
            ServerFrame::UserList { users: vec![] },
        ),
        (
            s("System"),
            ServerFrame::System {
                text: s("server shutting down"),
                at: AT,
            },
        ),
        (s("Pong"), ServerFrame::Pong),
        (s("Ping"), ServerFrame::Ping),
        (
            s("Joined"),
            ServerFrame::Joined {
                room: s("Rust"),
                members: names(&["ann", "bob"]),
            },
        ),
        (
            s("Joined, no members"),
            ServerFrame::Joined {
                room: s("lobby"),
                members: vec![],
            },
        ),
        (s("Parted"), ServerFrame::Parted { room: s("Rust") }),
        (
            s("RoomList"),
            ServerFrame::RoomList {
                rooms: vec![
                    RoomSummary {
                        name: s("lobby"),
                        members: 1,
                    },
                    RoomSummary {
                        name: s("Rust"),
                        members: 300,
                    },
                    RoomSummary {
                        name: s(""),
                        members: u32::MAX,
                    },
                ],
            },
        ),
        (
            s("RoomList, empty"),
            ServerFrame::RoomList { rooms: vec![] },
        ),
        (
            s("Members"),
            ServerFrame::Members {
                room: s("Rust"),
                users: names(&["ann", "bob", "Zoë"]),
            },
        ),
        (
            s("UserJoined"),
            ServerFrame::UserJoined {
                room: s("Rust"),
                user: s("carol"),
                at: AT,
            },
        ),
        (
            s("History, a page back"),
            ServerFrame::History {
                room: s("Rust"),
                messages: vec![
                    Past {
                        seq: 300,
                        from: s("ann"),
                        text: s("yo"),
                        at: AT,
                        kind: PastKind::Message,
                        reply_to: None,
                        edited: None,
                        reactions: vec![],
                    },
                    Past {
                        seq: 301,
                        from: s("bob"),
                        text: s("ça roule 🚲"),
                        at: AT + 1,
                        kind: PastKind::Message,
                        reply_to: None,
                        edited: None,
                        reactions: vec![],
                    },
                ],
                more: true,
                next: Cursor::Before(300),
                backlog: false,
                missed: false,
            },
        ),
        (
            s("History, an empty backlog that missed"),
            ServerFrame::History {
                room: s("lobby"),
                messages: vec![],
                more: false,
                next: Cursor::Latest,
                backlog: true,
                missed: true,
            },
        ),
        (
            s("History, a catch-up with more, big seqs"),
            ServerFrame::History {
                room: s("lobby"),
                messages: vec![Past {
                    seq: u64::MAX,
                    from: s(""),
                    text: s(""),
                    at: i64::MIN,
                    kind: PastKind::Message,
                    reply_to: None,
                    edited: None,
                    reactions: vec![],
                }],
                more: true,
                next: Cursor::After(u64::MAX),
                backlog: true,
                missed: false,
            },
        ),
    ];
    for kind in every_unit_variant::<ErrorKind>() {
        out.push((
            format!("Error {kind:?}"),
            ServerFrame::Error {
                kind,
                detail: format!("{kind}: détail"),
            },
        ));
    }
    out.push((
        s("Error, empty detail"),
        ServerFrame::Error {
            kind: ErrorKind::BadFrame,
            detail: s(""),
        },
    ));
    for reason in every_unit_variant::<LeftReason>() {
        out.push((
            format!("UserLeft {reason:?}"),
            ServerFrame::UserLeft {
                room: s("Rust"),
                user: s("bob"),
                at: AT,
                reason,
            },
        ));
    }
    out.extend([
        (
            s("SignedIn with a new token"),
            ServerFrame::SignedIn {
                session: 7,
                token: Some(SessionToken::from_bytes([0xab; 32])),
            },
        ),
        (
            s("SignedIn with a token"),
            ServerFrame::SignedIn {
                session: 300,
                token: None,
            },
        ),
        (
            s("Sessions"),
            ServerFrame::Sessions {
                sessions: vec![
                    DeviceSession {
                        id: 7,
                        device: s("laptop"),
                        created: AT,
                        last_used: AT + 1,
                        current: true,
                    },
                    DeviceSession {
                        id: 300,
                        device: s("téléphone"),
                        created: AT - 86_400_000,
                        last_used: AT,
                        current: false,
                    },
                ],
            },
        ),
        (s("Revoked"), ServerFrame::Revoked { count: 2 }),
        (
            s("PasswordChanged"),
            ServerFrame::PasswordChanged { ended: 251 },
        ),
        (s("AccountDeleted"), ServerFrame::AccountDeleted),
        (
            s("Disconnected"),
            ServerFrame::Disconnected { user: s("Troll") },
        ),
        (
            s("History with a removed message and its removal"),
            ServerFrame::History {
                room: s("Rust"),
                messages: vec![
                    Past {
                        seq: 300,
                        from: s("troll"),
                        text: s(""),
                        at: AT,
                        kind: PastKind::Removed { by: s("ann") },
                        reply_to: None,
                        edited: None,
                        reactions: vec![],
                    },
                    Past {
                        seq: 302,
                        from: s("ann"),
                        text: s(""),
                        at: AT + 5_000,
                        kind: PastKind::Removal { target: 300 },
                        reply_to: None,
                        edited: None,
                        reactions: vec![],
                    },
                    Past {
                        seq: 303,
                        from: s("bob"),
                        text: s("merci"),
                        at: AT + 6_000,
                        kind: PastKind::Message,
                        reply_to: None,
                        edited: None,
                        reactions: vec![],
                    },
                ],
                more: false,
                next: Cursor::After(303),
                backlog: true,
                missed: false,
            },
        ),
        (
            s("History, a removal of seq u64::MAX"),
            ServerFrame::History {
                room: s("lobby"),
                messages: vec![Past {
                    seq: 1,
                    from: s("Zoë"),
                    text: s(""),
                    at: AT,
                    kind: PastKind::Removal { target: u64::MAX },
                    reply_to: None,
                    edited: None,
                    reactions: vec![],
                }],
                more: true,
                next: Cursor::Before(1),
                backlog: false,
                missed: false,
            },
        ),
        (
            s("RoomInfo, unclaimed"),
            ServerFrame::RoomInfo {
                info: RoomInfo {
                    room: s("lobby"),
                    owner: None,
                    moderators: vec![],
                    topic: s(""),
                    registered_only: false,
                    slow_secs: 0,
                    bans: vec![],
                    mutes: vec![],
                    moderator: false,
                },
            },
        ),
        (
            s("RoomInfo, claimed, with bans and mutes"),
            ServerFrame::RoomInfo {
                info: RoomInfo {
                    room: s("Rust"),
                    owner: Some(s("ann")),
                    moderators: names(&["bob", "Zoë"]),
                    topic: s("Rust, ça rouille 🦀"),
                    registered_only: true,
                    slow_secs: 300,
                    bans: vec![
                        Ban {
                            target: BanTarget::Account(s("troll")),
                            by: s("ann"),
                            reason: s("spam"),
                            until: Some(AT + 3_600_000),
                        },
                        Ban {
                            target: BanTarget::Address(s("192.0.2.0/24")),
                            by: s("boss"),
                            reason: s(""),
                            until: None,
                        },
                        Ban {
                            target: BanTarget::Name(s("Troll2")),
                            by: s("bob"),
                            reason: s("évasion"),
                            until: Some(i64::MAX),
                        },
                    ],
                    mutes: vec![
                        Mute {
                            user: s("loud"),
                            by: s("bob"),
                            reason: s("CAPS"),
                            until: Some(AT + 600_000),
                        },
                        Mute {
                            user: s("Zoë"),
                            by: s("ann"),
                            reason: s(""),
                            until: None,
                        },
                    ],
                    moderator: true,
                },
            },
        ),
    ]);
    let changes = [
        ("Claimed", RoomChange::Claimed),
        (
            "Kicked",
            RoomChange::Kicked {
                user: s("troll"),
                reason: s("spam"),
            },
        ),
        (
            "Banned, an account for an hour",
            RoomChange::Banned {
                target: BanTarget::Account(s("troll")),
                reason: s("spam, again"),
                until: Some(AT + 3_600_000),
            },
        ),
        (
            "Banned, a name for good",
            RoomChange::Banned {
                target: BanTarget::Name(s("Troll2")),
                reason: s(""),
                until: None,
            },
        ),
        (
            "Banned, an address (not shown)",
            RoomChange::Banned {
                target: BanTarget::Address(s("")),
                reason: s("a botnet"),
                until: Some(i64::MAX),
            },
        ),
        (
            "Unbanned",
            RoomChange::Unbanned {
                target: BanTarget::Address(s("")),
            },
        ),
        (
            "Muted for 10 minutes",
            RoomChange::Muted {
                user: s("loud"),
                reason: s("CAPS"),
                until: Some(AT + 600_000),
            },
        ),
        (
            "Muted until unmuted",
            RoomChange::Muted {
                user: s("Zoë"),
                reason: s(""),
                until: None,
            },
        ),
        ("Unmuted", RoomChange::Unmuted { user: s("loud") }),
        ("Promoted", RoomChange::Promoted { user: s("bob") }),
        ("Demoted", RoomChange::Demoted { user: s("bob") }),
        (
            "Topic",
            RoomChange::Topic {
                topic: s("Rust, ça rouille 🦀"),
            },
        ),
        ("Topic, none", RoomChange::Topic { topic: s("") }),
        ("RegisteredOnly on", RoomChange::RegisteredOnly { on: true }),
        (
            "RegisteredOnly off",
            RoomChange::RegisteredOnly { on: false },
        ),
        ("Slow 30", RoomChange::Slow { secs: 30 }),
        ("Slow off", RoomChange::Slow { secs: 0 }),
    ];
    for (label, change) in changes {
        out.push((
            format!("RoomChanged, {label}"),
            ServerFrame::RoomChanged {
                room: s("Rust"),
                by: s("ann"),
                change,
                at: AT,
            },
        ));
    }
    out.extend([
        (
            s("MessageRemoved"),
            ServerFrame::MessageRemoved {
                room: s("Rust"),
                seq: 302,
                target: 300,
                by: s("ann"),
                at: AT + 5_000,
            },
        ),
        (
            s("Event, a reply with reactions, edited"),
            ServerFrame::Event {
                room: s("Rust"),
                entry: Past {
                    seq: 303,
                    from: s("bob"),
                    text: s("agreed, fixed"),
                    at: AT + 6_000,
                    kind: PastKind::Message,
                    reply_to: Some(300),
                    edited: Some(AT + 7_000),
                    reactions: vec![
                        Reaction {
                            emoji: s("👍🏽"),
                            by: vec![s("ann"), s("Zoë")],
                        },
                        Reaction {
                            emoji: s("🎉"),
                            by: vec![s("carol")],
                        },
                    ],
                },
            },
        ),
        (
            s("Event, an edit"),
            ServerFrame::Event {
                room: s("Rust"),
                entry: Past {
                    seq: 304,
                    from: s("bob"),
                    text: s("agreed, fixed"),
                    at: AT + 7_000,
                    kind: PastKind::Edit { target: 303 },
                    reply_to: None,
                    edited: None,
                    reactions: vec![],
                },
            },
        ),
        (
            s("Event, a reaction"),
            ServerFrame::Event {
                room: s("Rust"),
                entry: Past {
                    seq: 305,
                    from: s("ann"),
                    text: s(""),
                    at: AT + 8_000,
                    kind: PastKind::React {
                        target: 303,
                        emoji: s("👍🏽"),
                    },
                    reply_to: None,
                    edited: None,
                    reactions: vec![],
                },
            },
        ),
        (
            s("Event, a reaction taken back, big seqs"),
            ServerFrame::Event {
                room: s("lobby"),
                entry: Past {
                    seq: u64::MAX,
                    from: s("ann"),
                    text: s(""),
                    at: i64::MIN,
                    kind: PastKind::Unreact {
                        target: MAX_SAFE_INTEGER + 1,
                        emoji: s("❤️"),
                    },
                    reply_to: None,
                    edited: None,
                    reactions: vec![],
                },
            },
        ),
        (
            s("Typing"),
            ServerFrame::Typing {
                room: s("Rust"),
                user: s("carol"),
            },
        ),
        (
            s("SearchResults, a hit and more"),
            ServerFrame::SearchResults {
                query: s("deploy"),
                hits: vec![Hit {
                    room: s("Rust"),
                    entry: Past {
                        seq: 300,
                        from: s("ann"),
                        text: s("Deploy the DEPLOYMENT"),
                        at: AT,
                        kind: PastKind::Message,
                        reply_to: None,
                        edited: None,
                        reactions: vec![],
                    },
                    marks: vec![Mark { start: 0, end: 6 }, Mark { start: 11, end: 17 }],
                }],
                next: Some(SearchCursor {
                    at: AT,
                    room: s("rust"),
                    seq: 300,
                }),
            },
        ),
        (
            s("SearchResults, nothing"),
            ServerFrame::SearchResults {
                query: s("東京都"),
                hits: vec![],
                next: None,
            },
        ),
        (
            s("MessageRemoved, big seqs"),
            ServerFrame::MessageRemoved {
                room: s("lobby"),
                seq: u64::MAX,
                target: MAX_SAFE_INTEGER + 1,
                by: s("Zoë"),
                at: i64::MIN,
            },
        ),
        (
            s("ModLog"),
            ServerFrame::ModLog {
                entries: vec![
                    AuditEntry {
                        at: AT + 5_000,
                        actor: s("ann"),
                        room: Some(s("Rust")),
                        action: s("remove"),
                        target: s("message 300"),
                        reason: s(""),
                        until: None,
                    },
                    AuditEntry {
                        at: AT,
                        actor: s("ann"),
                        room: Some(s("Rust")),
                        action: s("ban"),
                        target: s("account troll"),
                        reason: s("spam"),
                        until: Some(AT + 3_600_000),
                    },
                    AuditEntry {
                        at: AT - 1,
                        actor: s("boss"),
                        room: None,
                        action: s("suspend"),
                        target: s("troll"),
                        reason: s("spam in #rust"),
                        until: None,
                    },
                ],
            },
        ),
        (s("ModLog, empty"), ServerFrame::ModLog { entries: vec![] }),
        (s("Enforced"), ServerFrame::Enforced { closed: 2 }),
        (
            s("Enforced, none closed"),
            ServerFrame::Enforced { closed: 0 },
        ),
    ]);
    out
}

/// One line of `vectors.json`.
#[derive(Serialize)]
struct Vector {
    direction: &'static str,
    name: String,
    hex: String,
    frame: Js,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes `frame` with chat-proto's codec and checks it reads back to itself.
fn wire<T>(frame: &T) -> Vec<u8>
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let wire = codec::encode(frame).expect("a vector encodes");
    assert_eq!(&decode_body::<T>(wire.body()).unwrap(), frame);
    wire.as_bytes().to_vec()
}

/// Every vector, and what they cover.
fn vectors() -> (Vec<Vector>, Coverage) {
    let mut cover = Coverage::default();
    let mut out = Vec::new();
    for (name, frame) in client_frames() {
        out.push(Vector {
            direction: "client",
            name,
            hex: hex(&wire(&frame)),
            frame: client_js(&frame, &mut cover),
        });
    }
    for (name, frame) in server_frames() {
        out.push(Vector {
            direction: "server",
            name,
            hex: hex(&wire(&frame)),
            frame: server_js(&frame, &mut cover),
        });
    }
    (out, cover)
}

/// The file's text: one vector per line, so a change shows as a small diff.
fn render(vectors: &[Vector]) -> String {
    let lines: Vec<String> = vectors
        .iter()
        .map(|v| {
            format!(
                "  {}",
                serde_json::to_string(v).expect("a vector serialises")
            )
        })
        .collect();
    format!("[\n{}\n]\n", lines.join(",\n"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("chat-proto sits in the workspace")
        .to_owned()
}

fn web_test_dir() -> PathBuf {
    workspace_root().join("server/web/test")
}

fn updating() -> bool {
    std::env::var(UPDATE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The vectors cover every variant of both frame enums and of every enum inside them, and
/// no two share a name.
#[test]
fn every_variant_has_a_vector() {
    let (vectors, cover) = vectors();
    let expected = Coverage::expected();
    let missing: Vec<_> = expected.difference(&cover.0).collect();
    let unknown: Vec<_> = cover.0.difference(&expected).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "variants without a vector: {missing:?}; variants missing from this test's lists: \
         {unknown:?}"
    );
    let mut seen = BTreeSet::new();
    for v in &vectors {
        assert!(
            seen.insert((v.direction, v.name.as_str())),
            "two {} vectors are named {:?}",
            v.direction,
            v.name
        );
    }
}

/// `vectors.json` is what chat-proto encodes today, and codec.js decodes and re-encodes
/// every vector exactly (its `node --test` suite passes).
#[test]
fn the_browser_codec_agrees_with_chat_proto() {
    let (vectors, _) = vectors();
    let text = render(&vectors);
    let path = web_test_dir().join("vectors.json");
    let hint = format!(
        "regenerate it with `{UPDATE_ENV}=1 cargo test -p chat-proto --test golden_vectors` \
         and commit it"
    );
    if updating() {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    } else {
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; {hint}", path.display()));
        if committed != text {
            let line = committed
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(text.lines().count()));
            panic!(
                "{} differs from what chat-proto encodes (first at line {}:\n  committed: {}\n  \
                 generated: {}\n); {hint}",
                path.display(),
                line + 1,
                committed.lines().nth(line).unwrap_or("(end of file)"),
                text.lines().nth(line).unwrap_or("(end of file)"),
            );
        }
    }
    run_node_tests();
}

/// Runs every `*.test.mjs` of the page's tests under `node --test`, from the workspace
/// root. The files are named one by one because Node 20 takes a directory and Node 22 takes
/// globs; a list of files means the same to both.
fn run_node_tests() {
    let dir = web_test_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.to_str().is_some_and(|p| p.ends_with(".test.mjs")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());
    let output = Command::new("node")
        .arg("--test")
        .args(&files)
        .current_dir(workspace_root())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): Node.js 18 or later runs the browser codec's tests")
        });
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "node --test failed ({}):\n{shown}",
        output.status
    );
}

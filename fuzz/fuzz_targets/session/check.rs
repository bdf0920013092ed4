//! The checks run once a session is over: what every client sent and received, what the
//! witness saw and what the newcomer got, held against the server's rules (the invariants
//! listed at the top of the target).

use std::collections::{BTreeMap, BTreeSet};

use chat_proto::validate::{name_key, room_key, DEFAULT_ROOM};
use chat_proto::{ClientFrame, ErrorKind, LeftReason, RoomSummary, ServerFrame};

use super::healthy::{late_words, Late, Witness};
use super::model::{decode, key_of, possible_names, Seen, Stay, Walked};
use super::room::WatchedRoom;
use super::walk::walk;
use super::{Rules, Sim, WATCHED, WITNESS};

/// Holds what every client sent and received, what the witness saw and what the newcomer
/// got against the rules listed at the top of the target; panics at the first that fails.
pub(crate) fn check(sims: &[Sim], rules: Rules, witness: &Witness, late: &Late) {
    let seen: Vec<Seen> = sims.iter().map(|sim| decode(sim, rules.buffsize)).collect();
    let witness_dropped = witness.ended_early
        || witness.frames.iter().any(|f| {
            matches!(
                f,
                ServerFrame::Error {
                    kind: ErrorKind::SlowConsumer,
                    ..
                }
            )
        });
    for frame in &witness.frames {
        let fits = match frame {
            ServerFrame::Msg { .. }
            | ServerFrame::UserJoined { .. }
            | ServerFrame::UserLeft { .. } => true,
            ServerFrame::Whisper { to, .. } => to == WITNESS,
            ServerFrame::Error { kind, .. } => {
                matches!(kind, ErrorKind::SlowConsumer | ErrorKind::Timeout)
            }
            _ => false,
        };
        assert!(fits, "the witness, which asks nothing, got {frame:?}");
    }
    let watched: Option<Vec<(String, &str)>> = (!witness_dropped).then(|| {
        WATCHED
            .iter()
            .map(|shown| (room_key(shown), *shown))
            .collect()
    });

    if std::env::var_os("SESSION_DEBUG").is_some() {
        dump(&seen, witness, late);
    }
    let walked: Vec<Walked> = seen
        .iter()
        .map(|s| walk(s, rules, watched.as_deref()))
        .collect();

    // Who may speak as whom: every client welcomed under a name, and the newcomer.
    let late_said = [late_words()];
    // A client cut short before its Welcome came through may have been welcomed under any
    // valid name it asked for.
    let speakers: Vec<(&str, Vec<&ClientFrame>)> = walked
        .iter()
        .zip(&seen)
        .flat_map(|(w, s)| {
            let names: Vec<&str> = match (&w.name, s.may_be_cut) {
                (Some(name), _) => vec![name.as_str()],
                (None, true) => possible_names(s).collect(),
                (None, false) => vec![],
            };
            names.into_iter().map(|name| (name, s.sent().collect()))
        })
        .chain([("late", late_said.iter().collect())])
        .collect();
    for frame in seen.iter().flat_map(|s| &s.frames).chain(&witness.frames) {
        let spoken = match frame {
            ServerFrame::Msg {
                room, from, text, ..
            } => speakers.iter().any(|(name, sent)| {
                name == from
                    && sent.iter().any(|frame| {
                        matches!(frame, ClientFrame::Msg { room: r, text: t }
                            if t == text && key_of(r).as_deref() == Some(&room_key(room)))
                    })
            }),
            ServerFrame::Whisper { from, to, text, .. } => speakers.iter().any(|(name, sent)| {
                name == from
                    && sent.iter().any(|frame| {
                        matches!(frame, ClientFrame::Whisper { to: t, text: said }
                                if said == text && name_key(t) == name_key(to))
                    })
            }),
            _ => continue,
        };
        assert!(
            spoken,
            "{frame:?}: no client welcomed as its sender sent that"
        );
    }

    let expected_users: &[&str] = if witness_dropped {
        &["late"]
    } else {
        &["late", WITNESS]
    };
    assert_eq!(
        late.users, expected_users,
        "who is online after everyone left"
    );
    assert_eq!(
        late.members, expected_users,
        "who is in lobby after everyone left"
    );
    let mut expected_rooms: Vec<RoomSummary> = if witness_dropped {
        vec![]
    } else {
        WATCHED
            .iter()
            .filter(|r| **r != DEFAULT_ROOM)
            .map(|r| RoomSummary {
                name: (*r).to_owned(),
                members: 1,
            })
            .collect()
    };
    expected_rooms.push(RoomSummary {
        name: DEFAULT_ROOM.to_owned(),
        members: u32::try_from(expected_users.len()).unwrap(),
    });
    expected_rooms.sort_by_key(|r| room_key(&r.name));
    assert_eq!(
        late.rooms, expected_rooms,
        "the rooms after everyone but the witness left"
    );

    // One order per room among the clients, in the rooms the witness does not vouch for.
    pairwise(&walked, &seen, watched.as_deref());
    if witness_dropped {
        return;
    }

    // One order per room, against the witness.
    for shown in WATCHED {
        let log = WatchedRoom::new(shown, &witness.frames);
        // How many stays of each name the witness saw, and how many the clients account for.
        let mut joins: BTreeMap<&str, (usize, usize, bool)> = BTreeMap::new();
        for event in &log.events {
            if let ServerFrame::UserJoined { user, .. } = event {
                joins.entry(user).or_default().0 += 1;
            }
        }
        if log.key == room_key(DEFAULT_ROOM) {
            // The newcomer's stay, which it does not record.
            joins.entry("late").or_default().1 += 1;
        }
        for (w, s) in walked.iter().zip(&seen) {
            let Some(name) = &w.name else {
                if s.may_be_cut {
                    // Cut short before its Welcome came through: it may have joined rooms
                    // unseen under any name it asked for.
                    for name in possible_names(s) {
                        joins.entry(name).or_default().2 = true;
                    }
                }
                continue;
            };
            let mut from = 0;
            let stays: Vec<&Stay> = w.stays.iter().filter(|st| st.key == log.key).collect();
            for (i, stay) in stays.iter().enumerate() {
                let last = i + 1 == stays.len();
                let cut = s.may_be_cut && last && !stay.parted;
                let Some(end) = log.fit(from, name, stay, cut, w.leave) else {
                    panic!(
                        "{name} saw in #{shown} {stay:#?}\nwhich is not what the witness saw \
                         between its join and its leave (after event {from}): {:#?}",
                        log.events
                    );
                };
                from = end;
            }
            let entry = joins.entry(name.as_str()).or_default();
            entry.1 += stays.len();
            entry.2 |= s.may_be_cut;
        }
        for (name, (witnessed, stayed, cut)) in joins {
            assert!(
                witnessed == stayed || (cut && witnessed > stayed),
                "the witness saw {name} join #{shown} {witnessed} times; the clients welcomed \
                 as {name} account for {stayed}"
            );
        }
    }
}

/// One stay with what is known of its client.
struct Owned<'a> {
    name: &'a str,
    stay: &'a Stay,
    /// Whether the stay may stop short of what the server sent in it.
    cut: bool,
    /// What the room was told when the stay ended.
    told: Option<LeftReason>,
}

impl Owned<'_> {
    /// Whether `frame` is the end of this stay as the other members hear of it.
    fn is_told_end(&self, frame: &ServerFrame) -> bool {
        match frame {
            ServerFrame::UserLeft { user, reason, .. } if user == self.name => {
                if self.stay.parted {
                    *reason == LeftReason::Parted
                } else {
                    *reason != LeftReason::Parted && self.told.is_none_or(|t| t == *reason)
                }
            }
            _ => false,
        }
    }
}

/// One order per room without the witness: in every room but those in `watched` (all of
/// them once the witness was dropped), each client's stay is the reference for every stay
/// that began during it. A stay `y` that began at `UserJoined{y}` in stay `x` lists in its
/// `Joined` exactly who `x` saw in the room then, and the two agree on every frame while
/// both were in; whichever ended first (and was not cut short) ends with the other hearing
/// of it, for the right reason.
fn pairwise(walked: &[Walked], seen: &[Seen], watched: Option<&[(String, &str)]>) {
    let mut all: Vec<Owned<'_>> = Vec::new();
    // Names under which some client may have stays it never saw.
    let mut unsure: BTreeSet<String> = BTreeSet::new();
    unsure.insert("late".to_owned());
    for (w, s) in walked.iter().zip(seen) {
        let Some(name) = &w.name else {
            if s.may_be_cut {
                unsure.extend(possible_names(s).map(str::to_owned));
            }
            continue;
        };
        if s.may_be_cut {
            unsure.insert(name.clone());
        }
        for stay in &w.stays {
            if watched.is_some_and(|w| w.iter().any(|(key, _)| *key == stay.key)) {
                continue;
            }
            all.push(Owned {
                name,
                stay,
                cut: s.may_be_cut && !stay.parted,
                told: if stay.parted {
                    Some(LeftReason::Parted)
                } else {
                    w.leave
                },
            });
        }
    }
    for x in &all {
        let mut inside: BTreeMap<String, String> = x
            .stay
            .joined
            .iter()
            .map(|n| (name_key(n), n.clone()))
            .collect();
        for (p, event) in x.stay.events.iter().enumerate() {
            let (ServerFrame::Msg { from: who, .. }
            | ServerFrame::UserJoined { user: who, .. }
            | ServerFrame::UserLeft { user: who, .. }) = event
            else {
                unreachable!("a stay holds room frames only");
            };
            match event {
                ServerFrame::Msg { .. } => assert!(
                    inside.contains_key(&name_key(who)),
                    "{} saw {who} speak in #{} while out: {event:?}",
                    x.name,
                    x.stay.shown
                ),
                ServerFrame::UserJoined { .. } => assert!(
                    inside.insert(name_key(who), who.clone()).is_none(),
                    "{} saw {who} join #{} while in",
                    x.name,
                    x.stay.shown
                ),
                _ => {
                    assert!(
                        inside.remove(&name_key(who)).is_some(),
                        "{} saw {who} leave #{} while out",
                        x.name,
                        x.stay.shown
                    );
                    continue;
                }
            }
            if !matches!(event, ServerFrame::UserJoined { .. }) {
                continue;
            }
            // x's frames from y's join to y's leave (or the end of x's stay).
            let rest = &x.stay.events[p + 1..];
            let left = rest
                .iter()
                .position(|e| matches!(e, ServerFrame::UserLeft { user, .. } if user == who));
            let during = &rest[..left.unwrap_or(rest.len())];
            let members: Vec<String> = inside.values().cloned().collect();
            let fits = |y: &Owned<'_>| {
                let theirs = &y.stay.events;
                let both = during.len().min(theirs.len());
                if y.stay.joined != members || during[..both] != theirs[..both] {
                    return false;
                }
                match left {
                    // x heard y leave: y's stay is all of `during`, unless y was cut.
                    Some(at) => {
                        theirs.len() <= during.len()
                            && (y.cut || (theirs.len() == during.len() && y.is_told_end(&rest[at])))
                    }
                    // x's stay ended first: y heard of it next, unless one was cut.
                    None => match theirs.get(during.len()) {
                        Some(end) => x.cut || x.is_told_end(end),
                        // Both end together: y ended first and x, cut short, missed
                        // hearing of it, or x ended first and y, cut short, missed it.
                        None => x.cut || y.cut,
                    },
                }
            };
            let found = all
                .iter()
                .filter(|y| {
                    y.name == who && y.stay.key == x.stay.key && !std::ptr::eq(y.stay, x.stay)
                })
                .any(fits);
            assert!(
                found || unsure.contains(who),
                "{} saw {who} join #{} at its event {p}, then {during:#?}\nwhich is no stay of \
                 a client welcomed as {who} (members then: {members:?})",
                x.name,
                x.stay.shown
            );
        }
    }
}

/// Prints what every client sent and received, for a look at a crash:
/// `SESSION_DEBUG=1 cargo +nightly fuzz run session <crash file>`.
fn dump(seen: &[Seen], witness: &Witness, late: &Late) {
    for (i, s) in seen.iter().enumerate() {
        eprintln!("client {i} (may be cut: {}) sent:", s.may_be_cut);
        for request in &s.requests {
            eprintln!("    {request:?}");
        }
        eprintln!("  and received:");
        for frame in &s.frames {
            eprintln!("    {frame:?}");
        }
    }
    eprintln!(
        "the witness (ended early: {}) received:",
        witness.ended_early
    );
    for frame in &witness.frames {
        eprintln!("    {frame:?}");
    }
    eprintln!("the newcomer got {late:?}");
}

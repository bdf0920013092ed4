//! The words of moderation on the wire: who or what an action is aimed at, the actions a
//! room's moderators and the server's operators take, and what everyone is told of them.
//!
//! Typed, where IRC spells the same as mode letters (`+b`, `+m`, `+R`): a client never
//! parses a mask, and the server refuses what it cannot mean with `InvalidAction` before it
//! changes anything.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// Whom a ban is aimed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum BanTarget {
    /// A registered account, by its name (any case): holds whatever the person calls
    /// themselves next, since they sign in as the account.
    Account(String),
    /// Anyone using this name (any case), guest or account.
    Name(String),
    /// An address (`192.0.2.7`, `2001:db8::1`) or a network in CIDR notation
    /// (`192.0.2.0/24`, `2001:db8::/32`): every connection from it.
    Address(String),
}

impl std::fmt::Display for BanTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BanTarget::Account(name) => write!(f, "account {name}"),
            BanTarget::Name(name) => write!(f, "name {name}"),
            BanTarget::Address(address) => write!(f, "address {address}"),
        }
    }
}

/// What a room's owner, its moderators or a server operator does in one room
/// ([`crate::ClientFrame::Moderate`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RoomAction {
    /// Puts `user` out of the room; they may come back (unless also banned).
    Kick {
        /// The person, by name (any case).
        user: String,
        /// Why, told to them and the room; may be empty.
        reason: String,
    },
    /// Keeps `target` out of the room, putting out whoever it matches now.
    Ban {
        /// Whom.
        target: BanTarget,
        /// For how long, in seconds; `None`: for good.
        for_secs: Option<u64>,
        /// Why; may be empty.
        reason: String,
    },
    /// Lifts a ban on exactly `target`.
    Unban {
        /// The target as banned.
        target: BanTarget,
    },
    /// Lets `user` read the room but not speak in it.
    Mute {
        /// The person, by name (any case).
        user: String,
        /// For how long, in seconds; `None`: until unmuted.
        for_secs: Option<u64>,
        /// Why; may be empty.
        reason: String,
    },
    /// Lets `user` speak again.
    Unmute {
        /// The person, by name.
        user: String,
    },
    /// Makes the account `user` a moderator of the room (the owner only).
    Promote {
        /// The account, by name.
        user: String,
    },
    /// Takes the moderator role from `user` (the owner only); it loses its powers at once.
    Demote {
        /// The account, by name.
        user: String,
    },
    /// Sets the room's topic (empty: none).
    Topic {
        /// One line of text.
        topic: String,
    },
    /// `true`: guests may not join (those in the room stay).
    RegisteredOnly {
        /// On or off.
        on: bool,
    },
    /// At most one message per `secs` seconds per person (`0`: off). Moderators are exempt.
    Slow {
        /// The seconds between one person's messages.
        secs: u32,
    },
}

/// What a server operator does server-wide ([`crate::ClientFrame::Operate`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ServerAction {
    /// Refuses `target` at the handshake (`Error{Banned}`), and disconnects whoever it
    /// matches now.
    Ban {
        /// Whom.
        target: BanTarget,
        /// For how long, in seconds; `None`: for good.
        for_secs: Option<u64>,
        /// Why; told to them.
        reason: String,
    },
    /// Lifts a server ban on exactly `target`.
    Unban {
        /// The target as banned.
        target: BanTarget,
    },
    /// Ends every session of the account at once and refuses it at sign-in
    /// (`Error{Suspended}`) until unsuspended.
    Suspend {
        /// The account, by name.
        account: String,
        /// Why; told to them.
        reason: String,
    },
    /// Lets a suspended account sign in again.
    Unsuspend {
        /// The account, by name.
        account: String,
    },
}

/// A ban in force, as [`RoomInfo`] and the audit log show it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Ban {
    /// Whom.
    pub target: BanTarget,
    /// Who banned, as registered.
    pub by: String,
    /// Why.
    pub reason: String,
    /// Until when; `None`: for good.
    pub until: Option<Millis>,
}

/// A mute in force.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Mute {
    /// The person, by name as the moderator typed it.
    pub user: String,
    /// Who muted them.
    pub by: String,
    /// Why.
    pub reason: String,
    /// Until when; `None`: until unmuted.
    pub until: Option<Millis>,
}

/// A room's roles and settings: the answer to [`crate::ClientFrame::Claim`],
/// [`crate::ClientFrame::RoomInfo`] and [`crate::ClientFrame::Moderate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct RoomInfo {
    /// The room's name as shown.
    pub room: String,
    /// The account that claimed it; `None`: unclaimed.
    pub owner: Option<String>,
    /// The accounts the owner made moderators, sorted.
    pub moderators: Vec<String>,
    /// Its topic; empty: none.
    pub topic: String,
    /// Guests may not join.
    pub registered_only: bool,
    /// The seconds between one person's messages; `0`: no limit.
    pub slow_secs: u32,
    /// The bans in force (empty unless the asker may moderate the room).
    pub bans: Vec<Ban>,
    /// The mutes in force (empty unless the asker may moderate the room).
    pub mutes: Vec<Mute>,
    /// Whether the asker may moderate the room (its owner, a moderator, a server
    /// operator): what a client offers its moderation menus by.
    pub moderator: bool,
}

/// What changed in a room, as its members hear it in [`crate::ServerFrame::RoomChanged`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RoomChange {
    /// The room was claimed: `by` owns it.
    Claimed,
    /// `user` was put out of the room.
    Kicked {
        /// Their name.
        user: String,
        /// Why.
        reason: String,
    },
    /// A ban came into force (those it matches are put out, `UserLeft{reason: Banned}`).
    Banned {
        /// Whom: for the room, only the name of the person or account; an address is
        /// shown as `Address("")`, so members never learn one another's address.
        target: BanTarget,
        /// Why.
        reason: String,
        /// Until when; `None`: for good.
        until: Option<Millis>,
    },
    /// A ban was lifted.
    Unbanned {
        /// Whom (an address shown as `Address("")`).
        target: BanTarget,
    },
    /// `user` may no longer speak here.
    Muted {
        /// Their name.
        user: String,
        /// Why.
        reason: String,
        /// Until when; `None`: until unmuted.
        until: Option<Millis>,
    },
    /// `user` may speak again.
    Unmuted {
        /// Their name.
        user: String,
    },
    /// `user` became a moderator.
    Promoted {
        /// The account's name.
        user: String,
    },
    /// `user` is a moderator no more.
    Demoted {
        /// The account's name.
        user: String,
    },
    /// The topic is now `topic` (empty: none).
    Topic {
        /// The new topic.
        topic: String,
    },
    /// Guests may (`false`) or may not (`true`) join from now on.
    RegisteredOnly {
        /// On or off.
        on: bool,
    },
    /// At most one message per `secs` seconds per person from now on (`0`: off).
    Slow {
        /// The seconds.
        secs: u32,
    },
}

/// One line of the audit log ([`crate::ServerFrame::ModLog`]): every moderation action,
/// kept by the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AuditEntry {
    /// When.
    pub at: Millis,
    /// Who acted, as registered.
    pub actor: String,
    /// The room, as shown; `None`: server-wide.
    pub room: Option<String>,
    /// What was done, a stable short word: `claim`, `kick`, `ban`, `unban`, `mute`,
    /// `unmute`, `promote`, `demote`, `topic`, `registered_only`, `slow`, `remove`,
    /// `disconnect`, `suspend`, `unsuspend`.
    pub action: String,
    /// Whom or what it was done to (a name, `account alice`, `address 192.0.2.0/24`,
    /// `message 42`, a setting's new value).
    pub target: String,
    /// Why; may be empty.
    pub reason: String,
    /// Until when the action holds, for bans and mutes; `None`: for good, or not timed.
    pub until: Option<Millis>,
}

/// An address (`192.0.2.7`) or a network (`192.0.2.0/24`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// The address, its bits past the prefix ignored.
    address: IpAddr,
    /// How many leading bits count.
    prefix: u8,
}

impl Network {
    /// Reads `text`; `None` when it is neither an address nor a network of one.
    pub fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) if prefix.bytes().all(|b| b.is_ascii_digit()) => {
                prefix.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        let canon = canonical(address);
        // `::ffff:192.0.2.0/120` is the IPv4 network `192.0.2.0/24`.
        let prefix = if address.is_ipv6() && canon.is_ipv4() {
            prefix.saturating_sub(96)
        } else {
            prefix
        };
        // Kept masked, so that `192.0.2.7/24` and `192.0.2.0/24` are one network.
        let address = match canon {
            IpAddr::V4(v4) => IpAddr::V4((masked(u32::from(v4).into(), 32, prefix) as u32).into()),
            IpAddr::V6(v6) => IpAddr::V6(masked(u128::from(v6), 128, prefix).into()),
        };
        Some(Network { address, prefix })
    }

    /// How many leading bits count: 32 or 128 for one address.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether it is an IPv4 network (an IPv4 address written as IPv6 included).
    pub fn is_ipv4(&self) -> bool {
        self.address.is_ipv4()
    }

    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// One way of writing each network: `192.0.2.0/24`, `192.0.2.7` (one address), `2001:db8::/32`.
impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = if self.address.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.address)
        } else {
            write!(f, "{}/{}", self.address, self.prefix)
        }
    }
}

/// An IPv4 address written as IPv6 (`::ffff:192.0.2.7`, as a dual-stack socket reports
/// it) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// `bits` (of a `width`-bit address) with all but the first `prefix` cleared.
fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let drop = u32::from(width - prefix.min(width));
    (bits >> drop) << drop
}

/// Reads a ban target as people type it: `account:NAME`, `name:NAME`, an address or a
/// network (`192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`), or a bare name (a `Name`).
/// The server checks it; this only sorts it.
pub fn parse_target(text: &str) -> BanTarget {
    if let Some(name) = text.strip_prefix("account:") {
        return BanTarget::Account(name.to_owned());
    }
    if let Some(name) = text.strip_prefix("name:") {
        return BanTarget::Name(name.to_owned());
    }
    let address = text.split('/').next().unwrap_or(text);
    if address.parse::<IpAddr>().is_ok() {
        return BanTarget::Address(text.to_owned());
    }
    BanTarget::Name(text.to_owned())
}

/// Reads a duration as people type it, in seconds: a number with `s`, `m`, `h`, `d` or
/// `w` (`90s`, `10m`, `2h`, `7d`, `1w`; a bare number is seconds). `None` when it is not
/// one, or is zero.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|secs| *secs > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_of_either_family_hold_their_addresses_only() {
        let net = Network::parse("192.0.2.0/24").unwrap();
        assert!(net.contains(ip("192.0.2.255")));
        assert!(net.contains(ip("::ffff:192.0.2.9")));
        assert!(!net.contains(ip("192.0.3.0")));
        assert!(!net.contains(ip("2001:db8::1")));
        let one = Network::parse("203.0.113.7").unwrap();
        assert!(one.contains(ip("203.0.113.7")));
        assert!(!one.contains(ip("203.0.113.8")));
        let v6 = Network::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        // One way of writing each: masked, IPv4 as IPv4, a single address bare.
        for (typed, canonical) in [
            ("192.0.2.7/24", "192.0.2.0/24"),
            ("::ffff:192.0.2.7/120", "192.0.2.0/24"),
            ("192.0.2.7/32", "192.0.2.7"),
            ("2001:DB8:0:0::1/32", "2001:db8::/32"),
        ] {
            assert_eq!(Network::parse(typed).unwrap().to_string(), canonical);
        }
        assert!(Network::parse(" 192.0.2.7").is_none());
        assert!(Network::parse("192.0.2.0/+8").is_none());
    }

    #[test]
    fn targets_and_durations_read_as_typed() {
        assert_eq!(
            parse_target("account:Troll"),
            BanTarget::Account("Troll".into())
        );
        assert_eq!(parse_target("troll"), BanTarget::Name("troll".into()));
        assert_eq!(
            parse_target("192.0.2.0/24"),
            BanTarget::Address("192.0.2.0/24".into())
        );
        assert_eq!(
            parse_target("2001:db8::1"),
            BanTarget::Address("2001:db8::1".into())
        );
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("2h"), Some(7_200));
        assert_eq!(parse_duration("45"), Some(45));
        assert_eq!(parse_duration("1w"), Some(604_800));
        for bad in ["", "0", "10x", "m", "-5m", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}

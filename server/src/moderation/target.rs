//! What a ban is aimed at, checked before it is kept: an address or a network in CIDR
//! notation, and a duration that means something.

use chat_proto::moderation::{BanTarget, Network};
use chat_proto::Millis;

/// The longest a timed action may last: ten years. Longer is "for good", said as such.
pub const LONGEST_SECS: u64 = 10 * 365 * 24 * 3600;

/// The widest networks a ban may name: a `/8` of IPv4, a `/16` of IPv6. Wider would keep
/// out a good part of the Internet, and mostly by mistake.
pub const WIDEST_V4: u8 = 8;

/// See [`WIDEST_V4`].
pub const WIDEST_V6: u8 = 16;

/// Why a moderation request cannot mean anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an address or a network.
    #[error("{0:?} is not an address or a network (192.0.2.7, 192.0.2.0/24, 2001:db8::/32)")]
    Address(String),
    /// A network wider than [`WIDEST_V4`] or [`WIDEST_V6`].
    #[error("{0} is too wide a network to ban: at most a /8 of IPv4 or a /16 of IPv6")]
    TooWide(String),
    /// A name no one can have.
    #[error("{0:?} is not a valid name")]
    Name(String),
    /// Zero seconds, or more than [`LONGEST_SECS`].
    #[error("a duration must be between 1 second and 10 years; leave it out for good")]
    Duration,
}

/// `target` checked and written one way: a name against the naming rules, an address or a
/// network as [`Network`] writes it (`192.0.2.7/24` is `192.0.2.0/24`), so that one network
/// is one ban and can be lifted as it is shown.
pub fn checked(target: BanTarget) -> Result<BanTarget, TargetError> {
    match target {
        BanTarget::Address(address) => {
            let network =
                Network::parse(&address).ok_or_else(|| TargetError::Address(address.clone()))?;
            let widest = if network.is_ipv4() {
                WIDEST_V4
            } else {
                WIDEST_V6
            };
            if network.prefix() < widest {
                return Err(TargetError::TooWide(network.to_string()));
            }
            Ok(BanTarget::Address(network.to_string()))
        }
        BanTarget::Account(name) | BanTarget::Name(name)
            if chat_proto::validate::username(&name).is_err() =>
        {
            Err(TargetError::Name(name))
        }
        named => Ok(named),
    }
}

/// Whether two checked targets are one: names in any case.
pub fn same(a: &BanTarget, b: &BanTarget) -> bool {
    use chat_proto::validate::name_key;
    match (a, b) {
        (BanTarget::Account(x), BanTarget::Account(y))
        | (BanTarget::Name(x), BanTarget::Name(y)) => name_key(x) == name_key(y),
        (BanTarget::Address(x), BanTarget::Address(y)) => x == y,
        _ => false,
    }
}

/// Until when an action of `for_secs` taken at `now` holds (`None`: for good).
pub fn until(now: Millis, for_secs: Option<u64>) -> Result<Option<Millis>, TargetError> {
    match for_secs {
        None => Ok(None),
        Some(secs) if secs == 0 || secs > LONGEST_SECS => Err(TargetError::Duration),
        Some(secs) => Ok(Some(now + (secs as Millis) * 1000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_kept_one_way_and_too_wide_networks_refused() {
        assert_eq!(
            checked(BanTarget::Address("192.0.2.77/24".into())),
            Ok(BanTarget::Address("192.0.2.0/24".into()))
        );
        assert!(matches!(
            checked(BanTarget::Address("0.0.0.0/0".into())),
            Err(TargetError::TooWide(_))
        ));
        assert!(matches!(
            checked(BanTarget::Address("::/8".into())),
            Err(TargetError::TooWide(_))
        ));
        assert!(checked(BanTarget::Address("10.0.0.0/8".into())).is_ok());
        assert!(matches!(
            checked(BanTarget::Name("b@d".into())),
            Err(TargetError::Name(_))
        ));
        assert!(same(
            &BanTarget::Account("Bob".into()),
            &BanTarget::Account("bOB".into())
        ));
        assert!(!same(
            &BanTarget::Account("bob".into()),
            &BanTarget::Name("bob".into())
        ));
    }

    #[test]
    fn malformed_networks_and_durations_are_refused() {
        for bad in [
            "",
            "192.0.2",
            "192.0.2.0/33",
            "2001:db8::/129",
            "x/8",
            "1.2.3.4/-1",
        ] {
            assert!(Network::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(until(0, Some(0)), Err(TargetError::Duration));
        assert_eq!(until(0, Some(LONGEST_SECS + 1)), Err(TargetError::Duration));
        assert_eq!(until(5, Some(2)), Ok(Some(2_005)));
        assert_eq!(until(5, None), Ok(None));
    }
}

//! What a ban is aimed at, checked before it is kept: an address or a network in CIDR
//! notation, and a duration that means something.

use chat_proto::moderation::{BanTarget, Network};
use chat_proto::Millis;

/// The longest a timed action may last: ten years. Longer is "for good", said as such.
pub const LONGEST_SECS: u64 = 10 * 365 * 24 * 3600;

/// Why a moderation request cannot mean anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an address or a network.
    #[error("{0:?} is not an address or a network (192.0.2.7, 192.0.2.0/24, 2001:db8::/32)")]
    Address(String),
    /// A name no one can have.
    #[error("{0:?} is not a valid name")]
    Name(String),
    /// Zero seconds, or more than [`LONGEST_SECS`].
    #[error("a duration must be between 1 second and 10 years; leave it out for good")]
    Duration,
}

/// Checks `target`; a name is checked against the naming rules.
pub fn check(target: &BanTarget) -> Result<(), TargetError> {
    match target {
        BanTarget::Address(address) => Network::parse(address)
            .map(|_| ())
            .ok_or_else(|| TargetError::Address(address.clone())),
        BanTarget::Account(name) | BanTarget::Name(name) => chat_proto::validate::username(name)
            .map(|_| ())
            .map_err(|_| TargetError::Name(name.clone())),
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

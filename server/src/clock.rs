//! The server's clock: the only source of the `at` of every message and notice, so that a
//! client can never date its own words. A leaf that everything may use.

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> chat_proto::Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as chat_proto::Millis)
}

/// The UTC date of `at` as `YYYY-MM-DD`, for lines an operator reads (`account list`).
/// Days since the epoch to a civil date, by Howard Hinnant's `civil_from_days`.
pub fn utc_date(at: chat_proto::Millis) -> String {
    let days = at.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `at` as `YYYY-MM-DD HH:MM UTC`, for what a person is told (until when a ban holds).
pub fn utc_time(at: chat_proto::Millis) -> String {
    let minutes = at.rem_euclid(86_400_000) / 60_000;
    format!(
        "{} {:02}:{:02} UTC",
        utc_date(at),
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_700_000_000_000), "2023-11-14");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_time(1_700_000_000_000), "2023-11-14 22:13 UTC");
    }
}

//! The house log format, one set-up for both binaries:
//!
//! ```text
//! 21-10-15 14:30 | INFO | Client connected from 127.0.0.1:12345
//! ```
//!
//! Local time to the minute, the level, then the message and any fields. The clock is
//! tracing-subscriber's `ChronoLocal`, which honours `TZ` and, unlike `LocalTime`, still
//! knows the local offset once threads are running.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{ChronoLocal, FormatTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter};

/// The timestamp format of the seed program's logs: `21-10-15 14:30`.
pub const TIME_FORMAT: &str = "%y-%m-%d %H:%M";

/// Formats events as `time | LEVEL | message fields`.
#[derive(Debug)]
pub struct HouseFormat<T = ChronoLocal> {
    /// Writes the time column; swapped for a fixed clock in tests.
    timer: T,
}

impl HouseFormat {
    /// The format with the local clock.
    pub fn new() -> Self {
        HouseFormat::with_timer(ChronoLocal::new(TIME_FORMAT.to_owned()))
    }
}

impl Default for HouseFormat {
    fn default() -> Self {
        HouseFormat::new()
    }
}

impl<T> HouseFormat<T> {
    /// The format with another clock.
    pub fn with_timer(timer: T) -> Self {
        HouseFormat { timer }
    }
}

impl<S, N, T> FormatEvent<S, N> for HouseFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        self.timer.format_time(&mut writer)?;
        write!(writer, " | {} | ", event.metadata().level())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `--log-level` or `RUST_LOG` is not a valid filter.
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What the parser said.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was already installed.
    #[error("logging is already set up")]
    AlreadySet,
    /// The filter could not be changed.
    #[error("cannot change the log filter: {0}")]
    Reload(String),
}

/// Installs the house format as the global subscriber, writing to `writer`; the returned
/// [`LogLevel`] changes its filter later (the server's reload).
///
/// The filter is `level` when given (a `--log-level` flag), else `RUST_LOG`, else `info`.
/// Accepts anything `RUST_LOG` accepts: `debug`, `chat_server=debug,warn`.
pub fn init<W>(level: Option<&str>, writer: W) -> Result<LogLevel, LoggingError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = match level {
        Some(level) => level.to_owned(),
        None => std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
    };
    let (filter, handle) = reload::Layer::new(filter_of(&filter)?);
    let format = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer)
        .event_format(HouseFormat::new());
    tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)?;
    Ok(LogLevel(Box::new(move |filter| {
        handle
            .reload(filter)
            .map_err(|err| LoggingError::Reload(err.to_string()))
    })))
}

/// The filter `text` stands for, or why it is not one.
fn filter_of(text: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::try_new(text).map_err(|source| LoggingError::Filter {
        filter: text.to_owned(),
        source,
    })
}

/// Checks that `text` is a filter [`init`] and [`LogLevel::set`] accept, without using it:
/// a setting is refused when it is read, not when it is applied.
pub fn check_filter(text: &str) -> Result<(), LoggingError> {
    filter_of(text).map(drop)
}

/// Changes the filter of the subscriber [`init`] installed.
pub struct LogLevel(Box<dyn Fn(EnvFilter) -> Result<(), LoggingError> + Send + Sync>);

impl fmt::Debug for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLevel").finish_non_exhaustive()
    }
}

impl LogLevel {
    /// Filters by `text` from now on (anything `RUST_LOG` accepts).
    pub fn set(&self, text: &str) -> Result<(), LoggingError> {
        (self.0)(filter_of(text)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    struct FixedClock;
    impl FormatTime for FixedClock {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("21-10-15 14:30")
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(f: impl FnOnce()) -> String {
        let buf = Buffer::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || buf.clone())
            .event_format(HouseFormat::with_timer(FixedClock))
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn lines_match_the_house_format() {
        let peer = "127.0.0.1:12345";
        let out = capture(|| {
            tracing::info!("Client connected from {peer}");
            tracing::warn!(name = "ann", "Refused handshake");
            tracing::error!("boom");
        });
        assert_eq!(
            out,
            "21-10-15 14:30 | INFO | Client connected from 127.0.0.1:12345\n\
             21-10-15 14:30 | WARN | Refused handshake name=\"ann\"\n\
             21-10-15 14:30 | ERROR | boom\n"
        );
    }

    #[test]
    fn the_local_clock_writes_the_seed_time_format() {
        let mut s = String::new();
        ChronoLocal::new(TIME_FORMAT.to_owned())
            .format_time(&mut Writer::new(&mut s))
            .unwrap();
        // yy-mm-dd hh:mm
        let shape: String = s
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        assert_eq!(shape, "99-99-99 99:99", "{s}");
    }
}

//! `[store]`: where the room log lives and how much of it is kept; read beside the log it
//! configures, as `[tls]` and `[http]` are.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chat_proto::config::{ConfigError, ConfigFile};

/// `[store] path` when the file does not set it: the room log beside `config.ini` (in the
/// working directory on the built-in defaults), where an operator looks for it first.
pub const DEFAULT_STORE_PATH: &str = "chat.db";

/// `[store] keep_per_room` when the file does not set it: a hundred days of a room that hears
/// a thousand messages a day, yet about 10 MB per room at a hundred bytes a message (at most
/// 100 MB, every message as long as the default `buffsize` allows), so that no room, however
/// chatty, fills the disk.
pub const DEFAULT_KEEP_PER_ROOM: u64 = 100_000;

/// The longest `[store] max_age`: a hundred years, far beyond any retention policy, and far
/// from overflowing milliseconds since the epoch.
pub const MAX_AGE_DAYS: u64 = 36_500;

/// The keys of `[store]` the server reads.
pub const STORE_KEYS: &[&str] = &["path", "keep_per_room", "max_age", "synchronous"];

/// `[store] synchronous`: when a commit is on the disk, SQLite's own two settings for a
/// write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `normal`: a commit survives the process being killed, not a power cut or a machine
    /// crash (the last commits since the log was last synced to the disk may go); no sync
    /// per commit, so appends stay fast.
    #[default]
    Normal,
    /// `full`: every commit is synced to the disk before it is acknowledged, so it survives
    /// a power cut too, at a sync per commit (group commit shares it among a burst).
    Full,
}

impl Synchronous {
    /// SQLite's name for it, as `PRAGMA synchronous` takes it.
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

impl FromStr for Synchronous {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text.to_ascii_lowercase().as_str() {
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            _ => Err(()),
        }
    }
}

/// `[store]`: where the room log lives and how much of it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The SQLite file, already resolved: a relative `path` is taken from the config file's
    /// directory (from the working directory on the built-in defaults).
    pub path: PathBuf,
    /// Messages kept per room, the newest; `None` (`0` in the file): no limit. For
    /// [`crate::log::Store::trim`], `None` is `u64::MAX`.
    pub keep_per_room: Option<u64>,
    /// Messages older than this are dropped; `None` (`off`): kept however old.
    pub max_age: Option<Duration>,
    /// When a commit is on the disk (`synchronous`).
    pub synchronous: Synchronous,
}

impl Default for StoreConfig {
    /// The built-in defaults, equal to the shipped `config.ini`.
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from(DEFAULT_STORE_PATH),
            keep_per_room: Some(DEFAULT_KEEP_PER_ROOM),
            max_age: None,
            synchronous: Synchronous::Normal,
        }
    }
}

impl StoreConfig {
    /// Reads `[store]`: `None` when `path = off`.
    pub fn from_file(file: &ConfigFile) -> Result<Option<StoreConfig>, ConfigError> {
        let StorePath(path) = file.get(
            "store",
            "path",
            StorePath(Some(PathBuf::from(DEFAULT_STORE_PATH))),
            "a file path, or off to keep no history",
            |_| true,
        )?;
        let Some(path) = path else {
            return Ok(None);
        };
        let path = match file.path().and_then(Path::parent) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        };
        let keep_per_room = file.get(
            "store",
            "keep_per_room",
            DEFAULT_KEEP_PER_ROOM,
            "a number of messages (0 means no limit)",
            |_| true,
        )?;
        let MaxAge(max_age) = file.get(
            "store",
            "max_age",
            MaxAge(None),
            "a duration with a unit (3600s, 90m, 12h, 30d; at most 36500d), or off",
            |_| true,
        )?;
        let synchronous = file.get(
            "store",
            "synchronous",
            Synchronous::Normal,
            "normal (a commit survives the process being killed) or full (a power cut too)",
            |_| true,
        )?;
        Ok(Some(StoreConfig {
            path,
            keep_per_room: Some(keep_per_room).filter(|n| *n != 0),
            max_age,
            synchronous,
        }))
    }
}

/// `[store] path` as written: `off` (any case) for none. An empty value is refused rather
/// than guessed at: it could mean "the default" as well as "none".
#[derive(Debug, Clone, PartialEq)]
struct StorePath(Option<PathBuf>);

impl FromStr for StorePath {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "" => Err(()),
            off if off.eq_ignore_ascii_case("off") => Ok(StorePath(None)),
            path => Ok(StorePath(Some(PathBuf::from(path)))),
        }
    }
}

/// `[store] max_age` as written: a whole number with a unit, `s`, `m`, `h` or `d`, up to
/// [`MAX_AGE_DAYS`]; `off` or a zero for none. The unit is required: a bare `30` could be
/// seconds (as in `[limits]`) or days, and a wrong guess deletes history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MaxAge(pub(crate) Option<Duration>);

impl FromStr for MaxAge {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        if text.eq_ignore_ascii_case("off") || text == "0" {
            return Ok(MaxAge(None));
        }
        let (number, scale) = [("s", 1), ("m", 60), ("h", 3_600), ("d", 86_400)]
            .into_iter()
            .find_map(|(unit, scale)| Some((text.strip_suffix(unit)?, scale)))
            .ok_or(())?;
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        let secs = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .filter(|secs| *secs <= MAX_AGE_DAYS * 86_400)
            .ok_or(())?;
        Ok(MaxAge(
            Some(Duration::from_secs(secs)).filter(|d| !d.is_zero()),
        ))
    }
}

/// The keys of `[messages]`, for warnings about unknown ones.
pub const MESSAGES_KEYS: &[&str] = &["edit_window", "emoji_per_message", "reactions_per_message"];

/// `[messages] edit_window` when not set: a day, as Slack's default allows editing forever
/// and Discord does too, but a day keeps an old conversation from being rewritten.
pub const DEFAULT_EDIT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// `[messages] emoji_per_message` when not set: Discord's limit of different emoji on one
/// message.
pub const DEFAULT_EMOJI_PER_MESSAGE: u32 = 20;

/// `[messages] reactions_per_message` when not set.
pub const DEFAULT_REACTIONS_PER_MESSAGE: u32 = 1000;

/// `[messages]`: what may become of a message after it was sent. Reloadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRules {
    /// How long after sending one may edit a message; `None`: for as long as it is kept.
    pub edit_window: Option<Duration>,
    /// Different emoji one message takes.
    pub emoji_per_message: u32,
    /// Reactions one message takes, all emoji together.
    pub reactions_per_message: u32,
}

impl Default for MessageRules {
    fn default() -> Self {
        MessageRules {
            edit_window: Some(DEFAULT_EDIT_WINDOW),
            emoji_per_message: DEFAULT_EMOJI_PER_MESSAGE,
            reactions_per_message: DEFAULT_REACTIONS_PER_MESSAGE,
        }
    }
}

impl MessageRules {
    /// `[messages]` of `file`, with the defaults for what it leaves out.
    pub fn from_file(file: &ConfigFile) -> Result<MessageRules, ConfigError> {
        let MaxAge(edit_window) = file.get(
            "messages",
            "edit_window",
            MaxAge(Some(DEFAULT_EDIT_WINDOW)),
            "a duration with a unit (90s, 15m, 24h, 30d; at most 36500d), or off for no limit",
            |_| true,
        )?;
        let count = |key, default: u32| {
            file.get(
                "messages",
                key,
                default,
                "a number from 1 to 100000",
                |n: &u32| (1..=100_000).contains(n),
            )
        };
        Ok(MessageRules {
            edit_window,
            emoji_per_message: count("emoji_per_message", DEFAULT_EMOJI_PER_MESSAGE)?,
            reactions_per_message: count("reactions_per_message", DEFAULT_REACTIONS_PER_MESSAGE)?,
        })
    }
}

//! Flags, then `config.ini`, then built-in defaults, resolved into one [`Config`].
//!
//! Reading the file and the `[server]` keys is `chat_proto::config`'s job (the client reads the
//! same file the same way); this module adds the server's own keys and the flag overrides.
//! Every key read here is documented in the shipped `config.ini`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chat_proto::config::{ConfigError, ConfigFile, ServerSection};

use crate::auth::Password;
use crate::cli::Cli;
use crate::tls::{Tls, TLS_KEYS};
use crate::web::settings::{HttpConfig, HttpPort, HTTP_KEYS};

pub use crate::accounts::settings::{AccountsConfig, Operators, Registration, ACCOUNTS_KEYS};
pub use crate::cluster::settings::{ClusterConfig, CLUSTER_KEYS};
pub use crate::log::settings::{MessageRules, StoreConfig, Synchronous, MESSAGES_KEYS, STORE_KEYS};

/// `[limits] send_queue` when the file does not set it: a safety net, not the bound.
///
/// Counted in entries. The bound is the bytes (`send_queue_bytes`), each entry counted with
/// its overhead ([`crate::outbox::ENTRY_OVERHEAD`]), so 4 MiB holds at most about 40,000
/// entries of the smallest messages. A client in many rooms gets an entry per message (a
/// message to another room never shares one), and one that reads as fast as it can must not
/// be dropped for their number: 1024 entries dropped a sender in a hundred rooms, history
/// on, with its bytes far under the budget.
pub const DEFAULT_SEND_QUEUE: usize = 1_000_000;

/// `[limits] send_queue_bytes` when the file does not set it: 4 MiB.
///
/// Room for what a client that reads can fall behind by: a dozen user lists of ten thousand
/// people (about 330 kB each), or four thousand messages of the full 1 KiB. A client that far
/// behind has stopped reading; while it is dropped at 4 MiB, sixty such clients hold at most
/// 240 MiB, where entries alone (even 1024 of up to 330 kB) would let each pin over 300 MiB.
pub const DEFAULT_SEND_QUEUE_BYTES: usize = 4 << 20;

/// The least `[limits] send_queue_bytes` may be: 64 KiB, a few frames of chat, so that a
/// typo cannot make every client a slow consumer at its first reply.
pub const MIN_SEND_QUEUE_BYTES: usize = 64 << 10;

/// `[limits] max_queued_bytes` when the file does not set it: 1 GiB.
///
/// A fixed figure rather than a share of the machine's memory, so a server behaves the same
/// wherever it runs: 256 clients at their full 4 MiB each, far more than a healthy server
/// ever queues (each healthy client holds a few kilobytes), and a fraction of any machine a
/// chat server for thousands runs on. Lower it on a small machine.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 1 << 30;

/// `[limits] handshake_timeout` when the file does not set it: ten seconds is ages for a
/// client (it sends `Hello` at once) and short enough that idle sockets cannot pile up.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[limits] messages_per_second` when the file does not set it: faster than anyone types,
/// slow enough that one client cannot drown the room.
pub const DEFAULT_MESSAGES_PER_SECOND: f64 = 5.0;

/// `[limits] burst` when the file does not set it: a pasted paragraph or a quick exchange
/// goes through at once.
pub const DEFAULT_BURST: u32 = 10;

/// `[limits] flood_disconnect_after` when the file does not set it: refusals within
/// [`DEFAULT_FLOOD_WINDOW`] that end the connection. A person who hits the limit stops long
/// before; a script flooding at ten times the rate gets there in about a second.
pub const DEFAULT_FLOOD_DISCONNECT_AFTER: u32 = 50;

/// `[limits] flood_window` when the file does not set it.
pub const DEFAULT_FLOOD_WINDOW: Duration = Duration::from_secs(10);

/// `[limits] ping_interval` when the file does not set it: silence after which the server
/// checks that a client is still there. Well under the idle timeouts of common NAT boxes.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);

/// `[limits] ping_timeout` when the file does not set it: how long a pinged client has to
/// send any frame back.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// `[limits] max_clients` when the file does not set it: below the common default of 1024
/// open files per process, so the server refuses politely before `accept` starts failing.
pub const DEFAULT_MAX_CLIENTS: usize = 1000;

/// `[limits] max_per_ip` when the file does not set it: room for an office behind one NAT
/// address, while one host cannot take every slot.
pub const DEFAULT_MAX_PER_IP: usize = 64;

/// `[limits] announce_up_to` when the file does not set it: joins and leaves are announced
/// while the room has at most this many people. Each announcement reaches everyone, so a
/// room filling up to N people costs N²/2 notices: fine for a thousand (half a million small
/// frames), a storm for ten thousand, who would hear of nothing else.
pub const DEFAULT_ANNOUNCE_UP_TO: usize = 1000;

/// `[limits] rooms_per_user` when the file does not set it: more rooms than anyone follows
/// (IRC networks allow 20 to 120 channels), while one client cannot spread itself over
/// thousands of rooms to multiply what each of its leaves costs.
pub const DEFAULT_ROOMS_PER_USER: usize = 50;

/// `[limits] max_rooms` when the file does not set it: a room costs about a hundred bytes
/// plus its members, so ten thousand are nothing to hold, and the cap stops one client that
/// creates and parts rooms in a loop from growing the room map without end.
pub const DEFAULT_MAX_ROOMS: usize = 10_000;

/// The longest any time limit may be: a day. Also keeps every deadline far from the ends of
/// the clock's range.
pub const MAX_SECONDS: f64 = 86_400.0;

/// The keys of `[limits]` the server reads.
pub const LIMITS_KEYS: &[&str] = &[
    "send_queue",
    "send_queue_bytes",
    "max_queued_bytes",
    "handshake_timeout",
    "messages_per_second",
    "burst",
    "flood_disconnect_after",
    "flood_window",
    "ping_interval",
    "ping_timeout",
    "max_clients",
    "max_per_ip",
    "announce_up_to",
    "rooms_per_user",
    "max_rooms",
];

/// The keys of `[server]` only the server reads, beside the shared [`ServerSection::KEYS`].
pub const SERVER_ONLY_KEYS: &[&str] = &["password", "log_level"];

/// Sections of the shared `config.ini` that belong to other programs (the client): not
/// warned about, not read.
pub const FOREIGN_SECTIONS: &[&str] = &["client"];

/// Everything the server needs to run, after flags and file are resolved.
///
/// For each limit, `None` or `0` means "off", as documented in `config.ini`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Name or address to listen on; a name may resolve to several addresses (see
    /// [`crate::server::bind`]).
    pub host: String,
    /// Port to listen on; 0 lets the system pick one.
    pub port: u16,
    /// Largest frame body accepted from a client; a larger length prefix ends the connection.
    pub buffsize: usize,
    /// Safety net on each client's outbound queue, in entries, far above what the bytes
    /// allow; a client whose queue is full when a frame arrives for it is a slow consumer.
    pub send_queue: usize,
    /// Bound of each client's outbound queue, in bytes, every entry at its length and its
    /// overhead; past it the client is a slow consumer and is removed.
    pub send_queue_bytes: usize,
    /// The most all outbound queues may hold together, in bytes; past it the clients holding
    /// the most are dropped as slow consumers. `0`: no ceiling.
    pub max_queued_bytes: usize,
    /// How long a connection may take to be welcomed; `None`: forever.
    pub handshake_timeout: Option<Duration>,
    /// Sustained rate of metered frames per client ([`crate::flood`]); `0.0` turns flood
    /// control off.
    pub messages_per_second: f64,
    /// Metered frames a client may send at once before the rate applies.
    pub burst: u32,
    /// Refusals within `flood_window` that end the connection; `0`: never.
    pub flood_disconnect_after: u32,
    /// The window `flood_disconnect_after` counts refusals in.
    pub flood_window: Duration,
    /// Silence after which a registered client is pinged; `None`: never.
    pub ping_interval: Option<Duration>,
    /// How long a pinged client has to send a frame before it is closed.
    pub ping_timeout: Duration,
    /// Connections served at once, registered or not; `0`: no limit.
    pub max_clients: usize,
    /// Connections served at once from one IP address; `0`: no limit.
    pub max_per_ip: usize,
    /// Largest room in which joins and leaves are announced; `0`: always announced.
    pub announce_up_to: usize,
    /// Rooms one client may be in at once; `0`: no limit.
    pub rooms_per_user: usize,
    /// Rooms the server holds at once; `0`: no limit.
    pub max_rooms: usize,
    /// `[server] password`: what `Hello` must carry; `None` (absent or empty): anyone may join.
    pub password: Option<Password>,
    /// `[server] log_level`: the log filter (as `RUST_LOG`) when neither `--log-level` nor
    /// `RUST_LOG` sets one; `None` (absent or empty): `info`. Reloadable.
    pub log_level: Option<String>,
    /// `[tls] cert` and `key`, loaded: `Some` serves TLS instead of plain TCP.
    pub tls: Option<Tls>,
    /// `[store]`: the room log; `None` (`path = off`) keeps no history.
    pub store: Option<StoreConfig>,
    /// `[messages]`: how long a message may be edited, how many reactions it takes.
    /// Reloadable.
    pub messages: MessageRules,
    /// `[cluster]`: the NATS server that joins this node to others; `None` (no `nats` key,
    /// or an empty one): the server runs alone and no NATS code runs.
    pub cluster: Option<ClusterConfig>,
    /// `[http]`: the web client, `/healthz` and `/metrics`; `None` (`port = off`): no web
    /// listener.
    pub http: Option<HttpConfig>,
    /// `[accounts]`: registration, guests and how long a device session lasts. Accounts
    /// live in `[store] path` (alone) or in the cluster's buckets; with neither, there are
    /// none, and everyone is a guest.
    pub accounts: AccountsConfig,
    /// `[accounts] operators`: the accounts that may disconnect anyone. Reloadable.
    pub operators: Operators,
    /// The file the settings came from, `None` for the built-in defaults; logged at start-up.
    pub source: Option<PathBuf>,
}

/// `[server] log_level`, checked as a filter now so that a bad one is refused with the
/// rest of the file.
fn log_level(file: &ConfigFile) -> Result<Option<String>, ConfigError> {
    let level: String = file.get(
        "server",
        "log_level",
        String::new(),
        "a log filter as RUST_LOG takes it (info, debug, chat_server=debug,warn), or nothing",
        |level| level.trim().is_empty() || chat_proto::logging::check_filter(level).is_ok(),
    )?;
    let level = level.trim();
    Ok((!level.is_empty()).then(|| level.to_owned()))
}

/// A number of seconds as written in `config.ini`: fractions allowed (`0.5`), at most
/// [`MAX_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seconds(Duration);

impl FromStr for Seconds {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text.parse::<f64>() {
            Ok(secs) if (0.0..=MAX_SECONDS).contains(&secs) => {
                Ok(Seconds(Duration::from_secs_f64(secs)))
            }
            _ => Err(()),
        }
    }
}

/// A size in bytes as written in `config.ini`: a whole number, optionally with a binary
/// suffix `K`, `M` or `G` (`KiB`, `MiB`, `GiB` too, any case): `4M` is 4,194,304 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteSize(usize);

impl FromStr for ByteSize {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(digits);
        let shift = match suffix.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kib" => 10,
            "m" | "mib" => 20,
            "g" | "gib" => 30,
            _ => return Err(()),
        };
        let number: usize = number.parse().map_err(|_| ())?;
        number
            .checked_mul(1 << shift)
            .filter(|n| *n <= MAX_BYTES)
            .map(ByteSize)
            .ok_or(())
    }
}

/// The largest size a byte key takes: 1 TiB, far beyond any machine's memory, and far from
/// overflowing a sum of many queues.
const MAX_BYTES: usize = 1 << 40;

/// Reads a size key of `[limits]` in bytes (see [`ByteSize`]), at least `least`.
fn bytes(file: &ConfigFile, key: &str, default: usize, least: usize) -> Result<usize, ConfigError> {
    let expected = if least == 0 {
        "a size in bytes, K, M or G (at most 1024G; 0 turns it off)".to_owned()
    } else {
        format!("a size in bytes, K, M or G (at least {least}, at most 1024G)")
    };
    let ByteSize(value) = file.get("limits", key, ByteSize(default), &expected, |b| {
        b.0 >= least
    })?;
    Ok(value)
}

/// Reads a duration key in seconds; with `zero_is_off`, `0` gives `None`.
fn seconds(
    file: &ConfigFile,
    key: &str,
    default: Duration,
    zero_is_off: bool,
) -> Result<Option<Duration>, ConfigError> {
    let (expected, least) = if zero_is_off {
        ("a number of seconds (0 to 86400; 0 turns it off)", 0.0)
    } else {
        (
            "a number of seconds (more than 0, at most 86400)",
            f64::MIN_POSITIVE,
        )
    };
    let Seconds(value) = file.get("limits", key, Seconds(default), expected, |s| {
        s.0.as_secs_f64() >= least
    })?;
    Ok(Some(value).filter(|d| !d.is_zero()))
}

/// A resolved [`Config`] and what the file had that the server does not know.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The settings to run with.
    pub config: Config,
    /// `"[section] key"` entries nobody reads, to be logged as warnings once logging is up:
    /// a typo should be seen, but must not stop the server.
    pub unknown: Vec<String>,
}

impl Config {
    /// Resolves `cli` over the file it names (or `./config.ini`, or the defaults).
    pub fn resolve(cli: &Cli) -> Result<Resolved, ConfigError> {
        Config::resolve_over(cli, &ConfigFile::locate(cli.config.as_deref())?)
    }

    /// Resolves `cli` over an already loaded `file`.
    pub fn resolve_over(cli: &Cli, file: &ConfigFile) -> Result<Resolved, ConfigError> {
        let mut config = Config::from_file(file)?;
        if let Some(host) = &cli.host {
            config.host.clone_from(host);
        }
        if let Some(port) = cli.port {
            config.port = port;
        }
        match cli.http_port {
            None => {}
            Some(HttpPort(None)) => config.http = None,
            Some(HttpPort(Some(port))) => {
                config.http.get_or_insert_with(HttpConfig::default).port = port
            }
        }
        let server_keys: Vec<&str> = ServerSection::KEYS
            .iter()
            .chain(SERVER_ONLY_KEYS)
            .copied()
            .collect();
        let mut known = vec![
            ("server", &server_keys[..]),
            ("limits", LIMITS_KEYS),
            ("tls", TLS_KEYS),
            ("store", STORE_KEYS),
            ("messages", MESSAGES_KEYS),
            ("cluster", CLUSTER_KEYS),
            ("http", HTTP_KEYS),
            ("accounts", ACCOUNTS_KEYS),
        ];
        known.extend(FOREIGN_SECTIONS.iter().map(|s| (*s, &[][..])));
        let unknown = file
            .unknown_keys(&known)
            .into_iter()
            .filter(|entry| {
                !FOREIGN_SECTIONS
                    .iter()
                    .any(|s| entry.starts_with(&format!("[{s}]")))
            })
            .collect();
        Ok(Resolved { config, unknown })
    }

    /// Reads every key the server uses from `file`, with defaults for absent keys.
    pub fn from_file(file: &ConfigFile) -> Result<Config, ConfigError> {
        let server = ServerSection::from_file(file)?;
        let send_queue = file.get(
            "limits",
            "send_queue",
            DEFAULT_SEND_QUEUE,
            "a number of frames (1 to 1000000)",
            |n| (1..=1_000_000).contains(n),
        )?;
        let defaults = Config::default();
        let count = |key: &str, default: usize| {
            file.get(
                "limits",
                key,
                default,
                "a number (0 to 1000000; 0 means no limit)",
                |n| *n <= 1_000_000,
            )
        };
        Ok(Config {
            host: server.host,
            port: server.port,
            buffsize: server.buffsize,
            send_queue,
            send_queue_bytes: bytes(
                file,
                "send_queue_bytes",
                DEFAULT_SEND_QUEUE_BYTES,
                MIN_SEND_QUEUE_BYTES,
            )?,
            max_queued_bytes: bytes(file, "max_queued_bytes", DEFAULT_MAX_QUEUED_BYTES, 0)?,
            handshake_timeout: seconds(file, "handshake_timeout", DEFAULT_HANDSHAKE_TIMEOUT, true)?,
            messages_per_second: file.get(
                "limits",
                "messages_per_second",
                DEFAULT_MESSAGES_PER_SECOND,
                "a rate per second (0 to 1000000; 0 turns flood control off)",
                |r| (0.0..=1_000_000.0).contains(r),
            )?,
            burst: file.get(
                "limits",
                "burst",
                DEFAULT_BURST,
                "a number of messages (1 to 1000000)",
                |n| (1..=1_000_000).contains(n),
            )?,
            flood_disconnect_after: file.get(
                "limits",
                "flood_disconnect_after",
                DEFAULT_FLOOD_DISCONNECT_AFTER,
                "a number of refused messages (0 to 1000000; 0 never disconnects)",
                |n| *n <= 1_000_000,
            )?,
            flood_window: seconds(file, "flood_window", DEFAULT_FLOOD_WINDOW, false)?
                .unwrap_or(DEFAULT_FLOOD_WINDOW),
            ping_interval: seconds(file, "ping_interval", DEFAULT_PING_INTERVAL, true)?,
            ping_timeout: seconds(file, "ping_timeout", DEFAULT_PING_TIMEOUT, false)?
                .unwrap_or(DEFAULT_PING_TIMEOUT),
            max_clients: count("max_clients", defaults.max_clients)?,
            max_per_ip: count("max_per_ip", defaults.max_per_ip)?,
            announce_up_to: count("announce_up_to", defaults.announce_up_to)?,
            rooms_per_user: count("rooms_per_user", defaults.rooms_per_user)?,
            max_rooms: count("max_rooms", defaults.max_rooms)?,
            password: file
                .raw("server", "password")
                .filter(|p| !p.is_empty())
                .map(Password::new),
            log_level: log_level(file)?,
            tls: Tls::from_file(file)?,
            store: StoreConfig::from_file(file)?,
            messages: MessageRules::from_file(file)?,
            cluster: ClusterConfig::from_file(file)?,
            http: HttpConfig::from_file(file)?,
            accounts: AccountsConfig::from_file(file)?,
            operators: Operators::from_file(file)?,
            source: file.path().map(ToOwned::to_owned),
        })
    }
}

impl Default for Config {
    /// The built-in defaults, equal to the shipped `config.ini`.
    fn default() -> Self {
        let server = ServerSection::default();
        Config {
            host: server.host,
            port: server.port,
            buffsize: server.buffsize,
            send_queue: DEFAULT_SEND_QUEUE,
            send_queue_bytes: DEFAULT_SEND_QUEUE_BYTES,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            messages_per_second: DEFAULT_MESSAGES_PER_SECOND,
            burst: DEFAULT_BURST,
            flood_disconnect_after: DEFAULT_FLOOD_DISCONNECT_AFTER,
            flood_window: DEFAULT_FLOOD_WINDOW,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            ping_timeout: DEFAULT_PING_TIMEOUT,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_per_ip: DEFAULT_MAX_PER_IP,
            announce_up_to: DEFAULT_ANNOUNCE_UP_TO,
            rooms_per_user: DEFAULT_ROOMS_PER_USER,
            max_rooms: DEFAULT_MAX_ROOMS,
            password: None,
            log_level: None,
            tls: None,
            store: Some(StoreConfig::default()),
            messages: MessageRules::default(),
            cluster: None,
            http: Some(HttpConfig::default()),
            accounts: AccountsConfig::default(),
            operators: Operators::default(),
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;

    /// Sizes take a binary suffix in any case; anything else is refused.
    #[test]
    fn sizes_take_binary_suffixes() {
        for (text, bytes) in [
            ("0", 0),
            ("65536", 65_536),
            ("64K", 65_536),
            ("4M", 4 << 20),
            ("4 MiB", 4 << 20),
            ("1g", 1 << 30),
            ("1024G", 1 << 40),
        ] {
            assert_eq!(text.parse(), Ok(ByteSize(bytes)), "{text}");
        }
        for bad in [
            "",
            "M",
            "-1",
            "1.5M",
            "4T",
            "1025G",
            "4 M B",
            "99999999999999999999",
        ] {
            assert_eq!(bad.parse::<ByteSize>(), Err(()), "{bad}");
        }
    }

    /// A byte budget below the floor is refused with what is expected.
    #[test]
    fn a_tiny_send_queue_bytes_is_refused() {
        let err = Config::from_file(&parse("[limits]\nsend_queue_bytes = 1K\n")).unwrap_err();
        assert!(err.to_string().contains("at least 65536"), "{err}");
        let config = Config::from_file(&parse("[limits]\nmax_queued_bytes = 0\n")).unwrap();
        assert_eq!(config.max_queued_bytes, 0);
    }

    fn parse(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("test.ini"), text).unwrap()
    }

    #[test]
    fn the_shipped_file_equals_the_built_in_defaults() {
        let shipped =
            ConfigFile::parse(Path::new("config.ini"), include_str!("../../config.ini")).unwrap();
        let config = Config::from_file(&shipped).unwrap();
        assert_eq!(
            Config {
                source: None,
                ..config
            },
            Config::default()
        );
        let cli = Cli::try_parse_from(["chat-server"]).unwrap();
        let unknown = Config::resolve_over(&cli, &shipped).unwrap().unknown;
        assert!(
            unknown.is_empty(),
            "keys the server does not read: {unknown:?}"
        );
    }

    #[test]
    fn a_bad_limit_names_its_section_key_and_expectation() {
        let err = Config::from_file(&parse("[limits]\nsend_queue = 0\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.ini: [limits] send_queue = \"0\": expected a number of frames (1 to 1000000)"
        );
    }

    #[test]
    fn zero_turns_a_limit_off_and_seconds_take_fractions() {
        let config = Config::from_file(&parse(
            "[server]\npassword =\n[limits]\nhandshake_timeout = 0\nping_interval = 0.25\n\
             messages_per_second = 0\nmax_clients = 0\nmax_per_ip = 3\n",
        ))
        .unwrap();
        assert_eq!(config.handshake_timeout, None);
        assert_eq!(config.ping_interval, Some(Duration::from_millis(250)));
        assert_eq!(config.messages_per_second, 0.0);
        assert_eq!((config.max_clients, config.max_per_ip), (0, 3));
        assert_eq!(config.password, None, "an empty password is no password");
        let with = Config::from_file(&parse("[server]\npassword = s3cret\n")).unwrap();
        assert!(with.password.is_some_and(|p| p.matches("s3cret")));
    }

    #[test]
    fn limits_out_of_range_are_refused() {
        for (line, expected) in [
            ("ping_timeout = 0", "more than 0"),
            ("flood_window = 0", "more than 0"),
            ("handshake_timeout = -1", "0 turns it off"),
            ("handshake_timeout = 1e9", "0 to 86400"),
            ("burst = 0", "1 to 1000000"),
            ("messages_per_second = nan", "a rate per second"),
            ("messages_per_second = inf", "a rate per second"),
            ("max_per_ip = -1", "0 means no limit"),
            ("rooms_per_user = many", "0 means no limit"),
            ("max_rooms = 2000000", "0 means no limit"),
        ] {
            let err = Config::from_file(&parse(&format!("[limits]\n{line}\n"))).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expected), "{line}: {text}");
        }
    }

    #[test]
    fn the_store_file_is_taken_from_the_config_files_directory() {
        let in_etc = |text: &str| {
            let file = ConfigFile::parse(Path::new("/etc/chat/config.ini"), text).unwrap();
            Config::from_file(&file).unwrap().store.unwrap().path
        };
        assert_eq!(in_etc(""), Path::new("/etc/chat/chat.db"));
        assert_eq!(
            in_etc("[store]\npath = logs/chat.db\n"),
            Path::new("/etc/chat/logs/chat.db")
        );
        assert_eq!(
            in_etc("[store]\npath = /var/lib/chat/chat.db\n"),
            Path::new("/var/lib/chat/chat.db")
        );
        let defaults = Config::from_file(&ConfigFile::default()).unwrap();
        assert_eq!(
            defaults.store.unwrap().path,
            Path::new("chat.db"),
            "no config file: the working directory"
        );
    }

    #[test]
    fn the_store_is_off_only_when_path_says_off() {
        for off in ["off", "OFF"] {
            let config = Config::from_file(&parse(&format!("[store]\npath = {off}\n"))).unwrap();
            assert_eq!(config.store, None);
        }
        let err = Config::from_file(&parse("[store]\npath =\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.ini: [store] path = \"\": expected a file path, or off to keep no history"
        );
    }

    #[test]
    fn store_limits_take_zero_or_off_for_none_and_ages_need_a_unit() {
        let store = |text: &str| {
            Config::from_file(&parse(&format!("[store]\n{text}\n"))).map(|c| c.store.unwrap())
        };
        assert_eq!(store("keep_per_room = 0").unwrap().keep_per_room, None);
        assert_eq!(store("keep_per_room = 7").unwrap().keep_per_room, Some(7));
        assert_eq!(store("").unwrap().synchronous, Synchronous::Normal);
        assert_eq!(
            store("synchronous = FULL").unwrap().synchronous,
            Synchronous::Full
        );
        for (age, secs) in [
            ("3600s", Some(3_600)),
            ("90m", Some(5_400)),
            ("12h", Some(43_200)),
            ("30d", Some(2_592_000)),
            ("36500d", Some(3_153_600_000)),
            ("off", None),
            ("0", None),
            ("0d", None),
        ] {
            let max_age = store(&format!("max_age = {age}")).unwrap().max_age;
            assert_eq!(max_age, secs.map(Duration::from_secs), "{age}");
        }
        for bad in [
            "max_age = 30",
            "max_age = 1w",
            "max_age = -1d",
            "max_age = 1.5h",
            "max_age = +3d",
            "max_age = d",
            "max_age = 36501d",
            "max_age = 99999999999999999999s",
            "keep_per_room = -1",
            "keep_per_room = lots",
            "synchronous = always",
            "synchronous = ",
        ] {
            let err = store(bad).unwrap_err().to_string();
            assert!(err.starts_with("test.ini: [store] "), "{bad}: {err}");
        }
    }

    #[test]
    fn the_cluster_is_on_only_with_a_nats_url_and_the_url_is_checked() {
        let cluster = |text: &str| Config::from_file(&parse(text)).map(|c| c.cluster);
        assert_eq!(cluster("").unwrap(), None);
        assert_eq!(cluster("[cluster]\nnats =\nnode = a\n").unwrap(), None);
        let on = cluster("[cluster]\nnats = nats://u:p@nats.example:4222\nnode = a-1\n")
            .unwrap()
            .unwrap();
        assert_eq!(on.nats, "nats://u:p@nats.example:4222");
        assert_eq!(on.node.as_deref(), Some("a-1"));
        assert_eq!(on.shown_url(), "nats://***@nats.example:4222");
        assert!(!format!("{on:?}").contains("u:p"), "{on:?}");
        let tls = cluster("[cluster]\nnats = tls://127.0.0.1:4222\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (tls.shown_url().as_str(), tls.node, tls.replicas),
            ("tls://127.0.0.1:4222", None, 1)
        );
        let three = cluster(
            "[cluster]\nnats = nats://a:4222, nats://u:p@b:4222,nats://c:4222\nreplicas = 3\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            three.urls(),
            ["nats://a:4222", "nats://u:p@b:4222", "nats://c:4222"]
        );
        assert_eq!(
            three.shown_url(),
            "nats://a:4222, nats://***@b:4222, nats://c:4222"
        );
        assert_eq!(three.replicas, 3);
        for bad in [
            "nats = 127.0.0.1:4222",
            "nats = http://127.0.0.1:4222",
            "nats = nats://127.0.0.1",
            "nats = nats://:4222",
            "nats = nats://host:99999",
            "nats = nats://host:4222\nnode = two words",
            "nats = nats://host:4222\nnode = caf\u{e9}",
            "nats = nats://host:4222,",
            "nats = nats://host:4222, host:4223",
            "nats = nats://host:4222\nreplicas = 0",
            "nats = nats://host:4222\nreplicas = 6",
        ] {
            let err = cluster(&format!("[cluster]\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("test.ini: [cluster] "), "{bad}: {err}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::try_parse_from(["chat-server", "--port", "0"]).unwrap();
        let file = parse("[server]\nhost = 127.0.0.1\nport = 7000\nprot = 1\n[limits]\nsend_queue = 8\n[client]\nname = ann\n");
        let resolved = Config::resolve_over(&cli, &file).unwrap();
        let config = resolved.config;
        assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 0));
        assert_eq!(config.send_queue, 8);
        assert_eq!(resolved.unknown, vec!["[server] prot".to_owned()]);
    }
}

//! `[http]`: the web listener's port, the origins whose pages may open `/ws`, and the
//! optional token `/metrics` asks for.

use std::str::FromStr;

use chat_proto::config::{ConfigError, ConfigFile};

use crate::auth::Password;

/// The keys of `[http]` the server reads.
pub const HTTP_KEYS: &[&str] = &["port", "allowed_origins", "metrics_token"];

/// `[http] port` when the file does not set it: the port web developers try first, so that
/// after the plain start `http://localhost:8080/` is the chat.
pub const DEFAULT_HTTP_PORT: u16 = 8080;

/// `[http]`: the listener for the web client, `/healthz` and `/metrics`.
/// `Debug` never shows the token: a config is printed in test failures.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// Port on `[server] host`; 0 lets the system pick one (logged as "Web client at").
    pub port: u16,
    /// Which pages may open a WebSocket to `/ws`: a browser sends its page's origin, and
    /// without this check any site a user visits could chat in their name.
    pub allowed_origins: AllowedOrigins,
    /// `metrics_token`: when set, `/metrics` answers only a request that carries
    /// `Authorization: Bearer <token>`, compared in constant time as the server password
    /// is; never logged.
    pub metrics_token: Option<Password>,
}

impl Default for HttpConfig {
    /// The built-in defaults, equal to the shipped `config.ini`.
    fn default() -> Self {
        HttpConfig {
            port: DEFAULT_HTTP_PORT,
            allowed_origins: AllowedOrigins::default(),
            metrics_token: None,
        }
    }
}

impl HttpConfig {
    /// Reads `[http]`: `None` when `port = off`.
    pub fn from_file(file: &ConfigFile) -> Result<Option<HttpConfig>, ConfigError> {
        let HttpPort(port) = file.get(
            "http",
            "port",
            HttpPort(Some(DEFAULT_HTTP_PORT)),
            "a port number (0-65535), or off for no web listener",
            |_| true,
        )?;
        let Some(port) = port else {
            return Ok(None);
        };
        let allowed_origins = file.get(
            "http",
            "allowed_origins",
            AllowedOrigins::default(),
            "origins such as https://chat.example.com separated by spaces or commas, or *",
            |_| true,
        )?;
        let metrics_token = file
            .raw("http", "metrics_token")
            .filter(|t| !t.is_empty())
            .map(Password::new);
        Ok(Some(HttpConfig {
            port,
            allowed_origins,
            metrics_token,
        }))
    }
}

/// A web port as written, in `[http] port` or after `--http-port`: a number, or `off` (any
/// case) for no web listener at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpPort(pub Option<u16>);

impl FromStr for HttpPort {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("off") {
            return Ok(HttpPort(None));
        }
        text.parse()
            .map(|port| HttpPort(Some(port)))
            .map_err(|_| format!("{text:?} is not a port number (0-65535) or off"))
    }
}

/// `[http] allowed_origins`: the pages, besides the server's own, whose scripts may open
/// `/ws`. Empty (the default): only the page the server itself serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins {
    /// `*` was listed: any page may connect (for a public server embedded anywhere).
    any: bool,
    /// The listed origins, lowercased and without a trailing `/`.
    listed: Vec<String>,
}

impl FromStr for AllowedOrigins {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let mut origins = AllowedOrigins::default();
        for origin in text.split([' ', ',']).filter(|o| !o.is_empty()) {
            if origin == "*" {
                origins.any = true;
                continue;
            }
            let origin = origin.trim_end_matches('/').to_ascii_lowercase();
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .ok_or(())?;
            // An origin is a scheme and a host with an optional port: no path, no user.
            if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
                return Err(());
            }
            origins.listed.push(origin);
        }
        Ok(origins)
    }
}

impl AllowedOrigins {
    /// Whether a page of `origin` may connect, when the server itself is reached as
    /// `own` (`http://HOST[:PORT]`, from the request's `Host` header).
    ///
    /// A request without an `Origin` header is no browser page (browsers always send one
    /// with a WebSocket handshake): a script or a bot, which no origin check can stop
    /// anyway, and which the other limits meter like a TCP client.
    pub fn allows(&self, origin: Option<&str>, own: &str) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let origin = origin.trim_end_matches('/');
        self.any
            || origin.eq_ignore_ascii_case(own)
            || self.listed.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn http(text: &str) -> Result<Option<HttpConfig>, ConfigError> {
        HttpConfig::from_file(&ConfigFile::parse(Path::new("test.ini"), text).unwrap())
    }

    #[test]
    fn the_port_defaults_to_8080_and_off_turns_the_listener_off() {
        assert_eq!(http("").unwrap(), Some(HttpConfig::default()));
        assert_eq!(http("[http]\nport = OFF\n").unwrap(), None);
        assert_eq!(http("[http]\nport = 0\n").unwrap().unwrap().port, 0);
        let err = http("[http]\nport = 80800\n").unwrap_err().to_string();
        assert!(err.starts_with("test.ini: [http] port"), "{err}");
    }

    #[test]
    fn only_the_own_origin_by_default_then_the_listed_ones_or_any() {
        let own = "http://127.0.0.1:8080";
        let default = AllowedOrigins::default();
        assert!(default.allows(None, own), "no Origin: not a browser page");
        assert!(default.allows(Some("http://127.0.0.1:8080"), own));
        assert!(default.allows(Some("HTTP://127.0.0.1:8080/"), own));
        assert!(!default.allows(Some("http://evil.example"), own));
        assert!(!default.allows(Some("null"), own));
        let listed: AllowedOrigins = "https://chat.example.com, http://localhost:3000/"
            .parse()
            .unwrap();
        assert!(listed.allows(Some("https://CHAT.example.com"), own));
        assert!(listed.allows(Some("http://localhost:3000"), own));
        assert!(
            !listed.allows(Some("http://chat.example.com"), own),
            "scheme"
        );
        let any: AllowedOrigins = "*".parse().unwrap();
        assert!(any.allows(Some("http://evil.example"), own));
        for bad in [
            "chat.example.com",
            "https://",
            "https://a.example/path",
            "ftp://a",
        ] {
            assert_eq!(bad.parse::<AllowedOrigins>(), Err(()), "{bad}");
        }
    }

    #[test]
    fn the_metrics_token_is_optional_and_never_printed() {
        assert_eq!(
            http("[http]\nmetrics_token =\n")
                .unwrap()
                .unwrap()
                .metrics_token,
            None
        );
        let with = http("[http]\nmetrics_token = s3cret\n").unwrap().unwrap();
        assert!(with
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.matches("s3cret")));
        assert!(!format!("{with:?}").contains("s3cret"));
    }
}

//! `[cluster]`: where the NATS server is and what this node calls itself there; read beside
//! the cluster it configures, and by every build (one without the `cluster` feature refuses
//! it at start, naming the section).

use std::str::FromStr;

use chat_proto::config::{ConfigError, ConfigFile};

/// The keys of `[cluster]` the server reads.
pub const CLUSTER_KEYS: &[&str] = &["nats", "node", "replicas"];

/// The most replicas JetStream keeps of a stream.
pub const MAX_REPLICAS: usize = 5;

/// The longest `[cluster] node` name: enough for a fully qualified host name and a port,
/// short enough to sit in every name claim and, later, every heartbeat.
pub const MAX_NODE_NAME: usize = 128;

/// `[cluster]`: where the NATS server is and what this node calls itself there.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `nats`: `nats://HOST:PORT`, or `tls://HOST:PORT` for TLS to NATS, with any
    /// credentials in the URL (`nats://USER:PASSWORD@HOST:PORT`); several, comma-separated,
    /// for the servers of a NATS cluster ([`ClusterConfig::urls`]): what async-nats connects
    /// to, trying the next when one is down (it also learns the cluster's other servers from
    /// NATS itself). Logged only through [`ClusterConfig::shown_url`], which hides the
    /// credentials.
    pub nats: String,
    /// `node`: the name other nodes know this one by, in every name it claims; `None`: the
    /// host name and the port it listens on, known only once it is bound.
    pub node: Option<String>,
    /// `replicas`: how many NATS servers keep each stream and key-value bucket the chat
    /// makes (1 to [`MAX_REPLICAS`]; 3 on a cluster of three, so that losing any one server
    /// loses nothing). A node refuses to start when NATS cannot keep that many.
    pub replicas: usize,
}

impl std::fmt::Debug for ClusterConfig {
    /// Without the credentials the URL may carry: a config is printed in test failures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("nats", &self.shown_url())
            .field("node", &self.node)
            .field("replicas", &self.replicas)
            .finish()
    }
}

impl ClusterConfig {
    /// A `[cluster]` of the NATS server(s) at `nats`, with one replica of everything and
    /// the node named after its host and port.
    pub fn new(nats: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            nats: nats.into(),
            node: None,
            replicas: 1,
        }
    }

    /// The NATS servers to connect to, as listed.
    pub fn urls(&self) -> Vec<&str> {
        self.nats.split(',').map(str::trim).collect()
    }

    /// The NATS URLs as they may be logged: a user name or password in one becomes `***`.
    pub fn shown_url(&self) -> String {
        let shown: Vec<String> = self
            .urls()
            .into_iter()
            .map(|url| match url.split_once("://") {
                Some((scheme, rest)) => match rest.rsplit_once('@') {
                    Some((_, host)) => format!("{scheme}://***@{host}"),
                    None => url.to_owned(),
                },
                None => url.to_owned(),
            })
            .collect();
        shown.join(", ")
    }

    /// Reads `[cluster]`: `None` when `nats` is absent or empty.
    pub fn from_file(file: &ConfigFile) -> Result<Option<ClusterConfig>, ConfigError> {
        if file.raw("cluster", "nats").is_none_or(str::is_empty) {
            return Ok(None);
        }
        let NatsUrl(nats) = file.get(
            "cluster",
            "nats",
            NatsUrl(String::new()),
            "NATS URLs, nats://HOST:PORT or tls://HOST:PORT (credentials as USER:PASSWORD@HOST), \
             comma-separated",
            |_| true,
        )?;
        let replicas = file.get(
            "cluster",
            "replicas",
            1,
            "a replica count, 1 to 5 (3 on a cluster of three NATS servers)",
            |n| (1..=MAX_REPLICAS).contains(n),
        )?;
        let node = match file.raw("cluster", "node") {
            None | Some("") => None,
            Some(_) => {
                let NodeName(node) = file.get(
                    "cluster",
                    "node",
                    NodeName(String::new()),
                    "a node name: 1 to 128 ASCII letters, digits, '-', '_', '.' or ':'",
                    |_| true,
                )?;
                Some(node)
            }
        };
        Ok(Some(ClusterConfig {
            nats,
            node,
            replicas,
        }))
    }
}

/// `[cluster] nats` as written: one or more URLs, comma-separated, each `nats://` or
/// `tls://`, then a host (after any credentials) and a port. Checked here so that a typo
/// stops start-up with the key named, instead of a node retrying forever against an address
/// that cannot be.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NatsUrl(String);

impl FromStr for NatsUrl {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        for url in text.split(',').map(str::trim) {
            let rest = url
                .strip_prefix("nats://")
                .or_else(|| url.strip_prefix("tls://"))
                .ok_or(())?;
            let host_port = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let (host, port) = host_port.rsplit_once(':').ok_or(())?;
            if host.is_empty() || host.contains(['/', ' ']) || port.parse::<u16>().is_err() {
                return Err(());
            }
        }
        Ok(NatsUrl(text.to_owned()))
    }
}

/// `[cluster] node` as written: the alphabet of names plus `:` (for `host:port`), so that
/// it can stand in NATS subjects and key-value entries as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeName(String);

impl FromStr for NodeName {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let fits = (1..=MAX_NODE_NAME).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if fits {
            Ok(NodeName(text.to_owned()))
        } else {
            Err(())
        }
    }
}

//! A real `nats-server` with JetStream, as a child process on a free port of 127.0.0.1 with
//! its store in a temporary directory: what the cluster tests join their nodes through.
//!
//! A test never skips for want of it: without the binary it fails, saying which package to
//! install. Every wait for it has a timeout and reads its log; nothing sleeps.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use super::TIMEOUT;

/// The line nats-server logs once it accepts clients (JetStream included).
pub const READY_LINE: &str = "Server is ready";

/// One nats-server, killed when dropped; [`NatsServer::restart`] brings it back on the same
/// port with the same store.
#[derive(Debug)]
pub struct NatsServer {
    /// The port it listens on, picked once and kept across restarts.
    port: u16,
    /// Its JetStream store, removed when the test ends.
    store: TempDir,
    /// The running process, if any.
    child: Option<Child>,
    /// Every line of its log read so far, for failure messages.
    seen: Vec<String>,
    /// In a cluster: its name, its route port and the route ports of the others.
    route: Option<Route>,
}

/// How one server of a NATS cluster finds the others.
#[derive(Debug, Clone)]
struct Route {
    /// The server's name, unique in the cluster (JetStream's peers are named).
    name: String,
    /// Where it listens for the other servers.
    port: u16,
    /// The ports it reaches the others at: every server's route port, its own included, or
    /// the relays to them.
    all: Vec<u16>,
    /// Where it tells the others to reach it, when not at `port`: a port nobody listens on,
    /// so that the others keep to the relays.
    advertise: Option<u16>,
}

/// A free port of 127.0.0.1, below Linux's ephemeral range (32768 and up by default): a
/// port the kernel handed out for `:0` could be taken, before the server that is to listen
/// on it starts, by an outgoing connection, such as a route between the other NATS
/// servers of a cluster (seen: "bind: address already in use").
fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    const LOW: u16 = 20_000;
    const HIGH: u16 = 32_000;
    // Ports handed out already in this test process: one cluster's servers each bind theirs
    // later, so a port free now could otherwise be handed out twice.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let random = RandomState::new();
    for attempt in 0u32..1_000 {
        let port = LOW + (random.hash_one(attempt) % u64::from(HIGH - LOW)) as u16;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

impl NatsServer {
    /// Starts one and waits for it to be ready.
    pub fn start() -> NatsServer {
        let mut nats = NatsServer::unstarted();
        nats.restart();
        nats
    }

    /// Picks a port and a store but starts nothing: a NATS that is not up yet, for a node
    /// that must wait for it. [`NatsServer::restart`] starts it.
    pub fn unstarted() -> NatsServer {
        NatsServer {
            port: free_port(),
            store: tempfile::tempdir().expect("a temporary directory for the JetStream store"),
            child: None,
            seen: Vec::new(),
            route: None,
        }
    }

    /// `n` servers of one NATS cluster with JetStream on each (routes between all of them,
    /// their own stores), started: what replicated streams need. Each can be killed and
    /// restarted on its own.
    pub fn cluster(n: usize) -> Vec<NatsServer> {
        let all: Vec<u16> = (0..n).map(|_| free_port()).collect();
        NatsServer::routed(
            all.iter()
                .enumerate()
                .map(|(i, &port)| Route {
                    name: format!("nats-{i}"),
                    port,
                    all: all.clone(),
                    advertise: None,
                })
                .collect(),
        )
    }

    /// [`NatsServer::cluster`] with every route between two servers passing through a
    /// relay of its own, which [`Partition`] cuts: a server can be cut off from the others
    /// by the network while its clients still reach it.
    pub async fn partitionable_cluster(n: usize) -> (Vec<NatsServer>, Partition) {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut relays = Vec::new();
        let mut routes = Vec::new();
        for (i, &port) in ports.iter().enumerate() {
            let mut all = Vec::new();
            for (j, &to) in ports.iter().enumerate() {
                if i == j {
                    all.push(port);
                    continue;
                }
                let relay = Relay::to(&format!("127.0.0.1:{to}")).await;
                all.push(relay.port());
                relays.push((i, j, relay));
            }
            routes.push(Route {
                name: format!("nats-{i}"),
                port,
                all,
                advertise: Some(free_port()),
            });
        }
        (NatsServer::routed(routes), Partition { relays })
    }

    /// A started server for each of `routes`, one after the other.
    fn routed(routes: Vec<Route>) -> Vec<NatsServer> {
        routes
            .into_iter()
            .map(|route| {
                let mut server = NatsServer::unstarted();
                server.route = Some(route);
                server.restart();
                server
            })
            .collect()
    }

    /// [`NatsServer::node_config`] for a node that knows the servers `listed` of a NATS
    /// cluster (it learns the others from NATS), keeping `replicas` of everything.
    pub fn cluster_node_config(
        listed: &[&NatsServer],
        node: &str,
        replicas: usize,
    ) -> chat_server::Config {
        let urls: Vec<String> = listed.iter().map(|server| server.url()).collect();
        let mut config = listed[0].node_config(node);
        let cluster = config.cluster.as_mut().expect("a node's config");
        cluster.nats = urls.join(",");
        cluster.replicas = replicas;
        config
    }

    /// [`super::test_config`] as a node named `node` of the cluster behind this server.
    pub fn node_config(&self, node: &str) -> chat_server::Config {
        chat_server::Config {
            cluster: Some(chat_server::config::ClusterConfig {
                node: Some(node.to_owned()),
                ..chat_server::config::ClusterConfig::new(self.url())
            }),
            ..super::test_config()
        }
    }

    /// Its JetStream store: the files a test reads to learn what NATS keeps on disk.
    pub fn store_dir(&self) -> &std::path::Path {
        self.store.path()
    }

    /// Where clients connect: `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills it with SIGKILL (no goodbye to its clients) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9 nats-server");
            child.wait().expect("wait for the killed nats-server");
        }
    }

    /// Pauses it with SIGSTOP: its sockets stay open and nothing answers, as a server that
    /// hangs or a machine that stalls.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets it run again after [`NatsServer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Sends it `signal` with kill(1).
    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running nats-server");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} nats-server");
    }

    /// Starts it (again, after [`NatsServer::kill`], or for the first time after
    /// [`NatsServer::unstarted`]) on the same port and store, and waits for its ready line.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port.to_string();
        let store = self.store.path().to_str().expect("a UTF-8 temporary path");
        let mut args: Vec<String> = ["-js", "-sd", store, "-a", "127.0.0.1", "-p", &port]
            .map(str::to_owned)
            .to_vec();
        if let Some(route) = &self.route {
            let routes: Vec<String> = route
                .all
                .iter()
                .map(|port| format!("nats://127.0.0.1:{port}"))
                .collect();
            args.extend([
                "-n".to_owned(),
                route.name.clone(),
                "--cluster_name".to_owned(),
                "chat-test".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{}", route.port),
                "--routes".to_owned(),
                routes.join(","),
            ]);
            if let Some(advertise) = route.advertise {
                args.extend([
                    "--cluster_advertise".to_owned(),
                    format!("127.0.0.1:{advertise}"),
                ]);
            }
        }
        let mut child = Command::new("nats-server")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run nats-server ({err}): the cluster tests need it; install the \
                     Debian package nats-server (apt-get install nats-server)"
                )
            });
        let lines = super::output_lines(vec![
            Box::new(child.stderr.take().expect("stderr is piped")),
            Box::new(child.stdout.take().expect("stdout is piped")),
        ]);
        self.child = Some(child);
        if let Err(err) = super::line_containing(&lines, &mut self.seen, READY_LINE, TIMEOUT) {
            panic!(
                "nats-server on port {port} did not say {READY_LINE:?} ({err}); its log: {:#?}",
                self.seen
            );
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The real `chat-server` binary as the node `node` of the cluster behind `nats`, with its
/// `config.ini` in `dir` (port 0, flood control and connection limits off): a node that
/// can be killed with SIGKILL. Returns it once it serves, with its address.
pub fn node_process(
    nats: &NatsServer,
    dir: &std::path::Path,
    node: &str,
) -> (super::ServerProcess, std::net::SocketAddr) {
    let config = format!(
        "[server]\nhost = 127.0.0.1\nport = 0\n\
         [limits]\nmessages_per_second = 0\nmax_clients = 0\nmax_per_ip = 0\n\
         [cluster]\nnats = {}\nnode = {node}\n",
        nats.url()
    );
    std::fs::create_dir_all(dir).expect("the node's directory");
    let path = dir.join("config.ini");
    std::fs::write(&path, config).expect("write the node's config.ini");
    let path = path.to_str().expect("a UTF-8 path").to_owned();
    let mut process = super::ServerProcess::spawn(dir, &["--config", &path]);
    let addr = process.listening_addr();
    process.wait_for_line("Joined the cluster");
    (process, addr)
}

/// Asks `client` for the list of users until it is `expected`, and returns how long that
/// took: presence crosses NATS, so another node's change shows a moment later. Panics if
/// the list is not `expected` within [`TIMEOUT`], with the last list seen.
pub async fn users_until(client: &mut super::TestClient, expected: &[&str]) -> std::time::Duration {
    use chat_proto::{ClientFrame, ServerFrame};
    let start = std::time::Instant::now();
    let mut every = tokio::time::interval(std::time::Duration::from_millis(10));
    loop {
        every.tick().await;
        client.send(ClientFrame::ListUsers).await;
        let users = loop {
            match client.recv().await {
                ServerFrame::UserList { users } => break users,
                _ => continue,
            }
        };
        if users == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "the users are still {users:?}, not {expected:?}, after {TIMEOUT:?}"
        );
    }
}

/// A TCP relay between one node and NATS, which a test can cut and restore: NATS stays up
/// for everyone else while that node loses it, as when a network partition isolates it.
#[derive(Debug)]
pub struct Relay {
    /// Where the node connects: `nats://127.0.0.1:PORT`.
    pub url: String,
    /// `true` while cut: open relays close and new connections are closed at once.
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    /// Relays connections on a free port of 127.0.0.1 to `nats`.
    pub async fn start(nats: &NatsServer) -> Relay {
        Relay::to(nats.url().trim_start_matches("nats://")).await
    }

    /// Relays connections on a free port of 127.0.0.1 to `target` (`HOST:PORT`).
    pub async fn to(target: &str) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("nats://{}", listener.local_addr().unwrap());
        let target = target.to_owned();
        let (cut, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = watch.clone();
                if *cut.borrow() {
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay { url, cut }
    }

    /// Cuts the node off NATS until [`Relay::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Lets the node reach NATS again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    /// The port it listens on.
    fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a relay's port")
    }
}

/// The relays of a [`NatsServer::partitionable_cluster`]: `(from, to, relay)` for the route
/// from server `from` to server `to`.
#[derive(Debug)]
pub struct Partition {
    /// Every route's relay.
    relays: Vec<(usize, usize, Relay)>,
}

impl Partition {
    /// Cuts server `server` off from every other server (its routes, both ways); its
    /// clients still reach it.
    pub fn isolate(&self, server: usize) {
        for (from, to, relay) in &self.relays {
            if *from == server || *to == server {
                relay.cut();
            }
        }
    }

    /// Joins server `server` to the others again.
    pub fn heal(&self, server: usize) {
        for (from, to, relay) in &self.relays {
            if *from == server || *to == server {
                relay.restore();
            }
        }
    }
}

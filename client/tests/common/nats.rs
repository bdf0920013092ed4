//! A real `nats-server` with JetStream, as a child process on a free port of 127.0.0.1 with
//! its store in a temporary directory: what the workload benchmark runs against beside
//! chat-server. A test never skips for want of it: without the binary it fails, saying which
//! package to install.

use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use super::{dead_port, Lines};

/// The line nats-server logs once it accepts clients (JetStream included).
const READY_LINE: &str = "Server is ready";

/// One nats-server, killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    /// The running process.
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// Its JetStream store, removed when the test ends.
    _store: TempDir,
    /// Its log, kept read to the end: a closed pipe would end nats-server at its next line.
    _log: Lines,
}

impl NatsServer {
    /// Starts `nats-server -js` and waits for its ready line.
    pub fn start() -> NatsServer {
        let port = dead_port();
        let store = tempfile::tempdir().expect("a temporary directory for the JetStream store");
        let mut child = Command::new("nats-server")
            .arg("-js")
            .arg("-sd")
            .arg(store.path())
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run nats-server ({err}): install the Debian package nats-server \
                     (apt-get install nats-server)"
                )
            });
        let mut log = Lines::spawn(child.stderr.take().expect("stderr is piped"));
        log.wait_for(&format!("saying {READY_LINE:?}"), |l| {
            l.contains(READY_LINE)
        });
        NatsServer {
            child,
            port,
            _store: store,
            _log: log,
        }
    }

    /// Its process id, for `bench --server-pid`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

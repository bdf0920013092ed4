//! A real Prometheus (Debian's `prometheus`), as a child process on a free port of 127.0.0.1
//! with its store in a temporary directory, scraping one target every second: what a
//! test points at `/metrics` to learn whether the server's exposition is one that the
//! tool its users run can read.
//!
//! A test never skips for want of it: without the binary it fails, saying which package to
//! install. Every wait reads its log or its API under a timeout; nothing sleeps.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

/// The line Prometheus logs once its API answers.
const READY_LINE: &str = "Server is ready to receive web requests";

/// How long Prometheus may take to start; it replays an empty store, but on a busy machine
/// with the test suite running beside it that can take a few seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One Prometheus, killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
    /// Its configuration and store, removed when the test ends.
    _dir: TempDir,
    /// The running process.
    child: Child,
}

impl Prometheus {
    /// Starts one that scrapes `http://{target}/metrics` every second, with `bearer` as the
    /// `Authorization` credentials when given, and waits until its API answers.
    pub fn scraping(target: SocketAddr, bearer: Option<&str>) -> Prometheus {
        let dir = tempfile::tempdir().expect("a temporary directory for Prometheus");
        let authorization = bearer.map_or(String::new(), |token| {
            format!("    authorization:\n      type: Bearer\n      credentials: {token}\n")
        });
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: chat\n{authorization}    \
             static_configs:\n      - targets: ['{target}']\n"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        // The port is free when picked; another process may take it before Prometheus
        // binds it, so a start that fails to listen is tried again on another.
        let mut last_log = Vec::new();
        for _ in 0..3 {
            let addr = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port on 127.0.0.1");
            let mut child = Command::new("prometheus")
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|err| {
                    panic!(
                        "cannot run prometheus ({err}): the /metrics tests need it; install \
                         the Debian package prometheus (apt-get install prometheus)"
                    )
                });
            let lines = super::output_lines(vec![Box::new(
                child.stderr.take().expect("stderr is piped"),
            )]);
            last_log.clear();
            if super::line_containing(&lines, &mut last_log, READY_LINE, START_TIMEOUT).is_ok() {
                return Prometheus {
                    addr,
                    _dir: dir,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("prometheus did not say {READY_LINE:?}; its last log: {last_log:#?}");
    }

    /// `GET /api/v1/{path}` of its HTTP API, as JSON; `data` of a `success` answer.
    pub async fn api(&self, path: &str) -> serde_json::Value {
        let answer = super::web::get_http10(self.addr, &format!("/api/v1/{path}"))
            .await
            .unwrap_or_else(|err| panic!("GET /api/v1/{path} from prometheus: {err}"));
        let json: serde_json::Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|err| panic!("prometheus answered {:?}: {err}", answer.body));
        assert_eq!(json["status"], "success", "{json}");
        json["data"].clone()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

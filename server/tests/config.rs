//! The binary's start-up: config.ini, flags, errors with exit code 2, and the house log
//! format of its first lines.

mod common;

use chat_proto::ServerFrame;
use common::{run_to_exit, scratch_dir, ServerProcess, TestClient};

#[test]
fn a_bad_value_stops_start_up_with_one_line_naming_it_and_exit_code_2() {
    let cases = [
        (
            "[server]\nport = abc\n",
            "chat-server: config.ini: [server] port = \"abc\": expected a port number (0-65535)\n",
        ),
        (
            "[server]\nbuffsize = 0\n",
            "chat-server: config.ini: [server] buffsize = \"0\": expected a frame size in bytes (16 to 524288)\n",
        ),
        (
            "[limits]\nsend_queue = lots\n",
            "chat-server: config.ini: [limits] send_queue = \"lots\": expected a number of frames (1 to 1000000)\n",
        ),
    ];
    for (i, (file, message)) in cases.into_iter().enumerate() {
        let dir = scratch_dir(&format!("bad-value-{i}"));
        std::fs::write(dir.join("config.ini"), file).unwrap();
        assert_eq!(run_to_exit(&dir, &[]), (Some(2), message.to_owned()));
    }
}

#[test]
fn a_missing_config_file_given_by_flag_is_an_error_naming_it() {
    let dir = scratch_dir("missing-file");
    let (code, stderr) = run_to_exit(&dir, &["--config", "nowhere.ini"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("chat-server: nowhere.ini: cannot read:") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let dir = scratch_dir("bad-flag");
    let (code, stderr) = run_to_exit(&dir, &["--port", "99999"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--port"), "{stderr}");
}

/// The file's port is overridden by `--port 0`; an unknown key and section are warnings,
/// and the server still starts. The first INFO line after binding is exactly
/// `Listening on <ip>:<port>` in the house format.
#[test]
fn flags_override_the_file_and_unknown_keys_only_warn() {
    let dir = scratch_dir("unknown-keys");
    std::fs::write(
        dir.join("chat.ini"),
        "[server]\nhost = 127.0.0.1\nport = 1\nprot = 7\n[extras]\nx = 1\n",
    )
    .unwrap();
    let mut process = ServerProcess::spawn(&dir, &["--config", "chat.ini", "--port", "0"]);
    let addr = process.listening_addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 1);
    let lines = process.seen.clone();
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(" | WARN | chat.ini: unknown setting [server] prot ignored")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(" | WARN | chat.ini: unknown setting [extras] ignored")),
        "{lines:#?}"
    );

    let listening = lines.last().unwrap();
    assert!(is_house_listening_line(listening), "{listening:?}");
    for line in &lines {
        assert!(has_house_prefix(line), "{line:?}");
    }
    process.terminate();
    assert_eq!(process.wait().0.code(), Some(0));
}

/// The default host, `localhost`, is resolved and bound (to whichever of its addresses
/// binds first), and clients reach the server at the address it logs.
#[tokio::test]
async fn the_default_host_localhost_binds() {
    let dir = scratch_dir("localhost");
    let mut process = ServerProcess::spawn(&dir, &["--port", "0"]);
    let addr = process.listening_addr();
    assert!(addr.ip().is_loopback(), "{addr}");
    let mut ann = TestClient::connect(addr).await;
    assert!(matches!(
        ann.hello("ann").await,
        ServerFrame::Welcome { .. }
    ));
    process.terminate();
    assert_eq!(process.wait().0.code(), Some(0));
}

/// `^\d\d-\d\d-\d\d \d\d:\d\d \| LEVEL \| `: the time to the minute, then the level.
fn has_house_prefix(line: &str) -> bool {
    let shape: String = line
        .chars()
        .take(17)
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    let level = line.get(17..).and_then(|rest| rest.split(" | ").next());
    shape == "99-99-99 99:99 | "
        && matches!(level, Some("TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR"))
}

/// `^\d\d-\d\d-\d\d \d\d:\d\d \| INFO \| Listening on 127.0.0.1:\d+$`.
fn is_house_listening_line(line: &str) -> bool {
    let Some(port) = line
        .get(17..)
        .and_then(|rest| rest.strip_prefix("INFO | Listening on 127.0.0.1:"))
    else {
        return false;
    };
    has_house_prefix(line) && !port.is_empty() && port.chars().all(|c| c.is_ascii_digit())
}

/// Runs a server with the log filter [`FILTER`] given by flag or by `RUST_LOG`, registers a
/// client, and returns the log: the server's and the accept loop's INFO lines pass, the
/// handshake's INFO line does not.
async fn log_with_filter(test: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let dir = scratch_dir(test);
    let mut all_args = vec!["--host", "127.0.0.1", "--port", "0"];
    all_args.extend_from_slice(args);
    let mut process = ServerProcess::spawn_with_env(&dir, &all_args, env);
    let mut ann = TestClient::connect(process.listening_addr()).await;
    assert!(matches!(
        ann.hello("ann").await,
        ServerFrame::Welcome { .. }
    ));
    process.terminate();
    ann.until_closed().await;
    let (status, lines) = process.wait();
    assert_eq!(status.code(), Some(0));
    lines
}

const FILTER: &str = "warn,chat_server::server=info,chat_server::listener=info";

#[tokio::test]
async fn the_log_level_flag_and_rust_log_filter_the_log() {
    let by_flag = log_with_filter("log-level-flag", &["--log-level", FILTER], &[]).await;
    let by_env = log_with_filter("log-level-env", &[], &[("RUST_LOG", FILTER)]).await;
    // The flag wins over RUST_LOG.
    let both = log_with_filter(
        "log-level-both",
        &["--log-level", FILTER],
        &[("RUST_LOG", "debug")],
    )
    .await;
    for lines in [by_flag, by_env, both] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Client connected from 127.0.0.1:")),
            "{lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("ann joined")),
            "{lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains(" | DEBUG | ")),
            "{lines:#?}"
        );
    }
}

#[test]
fn an_invalid_log_filter_is_refused_with_exit_code_2() {
    let dir = scratch_dir("bad-filter");
    let (code, stderr) = run_to_exit(&dir, &["--log-level", "chat_server=loud"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("chat-server: invalid log filter"),
        "{stderr}"
    );
}

/// A port that is taken stops start-up with a line naming the address, the cause and the
/// setting and flag that choose another: two nodes on one machine need two of each.
#[test]
fn a_taken_port_is_an_error_naming_what_changes_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = scratch_dir("taken-port");
    let cases = [
        (
            ["--port", port.as_str(), "--http-port", "off"],
            format!("cannot listen on 127.0.0.1:{port}: "),
            "; another port: [server] port, or --port",
        ),
        (
            ["--port", "0", "--http-port", port.as_str()],
            format!("cannot listen for the web client on 127.0.0.1:{port}: "),
            "; another port: [http] port, or --http-port (off: no web listener)",
        ),
    ];
    for (flags, start, end) in cases {
        let mut args = vec!["--host", "127.0.0.1"];
        args.extend(flags);
        let (code, stderr) = run_to_exit(&dir, &args);
        let line = stderr
            .lines()
            .find(|line| line.contains("ERROR"))
            .unwrap_or_else(|| panic!("an ERROR line: {stderr}"));
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            line.contains(&start) && line.contains("in use") && line.ends_with(end),
            "{line}"
        );
    }
}

//! The account subcommands through the real binaries: `register`, `login`, `passwd`,
//! `sessions`, `logout`, and every other subcommand signing in with the token kept; each
//! refusal one line on stderr and exit status 1; no password and no token in the server's
//! log at TRACE.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{run, Outcome, Server};

const PASSWORD: &str = "violet tractor at noon";
const NEW_PASSWORD: &str = "amber kettle on the hob";

/// A server keeping history (and accounts) in `chat.db`, logging at TRACE.
fn server() -> Server {
    Server::start_with_args(
        "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
         [limits]\nmessages_per_second = 0\n\
         [store]\npath = chat.db\n",
        0,
        &["--log-level", "trace"],
    )
}

/// `chat-client ARGS` as `name` on the device whose config directory is `device`, with
/// `stdin` as its input.
fn on(server: &Server, device: &Path, name: &str, args: &[&str], stdin: &str) -> Outcome {
    run(
        server
            .client(name)
            .env("XDG_CONFIG_HOME", device)
            .args(args),
        stdin,
    )
}

/// The token file of `name` on `device` for `server`.
fn token_file(server: &Server, device: &Path, name: &str) -> PathBuf {
    device
        .join("chat/sessions")
        .join(format!("127.0.0.1_{}_{name}", server.port))
}

#[test]
fn register_log_in_change_the_password_list_and_sign_out_from_the_terminal() {
    let mut server = server();
    let laptop = server.dir().join("laptop");
    let phone = server.dir().join("phone");

    let out = on(
        &server,
        &laptop,
        "Ann",
        &["register", "--password-stdin", "--device", "laptop"],
        &format!("{PASSWORD}\n"),
    )
    .expect_code(0);
    assert_eq!(out.stdout, "registered Ann; signed in on this device\n");
    let laptop_token = token_file(&server, &laptop, "ann");
    let kept = fs::read_to_string(&laptop_token).expect("the token is kept");
    assert_eq!(kept.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&laptop_token).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the user reads the token");
    }

    // Every other subcommand signs in with it, with no password.
    on(&server, &laptop, "Ann", &["send", "hi from the laptop"], "").expect_code(0);
    server
        .log
        .wait_for("saying Ann signed in", |l| l.contains("Ann signed in"));
    // A guest without the account may not use the name.
    let out = on(&server, &phone, "ann", &["send", "hi"], "")
        .expect_code(1)
        .expect_one_error_line();
    assert!(
        out.stderr.contains("is registered") && out.stderr.contains("chat-client login"),
        "{out:#?}"
    );

    // A wrong password: one line, exit 1, nothing kept.
    let out = on(
        &server,
        &phone,
        "ann",
        &["login", "--password-stdin"],
        "not the password\n",
    )
    .expect_code(1)
    .expect_one_error_line();
    assert!(out.stderr.contains("wrong name or password"), "{out:#?}");
    assert!(!token_file(&server, &phone, "ann").exists());
    // The right one, from CHAT_ACCOUNT_PASSWORD.
    let out = run(
        server
            .client("ann")
            .env("XDG_CONFIG_HOME", &phone)
            .env("CHAT_ACCOUNT_PASSWORD", PASSWORD)
            .args(["login", "--device", "phone"]),
        "",
    )
    .expect_code(0);
    assert_eq!(out.stdout, "signed in as Ann\n");
    let phone_token = fs::read_to_string(token_file(&server, &phone, "ann")).unwrap();

    let out = on(&server, &laptop, "ann", &["sessions"], "").expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:#?}");
    assert!(
        lines[0].starts_with('*') && lines[0].ends_with(" laptop"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(' ') && lines[1].ends_with(" phone"),
        "{lines:?}"
    );

    // A new password from the laptop signs the phone out.
    let out = on(
        &server,
        &laptop,
        "ann",
        &["passwd", "--password-stdin"],
        &format!("{PASSWORD}\n{NEW_PASSWORD}\n"),
    )
    .expect_code(0);
    assert_eq!(
        out.stdout,
        "password changed; 1 other device(s) signed out\n"
    );
    let out = on(&server, &phone, "ann", &["send", "hi"], "")
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("session ended"), "{out:#?}");
    assert!(
        !token_file(&server, &phone, "ann").exists(),
        "an ended session's token is forgotten"
    );
    on(
        &server,
        &phone,
        "ann",
        &["login", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .expect_code(1);
    on(
        &server,
        &phone,
        "ann",
        &["login", "--password-stdin"],
        &format!("{NEW_PASSWORD}\n"),
    )
    .expect_code(0);

    // Signing out on the laptop ends its session and deletes its token.
    let out = on(&server, &laptop, "ann", &["logout"], "").expect_code(0);
    assert_eq!(out.stdout, "signed out ann on this device\n");
    assert!(!laptop_token.exists());
    let out = on(&server, &laptop, "ann", &["sessions"], "")
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("chat-client login first"), "{out:#?}");

    // Nothing secret reached the log, at TRACE.
    let log = server.log_so_far().join("\n");
    for secret in [
        PASSWORD,
        NEW_PASSWORD,
        "not the password",
        kept.trim(),
        phone_token.trim(),
    ] {
        assert!(!log.contains(secret), "the log shows {secret:?}");
    }
    assert!(
        log.contains("Wrong password") && log.contains("account=ann"),
        "a wrong password is logged with its account: {log}"
    );
}

#[test]
fn a_weak_password_and_a_taken_name_are_refused_in_one_line() {
    let server = server();
    let device = server.dir().join("device");
    for (password, says) in [
        ("short", "at least 8 characters"),
        ("password", "most common"),
        ("Bobbybobby", "the account's name"),
    ] {
        let out = on(
            &server,
            &device,
            "bobbybobby",
            &["register", "--password-stdin"],
            &format!("{password}\n"),
        )
        .expect_code(1)
        .expect_one_error_line();
        assert!(out.stderr.contains(says), "{password}: {out:#?}");
    }
    on(
        &server,
        &device,
        "bob",
        &["register", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .expect_code(0);
    let other = server.dir().join("other");
    let out = on(
        &server,
        &other,
        "BOB",
        &["register", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .expect_code(1)
    .expect_one_error_line();
    assert!(out.stderr.contains("is registered"), "{out:#?}");
    // An empty line on stdin is no password.
    let out = on(
        &server,
        &other,
        "carol",
        &["register", "--password-stdin"],
        "\n",
    )
    .expect_code(1)
    .expect_one_error_line();
    assert!(out.stderr.contains("no password"), "{out:#?}");
}

/// `chat-client mod disconnect`: an operator's removes a person, who is told why (one
/// error line, exit status 1); anyone else is refused with one line and exit status 1.
#[test]
fn an_operator_disconnects_a_person_from_the_terminal() {
    let server = Server::start_with_args(
        "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
         [limits]\nmessages_per_second = 0\n\
         [store]\npath = chat.db\n\
         [accounts]\noperators = boss\n",
        0,
        &[],
    );
    let desk = server.dir().join("desk");
    let other = server.dir().join("other");
    // An operator's name is made by the server's operator, never by whoever registers it.
    on(
        &server,
        &desk,
        "boss",
        &["register", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .expect_code(1)
    .expect_one_error_line();
    let made = run(
        std::process::Command::new(common::server_bin())
            .args([
                "--config",
                "config.ini",
                "account",
                "add",
                "boss",
                "--password-stdin",
            ])
            .current_dir(server.dir()),
        &format!("{PASSWORD}\n"),
    )
    .expect_code(0);
    assert_eq!(made.stdout, "made the account boss\n");
    on(
        &server,
        &desk,
        "boss",
        &["login", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .expect_code(0);
    on(
        &server,
        &other,
        "dave",
        &["register", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .expect_code(0);
    let troll = common::listener(&server, "troll", &[]);

    let out = on(&server, &other, "dave", &["mod", "disconnect", "troll"], "")
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("operators"), "{}", out.stderr);

    let out = on(
        &server,
        &desk,
        "boss",
        &["mod", "disconnect", "troll", "--reason", "spam"],
        "",
    )
    .expect_code(0);
    assert_eq!(out.stdout, "disconnected troll\n");
    let out = troll.finish().expect_code(1).expect_one_error_line();
    assert!(
        out.stderr
            .contains("disconnected by the operator boss: spam"),
        "{}",
        out.stderr
    );
}

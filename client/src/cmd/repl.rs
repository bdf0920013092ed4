//! `chat-client repl`: the interactive client.
//!
//! ```text
//!  main thread                          network thread (tokio, current_thread)
//!  rustyline readline("> ") ──Request──► select! { next frame, next request }
//!        ▲                                   │ frames rendered as lines
//!        └──── ExternalPrinter ◄─────────────┘ (printed above the prompt, line kept)
//! ```
//!
//! The line editor owns the terminal and the main thread; the one task that owns the
//! connection prints through rustyline's external printer, which clears the prompt, prints
//! the line and redraws the prompt with whatever was half typed. When the server goes
//! away the task says so and reconnects with backoff; the editor never stops, so nothing
//! typed is lost. Logs go to `--log-file` or nowhere, never under the prompt.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chat_proto::input::{self, Command, Input, InputError};
use chat_proto::validate::{self, name_key};
use chat_proto::{ClientFrame, ErrorKind, ServerFrame};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Editor, ExternalPrinter, Helper};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::cmd::describe;
use crate::render::Style;
use crate::settings::Settings;
use crate::{Client, ClientError, Session};

/// The prompt.
const PROMPT: &str = "> ";

/// First wait before reconnecting; doubled after each failed attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Longest wait between reconnection attempts: a restarted server is found within this.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Lines typed but not yet handed to the connection. A person cannot outrun this.
const REQUEST_QUEUE: usize = 64;

/// History entries kept in the history file.
const HISTORY_SIZE: usize = 1000;

/// Chat interactively: line editing, history, Tab completion.
#[derive(Debug, clap::Args)]
#[command(after_help = "Type a message and press Enter to send it to everyone. \
                        /help lists the commands; Tab completes commands and names; \
                        Ctrl-D or /quit leaves. History is kept in \
                        $XDG_DATA_HOME/chat/history (default ~/.local/share/chat/history).")]
pub struct Repl {}

/// What the keyboard asks of the connection.
#[derive(Debug)]
enum Request {
    /// Send this frame.
    Send(ClientFrame),
    /// Say `Bye` and stop.
    Quit,
}

impl Repl {
    /// Connects, then reads lines until Ctrl-D or `/quit`.
    pub fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let names = Names::default();
        let config = Config::builder()
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .max_history_size(HISTORY_SIZE)
            .context("cannot configure the line editor")?
            .build();
        let mut editor: Editor<ChatHelper, FileHistory> =
            Editor::with_config(config).context("cannot start the line editor")?;
        editor.set_helper(Some(ChatHelper {
            names: names.clone(),
        }));
        let history = history_path();
        if let Some(path) = &history {
            if let Err(e) = editor.load_history(path) {
                if path.exists() {
                    tracing::warn!("Cannot read history {}: {e}", path.display());
                }
            }
        }
        let style = Style::detect(std::io::stdout().is_terminal()).with_me(&settings.name);
        let output = match editor.create_external_printer() {
            Ok(printer) => Output::Editor(Box::new(printer)),
            // Not a terminal (piped stdin, TERM=dumb): lines still work, printed plainly.
            Err(_) => Output::Stdout,
        };
        let screen = Screen {
            output,
            style: style.clone(),
            names,
        };

        let (requests, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (ready, ready_rx) = std::sync::mpsc::sync_channel(1);
        let client = settings.client();
        let name = settings.name.clone();
        let network = std::thread::Builder::new()
            .name("network".into())
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                runtime.block_on(network(client, name, requests_rx, screen, ready))
            })
            .context("cannot start the network thread")?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return join(network),
        }

        loop {
            let line = match editor.readline(PROMPT) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    let _ = requests.blocking_send(Request::Quit);
                    return Err(e).context("cannot read the terminal");
                }
            };
            let parsed = input::parse(&line);
            if parsed == Err(InputError::Blank) {
                continue;
            }
            let _ = editor.add_history_entry(line.as_str());
            if let Some(path) = &history {
                save_history(&mut editor, path);
            }
            let frame = match parsed {
                Ok(Input::Help) => {
                    println!("{}", input::help_text());
                    continue;
                }
                Ok(Input::Quit) => break,
                Ok(input) => input
                    .into_frame()
                    .expect("Help and Quit were handled above"),
                Err(e) => {
                    println!("{}", style.error(&e.to_string()));
                    continue;
                }
            };
            if requests.blocking_send(Request::Send(frame)).is_err() {
                // The network task ended (it said why); its result is the outcome.
                break;
            }
        }
        let _ = requests.blocking_send(Request::Quit);
        drop(requests);
        join(network)
    }
}

fn join(network: std::thread::JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    network
        .join()
        .map_err(|_| anyhow::anyhow!("the network thread failed"))?
}

/// `$XDG_DATA_HOME/chat/history`, else `~/.local/share/chat/history`; created on first use.
fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
        })?;
    let dir = base.join("chat");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!("No history: cannot create {}: {e}", dir.display());
        return None;
    }
    Some(dir.join("history"))
}

fn save_history(editor: &mut Editor<ChatHelper, FileHistory>, path: &PathBuf) {
    if let Err(e) = editor.append_history(path) {
        tracing::warn!("Cannot write history {}: {e}", path.display());
    }
}

/// The connection's side: connect, then relay until `Quit`, reconnecting when the server
/// goes away. The first connection's outcome goes to `ready`, so that a refused name or an
/// unreachable server ends the program before the prompt appears.
async fn network(
    client: Client,
    name: String,
    mut requests: mpsc::Receiver<Request>,
    mut screen: Screen,
    ready: SyncSender<Result<(), ClientError>>,
) -> anyhow::Result<()> {
    let mut session = match client.connect(&name).await {
        Ok(session) => session,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let _ = ready.send(Ok(()));
    screen.notice(&format!(
        "connected to {} as {}; /help lists the commands",
        session.addr(),
        session.name()
    ));
    loop {
        match converse(&mut session, &mut requests, &mut screen).await {
            End::Quit => {
                // Best effort: we are leaving either way.
                let _ = session.bye().await;
                return Ok(());
            }
            End::Lost(e) => {
                tracing::warn!("Connection lost: {}", describe(&e));
                screen.error(&format!(
                    "lost the connection to {}: {}; reconnecting",
                    client.addr(),
                    describe(&e)
                ));
                match reconnect(&client, &name, &mut requests, &mut screen).await? {
                    Some(new) => session = new,
                    None => return Ok(()),
                }
            }
        }
    }
}

/// Why [`converse`] stopped.
enum End {
    /// The user left.
    Quit,
    /// The connection is gone.
    Lost(ClientError),
}

/// Relays frames to the screen and requests to the server until one side ends.
async fn converse(
    session: &mut Session,
    requests: &mut mpsc::Receiver<Request>,
    screen: &mut Screen,
) -> End {
    // Fills the names for Tab and shows who is here.
    if let Err(e) = session.send(&ClientFrame::ListUsers).await {
        return End::Lost(e);
    }
    loop {
        tokio::select! {
            frame = session.next_frame() => match frame {
                Ok(Some(frame)) => screen.frame(&frame),
                Ok(None) => return End::Lost(ClientError::Closed { addr: session.addr().to_owned() }),
                Err(e) => return End::Lost(e),
            },
            request = requests.recv() => match request {
                None | Some(Request::Quit) => return End::Quit,
                Some(Request::Send(frame)) => match session.send(&frame).await {
                    Ok(()) => {}
                    Err(e @ ClientError::TooLarge { .. }) => {
                        screen.error(&format!("not sent: {e}; split it into shorter messages"));
                    }
                    Err(e) => return End::Lost(e),
                },
            },
        }
    }
}

/// Tries to connect again, waiting 0.5 s, 1 s, 2 s ... up to [`MAX_BACKOFF`] between tries,
/// and keeps answering the keyboard meanwhile. `None` when the user quits first; an error
/// when the server refuses us in a way waiting cannot fix.
async fn reconnect(
    client: &Client,
    name: &str,
    requests: &mut mpsc::Receiver<Request>,
    screen: &mut Screen,
) -> anyhow::Result<Option<Session>> {
    let mut delay = FIRST_BACKOFF;
    loop {
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                () = sleep_until(wake) => break,
                request = requests.recv() => match request {
                    None | Some(Request::Quit) => return Ok(None),
                    Some(Request::Send(_)) => screen.error(
                        "not connected, not sent (reconnecting; Up brings the line back)",
                    ),
                },
            }
        }
        match client.connect(name).await {
            Ok(session) => {
                tracing::info!("Reconnected to {} as {}", session.addr(), session.name());
                screen.notice(&format!(
                    "reconnected to {} as {}",
                    session.addr(),
                    session.name()
                ));
                return Ok(Some(session));
            }
            Err(e) if is_final(&e) => {
                screen.error(&format!(
                    "cannot reconnect: {}; press Enter to leave",
                    describe(&e)
                ));
                return Err(e.into());
            }
            Err(e) => {
                delay = (delay * 2).min(MAX_BACKOFF);
                screen.error(&format!(
                    "still cannot reach {}: {}; next try in {} s",
                    client.addr(),
                    describe(&e),
                    delay.as_secs_f64()
                ));
            }
        }
    }
}

/// Refusals that another attempt would only repeat. A taken name is not one of them: after
/// a network failure the server may still hold our old connection for a while.
fn is_final(err: &ClientError) -> bool {
    match err {
        ClientError::BadName { .. } => true,
        ClientError::Refused { kind, .. } => matches!(
            kind,
            ErrorKind::VersionMismatch | ErrorKind::AuthFailed | ErrorKind::InvalidName
        ),
        _ => false,
    }
}

/// Where the network thread's lines go.
enum Output {
    /// Above the prompt, through the line editor.
    Editor(Box<dyn ExternalPrinter + Send>),
    /// Plain stdout, when there is no terminal to edit on.
    Stdout,
}

/// What the network thread shows, and the names it learns for Tab.
struct Screen {
    /// Where lines go.
    output: Output,
    /// How they look.
    style: Style,
    /// Who is online.
    names: Names,
}

impl Screen {
    fn frame(&mut self, frame: &ServerFrame) {
        self.names.track(frame);
        if let Some(line) = self.style.line(frame) {
            self.print(line);
        }
    }

    fn notice(&mut self, text: &str) {
        let line = self.style.notice(text);
        self.print(line);
    }

    fn error(&mut self, text: &str) {
        let line = self.style.error(text);
        self.print(line);
    }

    fn print(&mut self, mut line: String) {
        // Outside raw mode the printer writes the text as is.
        line.push('\n');
        match &mut self.output {
            Output::Editor(printer) => {
                if printer.print(line).is_err() {
                    tracing::warn!("Cannot print above the prompt");
                }
            }
            Output::Stdout => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
            }
        }
    }
}

/// The names online, for Tab: filled from `UserList`, kept current from joins, leaves and
/// senders. Keyed case-insensitively, spelled as their owners spell them.
#[derive(Debug, Clone, Default)]
struct Names(Arc<Mutex<BTreeMap<String, String>>>);

impl Names {
    fn track(&self, frame: &ServerFrame) {
        let mut names = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match frame {
            ServerFrame::UserList { users } => {
                names.clear();
                names.extend(users.iter().map(|u| (name_key(u), u.clone())));
            }
            ServerFrame::Msg { from, .. } | ServerFrame::Whisper { from, .. } => {
                names.insert(name_key(from), from.clone());
            }
            ServerFrame::System { text, .. } => {
                if let Some(who) = notice_subject(text, " joined") {
                    names.insert(name_key(who), who.to_owned());
                } else if let Some(who) = notice_subject(text, " left") {
                    names.remove(&name_key(who));
                }
            }
            _ => {}
        }
    }

    /// Names starting with `prefix`, any case.
    fn starting_with(&self, prefix: &str) -> Vec<String> {
        let prefix = name_key(prefix);
        let names = self.0.lock().unwrap_or_else(|e| e.into_inner());
        names
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, name)| name.clone())
            .collect()
    }
}

/// `bob` from `bob joined` (with `suffix` " joined"), when what precedes is a valid name.
fn notice_subject<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    text.strip_suffix(suffix)
        .filter(|who| validate::username(who).is_ok())
}

/// Tab completion: `/commands` at the start of a line, names everywhere else.
struct ChatHelper {
    /// Who is online, kept current by the network thread.
    names: Names,
}

impl ChatHelper {
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        let word = &before[start..];
        if start == 0 {
            if let Some(partial) = word.strip_prefix('/') {
                let partial = partial.to_ascii_lowercase();
                let commands = Command::ALL
                    .iter()
                    .filter(|c| c.name().starts_with(&partial))
                    .map(|c| format!("/{} ", c.name()))
                    .collect();
                return (start, commands);
            }
        }
        // At the start of a line a name addresses someone: `bob: `.
        let suffix = if start == 0 { ": " } else { " " };
        let names = self
            .names
            .starting_with(word)
            .into_iter()
            .map(|name| format!("{name}{suffix}"))
            .collect();
        (start, names)
    }
}

impl Completer for ChatHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}

impl Hinter for ChatHelper {
    type Hint = String;
}

impl Highlighter for ChatHelper {}

impl Validator for ChatHelper {}

impl Helper for ChatHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper(names: &[&str]) -> ChatHelper {
        let helper = ChatHelper {
            names: Names::default(),
        };
        helper.names.track(&ServerFrame::UserList {
            users: names.iter().map(|n| n.to_string()).collect(),
        });
        helper
    }

    #[test]
    fn tab_completes_commands_at_the_start_of_a_line() {
        let h = helper(&[]);
        assert_eq!(h.candidates("/wh", 3), (0, vec!["/whisper ".to_owned()]));
        assert_eq!(h.candidates("/L", 2), (0, vec!["/list_users ".to_owned()]));
        let (_, all) = h.candidates("/", 1);
        assert_eq!(all.len(), Command::ALL.len());
    }

    #[test]
    fn tab_completes_online_names_in_any_case() {
        let h = helper(&["Alice", "albert", "bob"]);
        assert_eq!(
            h.candidates("/whisper al", 11),
            (9, vec!["albert ".to_owned(), "Alice ".to_owned()])
        );
        assert_eq!(h.candidates("B", 1), (0, vec!["bob: ".to_owned()]));
        assert_eq!(h.candidates("hi bo", 5), (3, vec!["bob ".to_owned()]));
    }

    #[test]
    fn joins_and_leaves_keep_the_names_current() {
        let h = helper(&["alice"]);
        let system = |text: &str| ServerFrame::System {
            text: text.into(),
            at: 0,
        };
        h.names.track(&system("Carol joined"));
        assert_eq!(h.names.starting_with("c"), vec!["Carol".to_owned()]);
        h.names.track(&system("carol left"));
        h.names.track(&system("server shutting down"));
        assert!(h.names.starting_with("c").is_empty());
        assert_eq!(h.names.starting_with(""), vec!["alice".to_owned()]);
    }

    #[test]
    fn only_refusals_that_cannot_change_stop_reconnecting() {
        let refused = |kind| ClientError::Refused {
            kind,
            detail: String::new(),
        };
        assert!(is_final(&refused(ErrorKind::VersionMismatch)));
        assert!(!is_final(&refused(ErrorKind::NameTaken)));
        assert!(!is_final(&refused(ErrorKind::ShuttingDown)));
        assert!(!is_final(&ClientError::Closed { addr: "x".into() }));
    }
}

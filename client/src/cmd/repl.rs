//! `chat-client repl`: the interactive client.
//!
//! ```text
//!  main thread                          network thread (tokio, current_thread)
//!  rustyline readline("#lobby> ") ─Request─► select! { next frame, next request }
//!        ▲        ▲                          │ frames rendered as lines
//!        │        └── Known (rooms, current, names) ◄── kept current from frames
//!        └──── ExternalPrinter ◄─────────────┘ (printed above the prompt, line kept)
//! ```
//!
//! The line editor owns the terminal and the main thread; the one task that owns the
//! connection (`network`) prints through rustyline's external printer, which clears the
//! prompt, prints the line and redraws the prompt with whatever was half typed. Both share
//! `known::Known`: who is online, which rooms exist, which we are in and which is
//! current. A plain line goes to the current room, shown in the prompt; lines from the
//! other joined rooms carry their `#room`. After `/join` and `/part` the editor waits for
//! the server's answer before drawing the next prompt, so the prompt always names the room
//! the next line goes to. A join shows the room's latest messages first (dimmed, with their
//! time), and `/history` the ones before the oldest shown. When the server goes away the
//! task says so, reconnects with backoff and rejoins every room, showing exactly what was
//! said meanwhile; the editor never stops, so nothing typed is lost. Logs go to
//! `--log-file` or nowhere, never under the prompt.

mod known;
mod network;
mod request;
mod screen;
mod talk;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;

use anyhow::Context as _;
use chat_proto::input::{self, Input, InputError};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};
use tokio::sync::mpsc;

use self::known::{ChatHelper, Known};
use self::network::{network, Start};
use self::request::Request;
use self::screen::{Output, Screen};
use crate::cmd::resolve_rooms;
use crate::render::Style;
use crate::settings::Settings;

/// Lines typed but not yet handed to the connection. A person cannot outrun this.
const REQUEST_QUEUE: usize = 64;

/// History entries kept in the history file.
const HISTORY_SIZE: usize = 1000;

/// Chat interactively: line editing, history, Tab completion.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Type a message and press Enter to send it to the current room, \
                        shown in the prompt (#lobby> ); lines from your other rooms show \
                        their #room. /join, /part, /switch, /rooms and /members manage \
                        rooms; a join shows the room's latest 20 messages, dimmed, and \
                        /history [N] the N before them; /help lists every command; Tab completes commands, rooms and \
                        names; Ctrl-D or /quit leaves. History is kept in \
                        $XDG_DATA_HOME/chat/history (default ~/.local/share/chat/history)."
)]
pub struct Repl {
    /// A room to join at start, with or without '#'; repeat for several, the first is
    /// current [default: lobby]
    #[arg(long = "room", value_name = "ROOM")]
    rooms: Vec<String>,
}

impl Repl {
    /// Connects and joins, then reads lines until Ctrl-D or `/quit`.
    pub fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let rooms = resolve_rooms(&self.rooms)?;
        let known = Known::default();
        let config = Config::builder()
            .auto_add_history(false)
            .completion_type(CompletionType::List)
            .max_history_size(HISTORY_SIZE)
            .context("cannot configure the line editor")?
            .build();
        let mut editor: Editor<ChatHelper, FileHistory> =
            Editor::with_config(config).context("cannot start the line editor")?;
        editor.set_helper(Some(ChatHelper {
            known: known.clone(),
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
            known: known.clone(),
        };

        let (requests, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (ready, ready_rx) = std::sync::mpsc::sync_channel(1);
        let (settled, settled_rx) = std::sync::mpsc::sync_channel(1);
        let start = Start {
            client: settings.client(),
            name: settings.name.clone(),
            rooms,
            ready,
            settled,
        };
        let network = std::thread::Builder::new()
            .name("network".into())
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                runtime.block_on(network(start, requests_rx, screen))
            })
            .context("cannot start the network thread")?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return join(network),
        }
        // The first prompt names the room joined; a server that does not answer gets the
        // timeout, then the prompt without a room.
        wait_answer(&settled_rx, settings);

        loop {
            let line = match editor.readline(&known.prompt()) {
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
            let current = known.current();
            let input = match parsed {
                Ok(Input::Help) => {
                    println!("{}", input::help_text());
                    continue;
                }
                Ok(Input::Quit) => break,
                Ok(Input::Switch { room }) => {
                    if let Err(why) = known.switch(&room) {
                        println!("{}", style.error(&why));
                    }
                    continue;
                }
                Ok(
                    Input::Message { .. }
                    | Input::Part { room: None }
                    | Input::Members { room: None }
                    | Input::History { .. },
                ) if current.is_none() => {
                    println!("{}", style.error("you are in no room; /join ROOM first"));
                    continue;
                }
                Ok(Input::History { count }) => {
                    // Only the network task knows what the room has shown so far.
                    let request = Request::Earlier {
                        room: current.unwrap_or_default(),
                        count: count.unwrap_or(input::HISTORY_COUNT),
                    };
                    if requests.blocking_send(request).is_err() {
                        break;
                    }
                    continue;
                }
                Ok(input) => input,
                Err(e) => {
                    println!("{}", style.error(&e.to_string()));
                    continue;
                }
            };
            // The prompt changes with the answer to these: wait for it.
            let changes_room = matches!(input, Input::Join { .. } | Input::Part { .. });
            let frame = input
                .into_frame(current.as_deref().unwrap_or_default())
                .expect("Switch, Help and Quit were handled above");
            let (done, answered) = if changes_room {
                let (done, answered) = std::sync::mpsc::sync_channel(1);
                (Some(done), Some(answered))
            } else {
                (None, None)
            };
            if requests
                .blocking_send(Request::Send { frame, done })
                .is_err()
            {
                // The network task ended (it said why); its result is the outcome.
                break;
            }
            if let Some(answered) = answered {
                wait_answer(&answered, settings);
            }
        }
        let _ = requests.blocking_send(Request::Quit);
        drop(requests);
        join(network)
    }
}

/// Waits until the network task drops (or uses) the sender of `answered`: the answer
/// arrived, the request was refused, or the connection was lost; at most the timeout.
fn wait_answer(answered: &std::sync::mpsc::Receiver<()>, settings: &Settings) {
    match answered.recv_timeout(settings.timeout) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
        Err(RecvTimeoutError::Timeout) => tracing::warn!("No answer within the timeout"),
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

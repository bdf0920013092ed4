//! `chat-client send TEXT` and `send -`: deliver messages and exit 0 only once the server
//! has confirmed each one.
//!
//! A message is confirmed by its echo (the server broadcasts it to its sender too), a
//! whisper by the sender's copy, `/list_users` by the list. `send -` keeps reading replies
//! while it writes, with at most [`WINDOW`] lines unconfirmed: a client that only wrote
//! would fill its own queue on the server with echoes and be dropped as a slow consumer.

use std::collections::VecDeque;
use std::io::Write;

use anyhow::Context;
use chat_proto::input::{self, Input, InputError};
use chat_proto::ClientFrame;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::{sleep_until, Instant};

use crate::cmd::users::print_users;
use crate::cmd::{print_line, UsageError};
use crate::settings::Settings;
use crate::{ClientError, Reply, Session};

/// Lines sent but not yet confirmed, at most. Far below any server queue, and enough to keep
/// the connection busy while echoes come back.
pub const WINDOW: usize = 32;

/// Send a message to everyone; exits 0 once the server has delivered it.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Text starting with / is a command (/whisper bob hi, /list_users); \
                        start it with // to send a leading /."
)]
pub struct Send {
    /// The message (several words are joined with spaces), or `-` to send each line of
    /// stdin as its own message, in order
    #[arg(required = true, value_name = "TEXT")]
    text: Vec<String>,
}

impl Send {
    /// Connects, sends, waits for the confirmation(s), says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let text = self.text.join(" ");
        if text == "-" {
            let mut session = settings.client().connect(&settings.name).await?;
            let outcome = send_stdin(&mut session).await;
            let bye = session.bye().await;
            outcome?;
            return Ok(bye?);
        }
        let input = match input::parse(&text) {
            Ok(input) => input,
            Err(e) => return Err(UsageError(e.to_string()).into()),
        };
        match input {
            Input::Help => {
                println!("{}", input::help_text());
                return Ok(());
            }
            Input::Quit => return Ok(()),
            _ => {}
        }
        let frame = input
            .into_frame()
            .expect("Help and Quit were handled above");
        let client = settings.client();
        client.check_fits(&frame)?;
        let mut session = client.connect(&settings.name).await?;
        let reply = session.request(&frame).await;
        // Leave cleanly even after a refusal, so the name is free at once.
        let bye = session.bye().await;
        if let Reply::Users(users) = reply? {
            print_users(&users, &settings.name)?;
        }
        bye?;
        Ok(())
    }
}

/// What a sent line is waiting for.
#[derive(Debug)]
struct Pending {
    /// 1-based line number in stdin, for error messages.
    line: usize,
    /// Which frame was sent.
    frame: ClientFrame,
}

/// Sends every stdin line; fails at the end if any line was not delivered.
async fn send_stdin(session: &mut Session) -> anyhow::Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut line_no = 0;
    let mut eof = false;
    let mut failed = 0;
    let mut deadline = Instant::now();
    let timeout = session.timeout();
    let mut out = std::io::stdout().lock();
    loop {
        if eof && pending.is_empty() {
            break;
        }
        tokio::select! {
            line = lines.next_line(), if !eof && pending.len() < WINDOW => {
                let Some(line) = line.with_context(|| format!("cannot read line {} of stdin", line_no + 1))? else {
                    eof = true;
                    continue;
                };
                line_no += 1;
                let frame = match input::parse(&line) {
                    Err(InputError::Blank) => continue,
                    Err(e) => {
                        failed += 1;
                        eprintln!("line {line_no} not sent: {e}");
                        continue;
                    }
                    Ok(Input::Quit) => {
                        eof = true;
                        continue;
                    }
                    Ok(Input::Help) => {
                        print_line(&mut out, &input::help_text())?;
                        continue;
                    }
                    Ok(input) => input.into_frame().expect("Help and Quit were handled above"),
                };
                match session.send(&frame).await {
                    Err(e @ ClientError::TooLarge { .. }) => {
                        failed += 1;
                        eprintln!("line {line_no} not sent: {e}");
                        continue;
                    }
                    other => other?,
                }
                if pending.is_empty() {
                    deadline = Instant::now() + timeout;
                }
                pending.push_back(Pending { line: line_no, frame });
            }
            frame = session.next_frame() => {
                let frame = frame?.ok_or_else(|| ClientError::Closed { addr: session.addr().to_owned() })?;
                let Some(reply) = session.reply_of(&frame) else { continue };
                let Some(sent) = pending.pop_front() else { continue };
                deadline = Instant::now() + timeout;
                match reply {
                    Reply::Refused { detail, .. } => {
                        failed += 1;
                        eprintln!("line {} not delivered: {detail}", sent.line);
                    }
                    Reply::Users(users) => {
                        for user in users {
                            print_line(&mut out, &user)?;
                        }
                    }
                    Reply::Echo { .. } | Reply::WhisperCopy { .. } => {
                        tracing::debug!(line = sent.line, frame = ?sent.frame, "Delivered");
                    }
                }
            }
            () = sleep_until(deadline), if !pending.is_empty() => {
                return Err(ClientError::Timeout { addr: session.addr().to_owned(), waited: timeout })
                    .with_context(|| format!("line {} was not confirmed", pending[0].line));
            }
        }
    }
    out.flush().ok();
    if failed > 0 {
        anyhow::bail!("{failed} of {line_no} lines were not delivered (see above)");
    }
    Ok(())
}

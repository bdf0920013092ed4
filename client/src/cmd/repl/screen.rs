//! Where the REPL's network thread shows things: above the prompt through the line
//! editor, or plain stdout without a terminal; live frames, past messages (dimmed, with
//! their time) and the program's own notices.

use chat_proto::validate::room_key;
use chat_proto::{Past, ServerFrame};
use rustyline::ExternalPrinter;

use super::known::Known;
use crate::render::Style;

/// Where the network thread's lines go.
pub enum Output {
    /// Above the prompt, through the line editor.
    Editor(Box<dyn ExternalPrinter + Send>),
    /// Plain stdout, when there is no terminal to edit on.
    Stdout,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Output::Editor(_) => "Output::Editor",
            Output::Stdout => "Output::Stdout",
        })
    }
}

/// What the network thread shows, and what it learns for the prompt and for Tab.
#[derive(Debug)]
pub struct Screen {
    /// Where lines go.
    pub output: Output,
    /// How they look.
    pub style: Style,
    /// People and rooms, shared with the editor.
    pub known: Known,
}

impl Screen {
    /// Shows `frame` as seen from the current room.
    pub fn show(&mut self, frame: &ServerFrame) {
        let here = self.known.current();
        if let Some(line) = self.style.line_in(frame, here.as_deref()) {
            self.print(line);
        }
    }

    /// Shows a message of `room`'s log: dimmed, with its time.
    pub fn past(&mut self, room: &str, past: &Past) {
        let here = self.known.current();
        let line = self
            .style
            .past_line(room, past, here.as_deref(), &chrono::Local::now());
        self.print(line);
    }

    /// Says that some of `room`'s messages are no longer available.
    pub fn missed(&mut self, room: &str) {
        let here = self.known.current();
        let line = self.style.missed_line(room, here.as_deref());
        self.print(line);
    }

    /// Heads the `count` earlier messages of `room` that follow.
    pub fn earlier(&mut self, room: &str, count: usize) {
        let here = self.known.current();
        let tag = if here.is_some_and(|here| room_key(&here) == room_key(room)) {
            String::new()
        } else {
            self.style.room_tag(room)
        };
        let text = match count {
            0 => "no earlier messages".to_owned(),
            1 => "1 earlier message:".to_owned(),
            n => format!("{n} earlier messages:"),
        };
        let line = format!("{tag}{}", self.style.notice(&text));
        self.print(line);
    }

    /// A notice from this program: `* text`.
    pub fn notice(&mut self, text: &str) {
        let line = self.style.notice(text);
        self.print(line);
    }

    /// Something that went wrong: `! text`.
    pub fn error(&mut self, text: &str) {
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

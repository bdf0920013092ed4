//! What the REPL's keyboard asks of its connection: the one message type between the editor
//! thread and the network thread. Sending it is the editor's ([`super`]); carrying it out is
//! the network thread's ([`super::network`](mod@super::network), [`super::talk`]).

use std::sync::mpsc::SyncSender;

use chat_proto::ClientFrame;

/// What the keyboard asks of the connection.
#[derive(Debug)]
pub enum Request {
    /// Send this frame; tell `done` (by sending or by dropping it) once it is answered,
    /// refused or lost.
    Send {
        /// The frame.
        frame: ClientFrame,
        /// Who waits for the answer: the editor, after a line that changes the prompt.
        done: Option<SyncSender<()>>,
    },
    /// Show `count` messages of `room` older than the oldest shown (`/history`).
    Earlier {
        /// The room, as shown.
        room: String,
        /// How many.
        count: u32,
    },
    /// Say `Bye` and stop.
    Quit,
}

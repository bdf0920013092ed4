//! The workload's nats-server side, in NATS's plain text protocol: a person is one
//! connection subscribed to the subject of each of its rooms (`CONNECT`, `SUB`, then a
//! `PING` whose `PONG` says the subscriptions are in place), publishes with `PUB` and reads
//! `MSG`s. Like a chat room, a subject echoes a message to its sender too (`"echo":true`,
//! NATS's default), so every member of a room gets every message of it in both servers.
//!
//! The protocol: <https://docs.nats.io/reference/reference-protocols/nats-protocol>.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::super::stamp::{MsgTemplate, Stamp};
use super::link::{Incoming, Link, Wire, CHUNK};

/// Connects `name` to the nats-server at `addr` and subscribes it to `subjects`, within
/// `wait`.
pub async fn connect(
    addr: SocketAddr,
    name: &str,
    subjects: &[String],
    size: usize,
    wait: Duration,
) -> anyhow::Result<Link> {
    let (stream, buf) = timeout(wait, handshake(addr, name, subjects))
        .await
        .with_context(|| format!("{name}: no answer from nats-server at {addr} in {wait:?}"))?
        .with_context(|| format!("{name} could not subscribe at {addr}"))?;
    let (read, write) = stream.into_split();
    Ok(Link {
        read,
        write,
        buf,
        wire: Wire::Nats,
        rooms: subjects.iter().map(|s| s.clone().into_bytes()).collect(),
        templates: subjects.iter().map(|s| template(s, size)).collect(),
    })
}

/// Connects a client named `name` and subscribes it to `subjects` (sid 1, 2, ...); returns
/// once the server has answered the `PING` behind them, with what followed the `PONG`.
pub async fn handshake(
    addr: SocketAddr,
    name: &str,
    subjects: &[String],
) -> anyhow::Result<(TcpStream, BytesMut)> {
    let mut stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(CHUNK);
    let info = read_line(&mut stream, &mut buf).await?;
    if !info.starts_with("INFO ") {
        bail!("expected INFO, got {info:?}");
    }
    let mut hello = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":true,\"name\":{},\
         \"lang\":\"rust\",\"version\":\"{}\",\"protocol\":1}}\r\n",
        serde_json::Value::from(name),
        env!("CARGO_PKG_VERSION")
    );
    for (sid, subject) in subjects.iter().enumerate() {
        hello.push_str(&format!("SUB {subject} {}\r\n", sid + 1));
    }
    hello.push_str("PING\r\n");
    stream.write_all(hello.as_bytes()).await?;
    loop {
        let line = read_line(&mut stream, &mut buf).await?;
        match line.as_str() {
            "PONG" => return Ok((stream, buf)),
            "PING" => stream.write_all(b"PONG\r\n").await?,
            _ if line.starts_with("-ERR") => bail!("nats-server: {line}"),
            // +OK, INFO: nothing to do.
            _ => {}
        }
    }
}

/// The next protocol line (without its CRLF), reading from `stream` into `buf` as needed.
pub async fn read_line(stream: &mut TcpStream, buf: &mut BytesMut) -> anyhow::Result<String> {
    loop {
        if let Some(end) = find_crlf(buf) {
            let line = buf.split_to(end + 2);
            return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
        }
        if stream.read_buf(buf).await? == 0 {
            bail!("nats-server closed the connection");
        }
    }
}

/// A `PUB` of a stamped text of `size` bytes to `subject`.
fn template(subject: &str, size: usize) -> MsgTemplate {
    let zero = Stamp {
        publisher: 0,
        seq: 0,
        sent_ns: 0,
    };
    let text = zero.text(size);
    let mut wire = format!("PUB {subject} {}\r\n", text.len()).into_bytes();
    let text_at = wire.len();
    wire.extend_from_slice(text.as_bytes());
    wire.extend_from_slice(b"\r\n");
    MsgTemplate::from_wire(wire, text_at)
}

/// Cuts `buf` into protocol lines and `MSG` payloads, leaving an incomplete one in place.
pub fn decode(buf: &mut BytesMut, mut on: impl FnMut(Incoming<'_>)) -> Result<(), String> {
    let mut at = 0;
    while let Some(end) = find_crlf(&buf[at..]) {
        let line = &buf[at..at + end];
        let mut next = at + end + 2;
        if let Some(args) = line.strip_prefix(b"MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let mut words = args.split(|&b| b == b' ').filter(|w| !w.is_empty());
            let subject = words.next().unwrap_or_default();
            let len = words
                .next_back()
                .and_then(|w| std::str::from_utf8(w).ok()?.parse::<usize>().ok())
                .ok_or_else(|| format!("bad MSG line {:?}", String::from_utf8_lossy(line)))?;
            if buf.len() < next + len + 2 {
                break;
            }
            on(Incoming::Msg {
                room: subject,
                text: &buf[next..next + len],
            });
            next += len + 2;
        } else if line == b"PING" {
            on(Incoming::Ping);
        } else if line.starts_with(b"-ERR") {
            on(Incoming::Error(String::from_utf8_lossy(line).into_owned()));
        }
        // PONG, +OK, INFO: nothing to do.
        at = next;
    }
    buf.advance(at);
    Ok(())
}

/// Where the first CRLF in `bytes` starts.
fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages, pings and errors come out whole, in order, and a message split across two
    /// reads waits for its second half.
    #[test]
    fn lines_and_payloads_are_cut_where_they_end() {
        let stamp = Stamp {
            publisher: 7,
            seq: 3,
            sent_ns: 99,
        };
        let text = stamp.text(40);
        let wire = format!(
            "INFO {{}}\r\nMSG w.3 2 {len}\r\n{text}\r\nPING\r\nMSG w.10 1 _INBOX.x {len}\r\n\
             {text}\r\n-ERR 'Slow Consumer'\r\nMSG w.4 1 {len}\r\n{half}",
            len = text.len(),
            half = &text[..10]
        );
        let mut buf = BytesMut::from(wire.as_bytes());
        let mut seen = Vec::new();
        decode(&mut buf, |incoming| {
            seen.push(match incoming {
                Incoming::Msg { room, text } => {
                    format!("{} {:?}", String::from_utf8_lossy(room), Stamp::parse(text))
                }
                Incoming::Ping => "ping".to_owned(),
                Incoming::Error(e) => e,
            });
        })
        .unwrap();
        let parsed = format!("{:?}", Some(stamp));
        assert_eq!(
            seen,
            [
                format!("w.3 {parsed}"),
                "ping".to_owned(),
                format!("w.10 {parsed}"),
                "-ERR 'Slow Consumer'".to_owned()
            ]
        );
        assert!(buf.starts_with(b"MSG w.4 1 "), "{buf:?}");
    }

    /// A publish carries the stamp in a payload of exactly the size asked for.
    #[test]
    fn a_publish_is_a_pub_line_and_the_stamped_text() {
        let stamp = Stamp {
            publisher: 1,
            seq: 2,
            sent_ns: 3,
        };
        let mut out = Vec::new();
        template("w.12", 64).write(&stamp, &mut out);
        let expected = format!("PUB w.12 64\r\n{}\r\n", stamp.text(64));
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}

//! A JetStream stream on the workload's room subjects, so that nats-server keeps every
//! message as chat-server does with history on: created before the run through the
//! JetStream API (a request on `$JS.API.STREAM.CREATE.<name>` over the plain protocol), and
//! its message count read after it (`$JS.API.STREAM.INFO.<name>`) to show every message
//! was stored. The people publish with plain `PUB`, as without it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

use super::nats::{handshake, read_line};

/// Where the API's replies come back.
const INBOX: &str = "_INBOX.workload";

/// Creates the file-backed stream `name` on `subjects`.
pub async fn create_stream(
    addr: SocketAddr,
    name: &str,
    subjects: &str,
    wait: Duration,
) -> anyhow::Result<()> {
    let config = json!({ "name": name, "subjects": [subjects], "storage": "file" });
    request(
        addr,
        &format!("$JS.API.STREAM.CREATE.{name}"),
        &config,
        wait,
    )
    .await?;
    Ok(())
}

/// The messages the stream `name` holds.
pub async fn stream_messages(addr: SocketAddr, name: &str, wait: Duration) -> anyhow::Result<u64> {
    let info = request(
        addr,
        &format!("$JS.API.STREAM.INFO.{name}"),
        &json!({}),
        wait,
    )
    .await?;
    info["state"]["messages"]
        .as_u64()
        .with_context(|| format!("no state.messages in {info}"))
}

/// One JetStream API request on its own connection: its JSON reply, or an error when the
/// reply holds one.
async fn request(
    addr: SocketAddr,
    subject: &str,
    body: &Value,
    wait: Duration,
) -> anyhow::Result<Value> {
    let exchange = async {
        let (mut stream, mut buf) = handshake(addr, "workload-jetstream", &[INBOX.to_owned()])
            .await
            .context("cannot reach nats-server")?;
        let body = body.to_string();
        let publish = format!("PUB {subject} {INBOX} {}\r\n{body}\r\n", body.len());
        stream.write_all(publish.as_bytes()).await?;
        loop {
            let line = read_line(&mut stream, &mut buf).await?;
            if line.starts_with("MSG ") {
                let reply: Value = serde_json::from_str(&read_line(&mut stream, &mut buf).await?)?;
                if let Some(error) = reply.get("error") {
                    bail!("{subject}: {error}");
                }
                return Ok(reply);
            }
            if line.starts_with("-ERR") {
                bail!("{subject}: {line}");
            }
        }
    };
    timeout(wait, exchange)
        .await
        .with_context(|| format!("{subject}: no reply in {wait:?} (is JetStream on: -js?)"))?
}

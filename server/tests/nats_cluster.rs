//! The chat on a cluster of three real nats-servers with every stream kept three times
//! (`[cluster] replicas = 3`): two chat nodes, one connected to a NATS server it alone
//! knows, make one chat; killing or pausing that NATS server, or cutting it off from the
//! others, loses nothing acknowledged, the node goes on through another server it learnt
//! from NATS, and the server catches up once it is back. Losing two of the three refuses
//! room messages until one is back. A NATS that cannot keep the replicas asked for stops a
//! node at start with one line.

mod common;

use std::time::{Duration, Instant};

use chat_proto::{ClientFrame, Cursor, ErrorKind, ServerFrame};
use common::nats::NatsServer;
use common::{run_to_exit, scratch_dir, start_with, TestClient, TestServer, TIMEOUT};

/// The room of the tests.
const ROOM: &str = "rust";

/// How long the cluster may refuse (`ClusterUnavailable`, `StoreFailed`) after a NATS
/// server came back before a test gives up: JetStream 2.9 answered "temporarily
/// unavailable" through every server for up to about ten seconds after a paused one
/// resumed, electing leaders again.
const AVAILABLE_WITHIN: Duration = Duration::from_secs(30);

/// A client of `node` registered as `name` and in [`ROOM`], asking again while the
/// cluster is unavailable (for up to [`AVAILABLE_WITHIN`]): a new NATS cluster elects the
/// leaders of the names bucket and of the room's stream in the first seconds, and refuses
/// meanwhile.
async fn member(node: &TestServer, name: &str) -> TestClient {
    let started = Instant::now();
    let mut client = loop {
        let mut client = node.connect().await;
        match client.hello(name).await {
            ServerFrame::Welcome { .. } => break client,
            ServerFrame::Error {
                kind: ErrorKind::ClusterUnavailable,
                ..
            } if started.elapsed() < AVAILABLE_WITHIN => continue,
            other => panic!("{name}: expected Welcome, got {other:?}"),
        }
    };
    loop {
        client
            .send(ClientFrame::Join {
                room: ROOM.into(),
                backlog: chat_proto::Backlog::None,
            })
            .await;
        match client.recv_skipping_notices().await {
            ServerFrame::Joined { .. } => return client,
            ServerFrame::Error {
                kind: ErrorKind::ClusterUnavailable,
                ..
            } if started.elapsed() < AVAILABLE_WITHIN => continue,
            other => panic!("{name}: expected Joined, got {other:?}"),
        }
    }
}

/// Sends `text` to [`ROOM`] until it is confirmed (its echo, with its `seq`), sending again
/// (as `text` plus the attempt) while the cluster refuses it with `ClusterUnavailable`, as
/// during a JetStream leader election. Returns the text that was confirmed, its `seq` and
/// how many refusals came before.
async fn say_until_confirmed(client: &mut TestClient, text: &str) -> (String, u64, usize) {
    let started = Instant::now();
    let mut every = tokio::time::interval(Duration::from_millis(10));
    for attempt in 0.. {
        every.tick().await;
        let asked = Instant::now();
        let sent = format!("{text}.{attempt}");
        client
            .send(ClientFrame::Msg {
                room: ROOM.into(),
                text: sent.clone(),
            })
            .await;
        loop {
            // While a NATS cluster regains its quorum, the room's consumer may be made again
            // before the echo comes: the answer may take longer than a frame usually does.
            let frame = tokio::time::timeout(3 * TIMEOUT, client.conn.read_frame()).await;
            let Ok(Ok(Some(frame))) = frame else {
                panic!(
                    "{sent}: no echo and no refusal in {:?}: {frame:?}",
                    3 * TIMEOUT
                );
            };
            match frame {
                ServerFrame::Msg { text, seq, .. } if text == sent => {
                    if asked.elapsed() > TIMEOUT {
                        println!(
                            "{sent} was confirmed {:?} after it was sent",
                            asked.elapsed()
                        );
                    }
                    return (sent, seq, attempt);
                }
                // An earlier attempt NATS took after all: a message like any other.
                ServerFrame::Msg { .. } => {}
                ServerFrame::Error {
                    kind: ErrorKind::ClusterUnavailable,
                    ..
                } => break,
                ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } => {}
                // The server's keepalive, after half a minute of a test.
                ServerFrame::Ping => client.send(ClientFrame::Pong).await,
                other => panic!("{sent}: {other:?}"),
            }
        }
        assert!(
            started.elapsed() < 3 * TIMEOUT,
            "{text} was still refused after {attempt} attempts"
        );
    }
    unreachable!()
}

/// Says `label 0` to `label n-1` in [`ROOM`] through `client`, each until it is confirmed
/// (see [`say_until_confirmed`]), and adds each to `confirmed` as `(text, seq)`.
async fn say_each(
    client: &mut TestClient,
    label: &str,
    n: usize,
    confirmed: &mut Vec<(String, u64)>,
) {
    for i in 0..n {
        let (text, seq, _) = say_until_confirmed(client, &format!("{label} {i}")).await;
        confirmed.push((text, seq));
    }
}

/// What `client` has received in [`ROOM`] until `last` came: `(text, seq)` in order. A
/// node's delivery may be that long behind its sender's confirmation after a NATS server
/// came back ([`AVAILABLE_WITHIN`]: its reader makes its consumer again once JetStream
/// answers).
async fn received_until(client: &mut TestClient, last: &str) -> Vec<(String, u64)> {
    let mut got = Vec::new();
    loop {
        let frame = tokio::time::timeout(AVAILABLE_WITHIN, client.conn.read_frame()).await;
        let Ok(Ok(Some(frame))) = frame else {
            panic!("waiting for {last:?}: {frame:?}; got so far {got:?}");
        };
        if let ServerFrame::Msg { text, seq, .. } = frame {
            let done = text == last;
            got.push((text, seq));
            if done {
                return got;
            }
        }
    }
}

/// Every message of [`ROOM`] in the history `client`'s node serves: `(text, seq)`.
/// Asks again while the node cannot read the log (`StoreFailed`, as while JetStream elects
/// the stream's leader after a server came back), for up to [`AVAILABLE_WITHIN`].
async fn history(client: &mut TestClient) -> Vec<(String, u64)> {
    let started = Instant::now();
    loop {
        match client.history(ROOM, Cursor::Latest, 500).await {
            ServerFrame::History { messages, .. } => {
                return messages.into_iter().map(|m| (m.text, m.seq)).collect();
            }
            ServerFrame::Error {
                kind: ErrorKind::StoreFailed,
                ..
            } if started.elapsed() < AVAILABLE_WITHIN => continue,
            other => panic!("expected History, got {other:?}"),
        }
    }
}

/// Checks that `seen` has each confirmed message exactly once, in the order confirmed, with
/// the seq it was confirmed with, and that its seqs are dense from 1.
fn has_every_confirmed(who: &str, seen: &[(String, u64)], confirmed: &[(String, u64)]) {
    let seqs: Vec<u64> = seen.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "{who}: seq is dense"
    );
    let kept: Vec<&(String, u64)> = seen.iter().filter(|m| confirmed.contains(m)).collect();
    assert_eq!(
        kept,
        confirmed.iter().collect::<Vec<_>>(),
        "{who}: every confirmed message once, in order"
    );
}

/// What befalls the NATS server of node a.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL, then started again on its store.
    Kill,
    /// SIGSTOP, then SIGCONT: it hangs with its sockets open.
    Pause,
    /// Cut off from the other NATS servers by the network (its routes), then joined again:
    /// its clients still reach it, and it answers their pings.
    Cut,
}

/// Two chat nodes on three NATS servers with R3, node a knowing only the first: `fault`
/// befalls that server, node a goes on through another, and once the server is back it
/// serves again. Every message confirmed before, during and after is in bob's stream on
/// node b and in the history every node serves (a third node, started on the returned
/// server alone, included), once each, in order, with `seq` dense.
async fn the_chat_goes_on_through(fault: Fault) {
    let (mut nats, partition) = match fault {
        Fault::Cut => {
            let (nats, partition) = NatsServer::partitionable_cluster(3).await;
            (nats, Some(partition))
        }
        Fault::Kill | Fault::Pause => (NatsServer::cluster(3), None),
    };
    // Node a knows only the first NATS server, so it is the one a uses (and a learns the
    // others from it); node b knows all three.
    let a = start_with(NatsServer::cluster_node_config(&[&nats[0]], "a", 3)).await;
    let every: Vec<&NatsServer> = nats.iter().collect();
    let b = start_with(NatsServer::cluster_node_config(&every, "b", 3)).await;
    let mut ann = member(&a, "ann").await;
    let mut bob = member(&b, "bob").await;

    let mut confirmed = Vec::new();
    say_each(&mut ann, "before", 20, &mut confirmed).await;
    // Node a's NATS server goes, with no goodbye; a goes on through another.
    let hit = Instant::now();
    match (fault, &partition) {
        (Fault::Kill, _) => nats[0].kill(),
        (Fault::Pause, _) => nats[0].pause(),
        (Fault::Cut, partition) => partition.as_ref().expect("relayed routes").isolate(0),
    }
    let mut refusals = 0;
    let mut first_after = None;
    for i in 0..20 {
        let (text, seq, refused) = say_until_confirmed(&mut ann, &format!("after {i}")).await;
        refusals += refused;
        first_after.get_or_insert(hit.elapsed());
        confirmed.push((text, seq));
    }
    println!(
        "{fault:?}: the first message after it was confirmed {:?} after it ({refusals} \
         refusals before, ClusterUnavailable)",
        first_after.unwrap()
    );
    // The server comes back and catches up by itself.
    match (fault, &partition) {
        (Fault::Kill, _) => nats[0].restart(),
        (Fault::Pause, _) => nats[0].resume(),
        (Fault::Cut, partition) => partition.as_ref().expect("relayed routes").heal(0),
    }
    say_each(&mut ann, "back", 20, &mut confirmed).await;
    let last = confirmed.last().unwrap().0.clone();
    let at_bob = received_until(&mut bob, &last).await;
    has_every_confirmed("bob's stream", &at_bob, &confirmed);
    let mut carol = member(&a, "carol").await;
    has_every_confirmed("node a's history", &history(&mut carol).await, &confirmed);
    let mut dave = member(&b, "dave").await;
    has_every_confirmed("node b's history", &history(&mut dave).await, &confirmed);
    let c = start_with(NatsServer::cluster_node_config(&[&nats[0]], "c", 3)).await;
    let mut erin = member(&c, "erin").await;
    has_every_confirmed(
        "the history of node c, on the server that came back",
        &history(&mut erin).await,
        &confirmed,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_goes_on_when_the_nats_server_of_a_node_is_killed() {
    the_chat_goes_on_through(Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_goes_on_when_the_nats_server_of_a_node_hangs() {
    the_chat_goes_on_through(Fault::Pause).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_goes_on_when_the_nats_server_of_a_node_is_cut_off_from_the_others() {
    the_chat_goes_on_through(Fault::Cut).await;
}

#[test]
fn a_nats_that_cannot_keep_the_replicas_asked_for_stops_the_node_with_one_line() {
    let nats = NatsServer::start();
    let dir = scratch_dir("replicas-beyond");
    let config = format!(
        "[server]\nhost = 127.0.0.1\nport = 0\n[http]\nport = off\n\
         [cluster]\nnats = {}\nreplicas = 3\n",
        nats.url()
    );
    std::fs::write(dir.join("config.ini"), config).unwrap();
    let started = Instant::now();
    let (code, stderr) = run_to_exit(&dir, &[]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(code, Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("NATS cannot keep 3 replicas of the chat's streams ([cluster] replicas"),
        "{stderr}"
    );
}
/// With two of three NATS servers gone, the streams have no quorum: room messages are
/// refused with `ClusterUnavailable`, as with a single NATS server down, never taken and
/// lost; once one server is back, the chat goes on with nothing confirmed missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_nats_servers_lost_refuse_room_messages_until_one_is_back() {
    let mut nats = NatsServer::cluster(3);
    let every: Vec<&NatsServer> = nats.iter().collect();
    let a = start_with(NatsServer::cluster_node_config(&every, "a", 3)).await;
    let b = start_with(NatsServer::cluster_node_config(&every, "b", 3)).await;
    let mut ann = member(&a, "ann").await;
    let mut bob = member(&b, "bob").await;
    let mut confirmed = Vec::new();
    say_each(&mut ann, "before", 10, &mut confirmed).await;

    nats[1].kill();
    nats[2].kill();
    let lost = Instant::now();
    // Once the link has seen the loss, every message is refused; none is confirmed.
    loop {
        ann.send(ClientFrame::Msg {
            room: ROOM.into(),
            text: "no quorum".into(),
        })
        .await;
        match ann.recv_skipping_notices().await {
            ServerFrame::Error {
                kind: ErrorKind::ClusterUnavailable,
                ..
            } => break,
            ServerFrame::Msg { .. } => {
                // Taken before the servers' loss was seen: a message like any other.
                assert!(
                    lost.elapsed() < TIMEOUT,
                    "still confirming without a quorum"
                );
            }
            other => panic!("expected ClusterUnavailable, got {other:?}"),
        }
    }
    println!("refused {:?} after two of three were lost", lost.elapsed());

    nats[1].restart();
    let back = Instant::now();
    let mut refusals = 0;
    for i in 0..10 {
        let (text, seq, refused) = say_until_confirmed(&mut ann, &format!("back {i}")).await;
        refusals += refused;
        confirmed.push((text, seq));
        if i == 0 {
            println!(
                "the first message once one was back was confirmed {:?} after its restart \
                 ({refusals} refusals before)",
                back.elapsed()
            );
        }
    }
    let last = confirmed.last().unwrap().0.clone();
    let at_bob = received_until(&mut bob, &last).await;
    // "no quorum" messages taken before the loss was seen are among them; every
    // confirmed one is there once, in order.
    has_every_confirmed("bob's stream", &at_bob, &confirmed);
    let mut carol = member(&a, "carol").await;
    has_every_confirmed("node a's history", &history(&mut carol).await, &confirmed);
}

//! Names are unique across the cluster: two nodes joined through one real nats-server (with
//! JetStream) never let two people hold one name, however close together they ask.

mod common;

use chat_proto::{ClientFrame, ErrorKind, ServerFrame};
use common::nats::NatsServer;
use common::{logs, start_with, TestClient, TestServer};

/// How many times the race is run: each trial is a fresh name asked for on both nodes at
/// the same moment.
const RACE_TRIALS: usize = 50;

/// Two nodes of the cluster behind `nats`, each serving once it has joined.
async fn two_nodes(nats: &NatsServer) -> (TestServer, TestServer) {
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b")).await;
    (a, b)
}

/// Whether `frame` is `Error{NameTaken}`.
fn is_name_taken(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::Error {
            kind: ErrorKind::NameTaken,
            ..
        }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_held_on_one_node_is_refused_on_the_other_until_its_holder_says_bye() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;

    let mut ann = a.register_only("Ann").await;
    let mut rival = b.connect().await;
    let refused = rival.hello("aNN").await;
    assert!(is_name_taken(&refused), "{refused:?}");
    // The refused client may ask again, as on one node.
    assert!(matches!(
        rival.hello("bob").await,
        ServerFrame::Welcome { .. }
    ));

    ann.send(ClientFrame::Bye).await;
    ann.until_closed().await;
    let mut again = b.connect().await;
    match again.hello("ann").await {
        ServerFrame::Welcome { username, .. } => assert_eq!(username, "ann"),
        other => panic!("ann is free once she said bye on node a, got {other:?}"),
    }
    // And now it is node b's: node a refuses it.
    let mut late = a.connect().await;
    let refused = late.hello("ANN").await;
    assert!(is_name_taken(&refused), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_asking_for_one_name_on_two_nodes_at_once_exactly_one_gets_it() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;

    let mut kept = Vec::new();
    for trial in 0..RACE_TRIALS {
        let name = format!("race{trial}");
        let mut on_a = a.connect().await;
        let mut on_b = b.connect().await;
        let (answer_a, answer_b) = tokio::join!(on_a.hello(&name), on_b.hello(&name));
        let welcomed = [&answer_a, &answer_b]
            .iter()
            .filter(|f| matches!(f, ServerFrame::Welcome { .. }))
            .count();
        assert_eq!(
            welcomed, 1,
            "trial {trial}: exactly one Welcome for {name}, got {answer_a:?} and {answer_b:?}"
        );
        assert!(
            is_name_taken(&answer_a) || is_name_taken(&answer_b),
            "trial {trial}: the other is NameTaken: {answer_a:?}, {answer_b:?}"
        );
        kept.push((on_a, on_b));
    }
    println!("name race: {RACE_TRIALS} trials, exactly one Welcome in each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_before_nats_says_it_is_retrying_and_serves_once_nats_is_up() {
    logs::capture();
    let mut nats = NatsServer::unstarted();
    let url = nats.url();
    let node = start_with(nats.node_config("early")).await;
    let line = logs::wait_for("saying NATS cannot be reached", |l| {
        l.contains(" | WARN | ") && l.contains(&format!("Cannot reach NATS at {url}: "))
    })
    .await;
    assert!(line.ends_with("; retrying"), "{line}");

    // A client that connects meanwhile is served once the node is in the cluster.
    let mut early = node.connect().await;
    early.send(common::hello("early")).await;
    nats.restart();
    assert!(
        matches!(early.recv().await, ServerFrame::Welcome { .. }),
        "the waiting client is welcomed once NATS is up"
    );
    // And the name is held in the cluster: a second node refuses it.
    let other = start_with(nats.node_config("other")).await;
    let mut rival = TestClient::connect(other.addr).await;
    let refused = rival.hello("EARLY").await;
    assert!(is_name_taken(&refused), "{refused:?}");
    let retries = logs::lines(|l| l.contains(&format!("Cannot reach NATS at {url}: ")));
    assert!(
        !retries.is_empty() && retries.len() <= 30,
        "at most one retry line a second: {retries:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_gives_its_names_back_to_the_cluster() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;
    let mut zoe = a.register_only("zoe").await;
    let mut rival = b.connect().await;
    assert!(is_name_taken(&rival.hello("zoe").await));

    a.shutdown().await;
    zoe.until_closed().await;
    assert!(
        matches!(rival.hello("zoe").await, ServerFrame::Welcome { .. }),
        "zoe is free on node b once node a stopped"
    );
}

/// The messages of the names bucket's stream in NATS, once they are `expected`; fails after
/// the tests' timeout with what it last saw.
async fn names_in_nats_until(nats: &NatsServer, expected: u64) -> u64 {
    let client = async_nats::connect(nats.url())
        .await
        .expect("connect to NATS");
    let js = async_nats::jetstream::new(client);
    let mut stream = js
        .get_stream("KV_chat_names")
        .await
        .expect("the names bucket's stream");
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    loop {
        let held = stream
            .info()
            .await
            .expect("the stream's state")
            .state
            .messages;
        if held == expected || tokio::time::Instant::now() > deadline {
            return held;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A name given back leaves nothing behind in NATS: after 200 guests with names of their
/// own signed in and left, and two stayed, the names bucket holds two messages, the names
/// of the two online (a delete marker per name would leave 202).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_given_back_leave_nothing_in_nats() {
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    for i in 0..200 {
        let mut guest = a.register_only(&format!("guest{i}")).await;
        guest.send(ClientFrame::Bye).await;
        guest.until_closed().await;
    }
    let _ann = a.register_only("ann").await;
    let _bob = a.register_only("bob").await;
    assert_eq!(names_in_nats_until(&nats, 2).await, 2);
    // And a name given back can be taken again at once.
    let mut again = a.connect().await;
    assert!(matches!(
        again.hello("guest7").await,
        ServerFrame::Welcome { .. }
    ));
}

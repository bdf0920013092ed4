//! Rooms across the cluster: nodes joined through one real nats-server (with JetStream)
//! give one chat. Messages reach every member on every node in one order with one `seq`,
//! member lists span the nodes, any node serves any room's history, and a node that dies,
//! stops, restarts, or loses NATS is seen by the others within the README's bounds.

mod common;

use std::time::{Duration, Instant};

use chat_proto::{Backlog, ClientFrame, Cursor, ErrorKind, LeftReason, ServerFrame};
use common::nats::{node_process, users_until, NatsServer};
use common::{presence, scratch_dir, start_with, Presence, TestClient, TestServer, TIMEOUT};

/// A message as a member received it.
type Seen = (String, String, u64);

/// The next `n` messages `client` receives, skipping presence and anything else.
async fn messages(client: &mut TestClient, n: usize) -> Vec<Seen> {
    let mut seen = Vec::with_capacity(n);
    while seen.len() < n {
        if let ServerFrame::Msg {
            from, text, seq, ..
        } = client.recv().await
        {
            seen.push((from, text, seq));
        }
    }
    seen
}

/// Waits until `client` hears `user` leave `room`, skipping anything else; returns why and
/// how long it took from `since`.
async fn left_after(
    client: &mut TestClient,
    room: &str,
    user: &str,
    since: Instant,
) -> (LeftReason, Duration) {
    loop {
        let frame = client.recv().await;
        if let Some(Presence::Left {
            room: r,
            user: u,
            reason,
        }) = presence(&frame)
        {
            if r == room && u == user {
                return (reason, since.elapsed());
            }
        }
    }
}

/// Waits until `client` hears `user` join `room`, skipping anything else.
async fn joins(client: &mut TestClient, room: &str, user: &str) {
    loop {
        let frame = client.recv().await;
        if let Some(Presence::Joined { room: r, user: u }) = presence(&frame) {
            if r == room && u == user {
                return;
            }
        }
    }
}

/// A client registered as `name` on `node` and in `room`.
async fn member(node: &TestServer, name: &str, room: &str) -> TestClient {
    let mut client = node.register_only(name).await;
    client.join(room).await;
    client
}

/// A client of the node at `addr`, registered as `name` and in `room`.
async fn member_at(addr: std::net::SocketAddr, name: &str, room: &str) -> TestClient {
    let mut client = TestClient::connect(addr).await;
    match client.hello(name).await {
        ServerFrame::Welcome { .. } => {}
        other => panic!("{name}: expected Welcome, got {other:?}"),
    }
    client.join(room).await;
    client
}

/// Asks for `room`'s members until they are `expected` (presence crosses NATS).
async fn members_until(client: &mut TestClient, room: &str, expected: &[&str]) {
    let start = Instant::now();
    let mut every = tokio::time::interval(Duration::from_millis(10));
    loop {
        every.tick().await;
        client
            .send(ClientFrame::ListMembers { room: room.into() })
            .await;
        let users = loop {
            if let ServerFrame::Members { users, .. } = client.recv().await {
                break users;
            }
        };
        if users == expected {
            return;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "#{room} still has {users:?}, not {expected:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_on_two_nodes_are_seen_in_one_order_with_one_seq_on_three() {
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b")).await;
    let c = start_with(nats.node_config("c")).await;
    let mut ann = member(&a, "ann", "lobby").await;
    let mut bob = member(&b, "bob", "lobby").await;
    let mut carol = member(&c, "carol", "lobby").await;
    members_until(&mut carol, "lobby", &["ann", "bob", "carol"]).await;

    const EACH: usize = 300;
    let (mut ann_out, mut bob_out) = (Vec::new(), Vec::new());
    for i in 0..EACH {
        ann_out.push(ClientFrame::Msg {
            room: "lobby".into(),
            text: format!("ann {i}"),
        });
        bob_out.push(ClientFrame::Msg {
            room: "lobby".into(),
            text: format!("bob {i}"),
        });
    }
    // Both send at once, each from its own node, a message a millisecond, so that each
    // node has a record on its way most of the time and the two meet at the broker.
    let ann_send = async {
        let mut every = tokio::time::interval(Duration::from_millis(1));
        for frame in ann_out {
            every.tick().await;
            ann.send(frame).await;
        }
        messages(&mut ann, 2 * EACH).await
    };
    let bob_send = async {
        let mut every = tokio::time::interval(Duration::from_millis(1));
        for frame in bob_out {
            every.tick().await;
            bob.send(frame).await;
        }
        messages(&mut bob, 2 * EACH).await
    };
    let (at_a, at_b, at_c) = tokio::join!(ann_send, bob_send, messages(&mut carol, 2 * EACH));

    assert_eq!(at_a, at_b, "node a and node b saw different orders");
    assert_eq!(at_a, at_c, "node a and node c saw different orders");
    let seqs: Vec<u64> = at_a.iter().map(|m| m.2).collect();
    assert_eq!(
        seqs,
        (1..=2 * EACH as u64).collect::<Vec<_>>(),
        "seq is dense"
    );
    for who in ["ann", "bob"] {
        let own: Vec<&str> = at_a
            .iter()
            .filter(|m| m.0 == who)
            .map(|m| m.1.as_str())
            .collect();
        let sent: Vec<String> = (0..EACH).map(|i| format!("{who} {i}")).collect();
        assert_eq!(own, sent, "{who}'s messages keep the order sent");
    }
    let interleaved = at_a.windows(2).filter(|w| w[0].0 != w[1].0).count();
    println!("{} messages, {interleaved} changes of sender", at_a.len());
    assert!(interleaved > 1, "the two senders' messages did not meet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_whispers_and_history_span_the_nodes() {
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b")).await;
    let mut ann = member(&a, "ann", "rust").await;
    let mut bob = member(&b, "bob", "rust").await;
    // ann hears bob join from the other node; both lists have both.
    joins(&mut ann, "rust", "bob").await;
    members_until(&mut bob, "rust", &["ann", "bob"]).await;
    members_until(&mut ann, "rust", &["ann", "bob"]).await;
    ann.send(ClientFrame::ListRooms).await;
    loop {
        if let ServerFrame::RoomList { rooms } = ann.recv().await {
            assert_eq!(rooms.len(), 1, "{rooms:?}");
            assert_eq!((rooms[0].name.as_str(), rooms[0].members), ("rust", 2));
            break;
        }
    }

    for i in 0..30 {
        ann.say_in("rust", &format!("m{i}")).await;
    }
    let at_a = messages(&mut ann, 30).await;
    assert_eq!(messages(&mut bob, 30).await, at_a);

    // A node that was not there when they were said serves them, with the same seq.
    let c = start_with(nats.node_config("c")).await;
    let mut carol = c.register_only("carol").await;
    let (members, backlog) = carol.join_with("rust", Backlog::Latest(20)).await;
    assert_eq!(members, ["ann", "bob", "carol"]);
    let ServerFrame::History {
        messages: past,
        more,
        next,
        ..
    } = backlog
    else {
        panic!("expected the backlog, got {backlog:?}");
    };
    let past: Vec<Seen> = past.into_iter().map(|p| (p.from, p.text, p.seq)).collect();
    assert_eq!(past, at_a[10..], "the backlog is the latest 20, as sent");
    assert!(more);
    let older = carol.history("rust", next, 100).await;
    let ServerFrame::History {
        messages: older,
        more,
        ..
    } = older
    else {
        panic!("expected a page, got {older:?}");
    };
    let older: Vec<Seen> = older.into_iter().map(|p| (p.from, p.text, p.seq)).collect();
    assert_eq!(older, at_a[..10]);
    assert!(!more);
    // History on either old node is the same.
    let page = bob.history("rust", Cursor::After(25), 100).await;
    let ServerFrame::History { messages: page, .. } = page else {
        panic!("expected a page, got {page:?}");
    };
    let page: Vec<Seen> = page.into_iter().map(|p| (p.from, p.text, p.seq)).collect();
    assert_eq!(page, at_a[25..]);

    // Whispers cross; the users list has everyone.
    carol
        .send(ClientFrame::Whisper {
            to: "ANN".into(),
            text: "hi from c".into(),
        })
        .await;
    loop {
        if let ServerFrame::Whisper { from, text, .. } = ann.recv().await {
            assert_eq!((from.as_str(), text.as_str()), ("carol", "hi from c"));
            break;
        }
    }
    users_until(&mut bob, &["ann", "bob", "carol"]).await;

    // Parting is seen on the other nodes.
    bob.send(ClientFrame::Part {
        room: "rust".into(),
    })
    .await;
    let (reason, _) = left_after(&mut ann, "rust", "bob", Instant::now()).await;
    assert_eq!(reason, LeftReason::Parted);
    members_until(&mut carol, "rust", &["ann", "carol"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_people_leave_every_list_within_five_seconds() {
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let mut ann = member(&a, "ann", "lobby").await;
    let dir = scratch_dir("cluster_killed_node");
    for trial in 0..3 {
        let (node, addr) = node_process(&nats, &dir, "b");
        let mut bob = member_at(addr, "bob", "lobby").await;
        joins(&mut ann, "lobby", "bob").await;
        users_until(&mut ann, &["ann", "bob"]).await;
        // bob is in a second room too: he leaves both.
        bob.join("go").await;
        let killed = Instant::now();
        node.kill();
        let (reason, took) = left_after(&mut ann, "lobby", "bob", killed).await;
        println!("trial {trial}: bob left {took:?} after node b was killed");
        assert_eq!(reason, LeftReason::NodeLost);
        assert!(took < Duration::from_secs(5), "took {took:?}");
        users_until(&mut ann, &["ann"]).await;
        ann.send(ClientFrame::ListMembers { room: "go".into() })
            .await;
        loop {
            match ann.recv().await {
                ServerFrame::Error { kind, .. } => {
                    assert_eq!(kind, ErrorKind::NoSuchRoom);
                    break;
                }
                ServerFrame::Members { users, .. } => panic!("#go still has {users:?}"),
                _ => {}
            }
        }
        drop(bob);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_s_people_leave_within_a_second() {
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let mut ann = member(&a, "ann", "lobby").await;
    let dir = scratch_dir("cluster_stopped_node");
    let (node, addr) = node_process(&nats, &dir, "b");
    let mut bob = member_at(addr, "bob", "lobby").await;
    joins(&mut ann, "lobby", "bob").await;
    let stopped = Instant::now();
    node.terminate();
    let (_, took) = left_after(&mut ann, "lobby", "bob", stopped).await;
    println!("bob left {took:?} after node b was told to stop");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    bob.until_closed().await;
    let (status, _) = node.wait();
    assert!(status.success(), "{status:?}");
    // His name is free at once on the node that stays.
    let mut again = member(&a, "bob", "lobby").await;
    again.say_in("lobby", "back").await;
    assert_eq!(messages(&mut ann, 1).await[0].1, "back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_replaces_its_old_self_at_its_first_heartbeat() {
    let nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let mut ann = member(&a, "ann", "lobby").await;
    let dir = scratch_dir("cluster_restarted_node");
    let (node, addr) = node_process(&nats, &dir, "b");
    let mut bob = member_at(addr, "bob", "lobby").await;
    joins(&mut ann, "lobby", "bob").await;
    bob.say_in("lobby", "before").await;
    let before = messages(&mut ann, 1).await;

    node.kill();
    let restarted = Instant::now();
    let (_node, addr) = node_process(&nats, &dir, "b");
    let (reason, took) = left_after(&mut ann, "lobby", "bob", restarted).await;
    println!("the old bob left {took:?} after node b was restarted");
    assert_eq!(reason, LeftReason::NodeLost);
    // Sooner than a lost node would be found: at the new start's first heartbeat.
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // bob signs in again on the new node at once: his old name was freed.
    let mut bob = member_at(addr, "bob", "lobby").await;
    joins(&mut ann, "lobby", "bob").await;
    bob.say_in("lobby", "after").await;
    let after = messages(&mut ann, 1).await;
    assert_eq!(after[0].2, before[0].2 + 1, "the room's seq goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_refuses_room_messages_meanwhile_and_converges_after() {
    let mut nats = NatsServer::start();
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b")).await;
    let mut ann = member(&a, "ann", "lobby").await;
    let mut dan = member(&a, "dan", "lobby").await;
    let mut bob = member(&b, "bob", "lobby").await;
    members_until(&mut ann, "lobby", &["ann", "bob", "dan"]).await;
    ann.say_in("lobby", "one").await;
    let first = messages(&mut bob, 1).await;

    nats.kill();
    // The broker is gone: a room message is refused, with its own kind, once the node knows.
    // One handed to NATS as the link broke is refused as unconfirmed: it may still arrive.
    let start = Instant::now();
    let (mut unconfirmed, mut early) = (0, 0);
    let kind = loop {
        ann.say_in("lobby", "lost?").await;
        let (kind, detail) = loop {
            match ann.recv().await {
                ServerFrame::Error { kind, detail } => break (kind, detail),
                ServerFrame::Msg { text, .. } if text == "lost?" => {
                    break (ErrorKind::BadFrame, "delivered".into())
                }
                _ => {}
            }
        };
        if detail == "delivered" {
            // Before the node knew NATS was gone.
            early += 1;
            continue;
        }
        if kind == ErrorKind::ClusterUnavailable && detail.contains("did not confirm") {
            unconfirmed += 1;
            continue;
        }
        if kind == ErrorKind::ClusterUnavailable {
            assert!(detail.contains("sent to nobody"), "{detail}");
            break kind;
        }
        assert!(start.elapsed() < TIMEOUT, "still {kind:?}: {detail}");
    };
    assert_eq!(kind, ErrorKind::ClusterUnavailable);
    // Whispers and lists on this node still work; dan never got the refused messages.
    ann.send(ClientFrame::Whisper {
        to: "dan".into(),
        text: "still here".into(),
    })
    .await;
    loop {
        if let ServerFrame::Whisper { text, .. } = dan.recv().await {
            assert_eq!(text, "still here");
            break;
        }
    }

    // Long enough for the nodes to take each other for lost.
    let (reason, _) = left_after(&mut ann, "lobby", "bob", start).await;
    assert_eq!(reason, LeftReason::NodeLost);

    nats.restart();
    let back = Instant::now();
    users_until(&mut ann, &["ann", "bob", "dan"]).await;
    members_until(&mut bob, "lobby", &["ann", "bob", "dan"]).await;
    let took = back.elapsed();
    println!("presence converged {took:?} after NATS came back");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Room messages flow again, numbered on from before: the messages refused as sent to
    // nobody never were; only an unconfirmed one may have been.
    let sent = Instant::now();
    let mut late = 0;
    let got = loop {
        ann.say_in("lobby", "two").await;
        match tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if let ServerFrame::Msg { text, seq, .. } = bob.recv().await {
                    if text == "two" {
                        return seq;
                    }
                    assert_eq!(text, "lost?", "only an unconfirmed message may come late");
                    late += 1;
                }
            }
        })
        .await
        {
            Ok(seq) => break seq,
            Err(_) => assert!(sent.elapsed() < TIMEOUT, "no message got through"),
        }
    };
    println!(
        "room messages flowed again {:?} after NATS came back",
        back.elapsed()
    );
    // Numbered on from before: only the unconfirmed (and any delivered before the node
    // knew) took seqs in between (bob may have read some of them while his list was asked).
    let between = got - first[0].2 - 1;
    assert!(
        late <= between,
        "{late} late messages seen, {between} seqs between"
    );
    assert!(
        between <= unconfirmed + early,
        "{between} messages came between, {unconfirmed} unconfirmed, {early} delivered"
    );

    // Names stay with their holders through the outage and past the sweep that follows it
    // (3 s after NATS is back): nobody on node a can take bob's, and whispers still find him.
    let mut every = tokio::time::interval(Duration::from_millis(100));
    while back.elapsed() < Duration::from_secs(5) {
        every.tick().await;
        let mut thief = a.connect().await;
        match thief.hello("BOB").await {
            ServerFrame::Error { kind, .. } => assert_eq!(kind, ErrorKind::NameTaken),
            other => panic!(
                "bob's name was free on node a {:?} after NATS came back: {other:?}",
                back.elapsed()
            ),
        }
    }
    ann.send(ClientFrame::Whisper {
        to: "bob".into(),
        text: "still yours".into(),
    })
    .await;
    loop {
        if let ServerFrame::Whisper { text, .. } = bob.recv().await {
            assert_eq!(text, "still yours");
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_partition_a_name_taken_meanwhile_stays_with_its_holder_in_nats() {
    let nats = NatsServer::start();
    let relay = common::nats::Relay::start(&nats).await;
    let mut cut_off = nats.node_config("a");
    if let Some(cluster) = &mut cut_off.cluster {
        cluster.nats = relay.url.clone();
    }
    let a = start_with(cut_off).await;
    let b = start_with(nats.node_config("b")).await;
    let mut ann = member(&a, "ann", "lobby").await;
    let mut dan = member(&a, "dan", "lobby").await;
    let mut bob = member(&b, "bob", "lobby").await;
    members_until(&mut bob, "lobby", &["ann", "bob", "dan"]).await;

    // Node a is cut off: node b takes it for lost and frees its names.
    relay.cut();
    let cut = Instant::now();
    let (reason, took) = left_after(&mut bob, "lobby", "ann", cut).await;
    assert_eq!(reason, LeftReason::NodeLost);
    println!("node a's people left node b's lists {took:?} after the cut");
    // Someone else takes "ann" on node b meanwhile (once the name is freed there).
    let mut other = loop {
        let mut client = b.connect().await;
        match client.hello("ANN").await {
            ServerFrame::Welcome { .. } => break client,
            ServerFrame::Error {
                kind: ErrorKind::NameTaken,
                ..
            } => assert!(cut.elapsed() < TIMEOUT, "ann's name is never freed"),
            other => panic!("expected Welcome, got {other:?}"),
        }
    };
    other.join("lobby").await;

    relay.restore();
    // On node a, its ann is told and disconnected; dan keeps his name and his connection.
    let (kind, detail) = loop {
        match ann.next().await {
            Some(ServerFrame::Error { kind, detail }) => break (kind, detail),
            Some(_) => {}
            None => panic!("ann was disconnected without being told why"),
        }
    };
    assert_eq!(kind, ErrorKind::NameTaken, "{detail}");
    assert!(detail.contains("another node"), "{detail}");
    ann.until_closed().await;
    users_until(&mut bob, &["ANN", "bob", "dan"]).await;
    users_until(&mut dan, &["ANN", "bob", "dan"]).await;
    // The cluster is one chat again.
    dan.say_in("lobby", "back together").await;
    loop {
        if let ServerFrame::Msg { from, text, .. } = other.recv().await {
            assert_eq!((from.as_str(), text.as_str()), ("dan", "back together"));
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stops_promptly_while_nats_is_away() {
    let mut nats = NatsServer::start();
    let dir = scratch_dir("cluster_stop_without_nats");
    let (node, addr) = node_process(&nats, &dir, "b");
    let mut people = Vec::new();
    for i in 0..20 {
        people.push(member_at(addr, &format!("p{i}"), "lobby").await);
    }
    nats.kill();
    let stopping = Instant::now();
    node.terminate();
    for person in &mut people {
        person.until_closed().await;
    }
    // Twenty names it cannot give back: it leaves them to the other nodes, not to a
    // two-second timeout each.
    let (status, log) = node.wait();
    let took = stopping.elapsed();
    println!("stopped in {took:?} without NATS");
    assert!(status.success(), "{status:?}: {log:#?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A browser on one node and a terminal on another are in one chat: the web listener of a
/// node serves the cluster's rooms, with the cluster's `seq`, like its chat port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_on_one_node_chats_with_a_terminal_on_another() {
    let nats = NatsServer::start();
    let a = start_with(chat_server::Config {
        http: common::web::on_free_port(),
        ..nats.node_config("a")
    })
    .await;
    let b = start_with(nats.node_config("b")).await;
    let mut ann = common::web::register(a.web_addr.expect("node a's web listener"), "ann").await;
    let mut bob = member(&b, "bob", "lobby").await;
    members_until(&mut bob, "lobby", &["ann", "bob"]).await;
    let web = a.web_addr.expect("node a's web listener");
    let commits = "chat_store_commit_seconds_count";
    let before = common::web::sample(&common::web::metrics(web).await, commits);
    ann.say("from the browser on a").await;
    let heard = messages(&mut bob, 1).await;
    assert_eq!(
        (heard[0].0.as_str(), heard[0].1.as_str()),
        ("ann", "from the browser on a")
    );
    bob.say("from the terminal on b").await;
    loop {
        match ann.recv_skipping_notices().await {
            ServerFrame::Msg {
                from, text, seq, ..
            } if from == "bob" => {
                assert_eq!(text, "from the terminal on b");
                assert_eq!(seq, heard[0].2 + 1, "one seq across the nodes");
                break;
            }
            ServerFrame::Msg { .. } => {}
            other => panic!("expected bob's message, got {other:?}"),
        }
    }
    // ann's message was one burst, stored once JetStream acknowledged it: node a timed that
    // commit (bob's was node b's).
    let counted = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let now = common::web::sample(&common::web::metrics(web).await, commits);
            if now > before {
                return now;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("node a's commit histogram counted ann's message");
    assert_eq!(counted - before, 1.0, "one commit for one burst");
    a.shutdown().await;
    b.shutdown().await;
}

/// The streams NATS holds, and how many messages the rooms' stream holds; waits until it
/// holds `held` (or the timeout) and returns what it found.
async fn rooms_in_nats_until(nats: &NatsServer, held: u64) -> (Vec<String>, u64) {
    use futures::TryStreamExt;
    let client = async_nats::connect(nats.url())
        .await
        .expect("connect to NATS");
    let js = async_nats::jetstream::new(client);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let mut streams: Vec<String> = js
            .stream_names()
            .try_collect()
            .await
            .expect("the names of the streams");
        streams.sort();
        let messages = js
            .get_stream("CHAT_ROOMS")
            .await
            .expect("the rooms' stream")
            .info()
            .await
            .expect("its state")
            .state
            .messages;
        if messages == held || tokio::time::Instant::now() > deadline {
            return (streams, messages);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rooms made, spoken in once and left cost NATS only the messages they keep, in the one
/// stream every room shares, and nothing once those aged out: no stream per room, and no
/// message left behind. Their history reads back while it is kept; a room spoken in again
/// after it aged out numbers on past what it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_made_and_left_leave_nothing_in_nats_once_aged_out() {
    let nats = NatsServer::start();
    let max_age = Duration::from_secs(2);
    let mut config = nats.node_config("a");
    config.store = Some(chat_server::config::StoreConfig {
        max_age: Some(max_age),
        ..chat_server::config::StoreConfig::default()
    });
    let a = start_with(config).await;
    let mut ann = a.register_only("ann").await;
    for i in 0..30 {
        let room = format!("made{i}");
        ann.join(&room).await;
        ann.say_in(&room, &format!("once in {room}")).await;
        let seen = messages(&mut ann, 1).await;
        assert_eq!(seen, [("ann".to_owned(), format!("once in {room}"), 1)]);
        ann.send(ClientFrame::Part { room: room.clone() }).await;
        assert!(matches!(
            ann.recv_skipping_notices().await,
            ServerFrame::Parted { .. }
        ));
    }
    let (streams, held) = rooms_in_nats_until(&nats, 30).await;
    assert_eq!(held, 30, "one message per room, kept");
    assert_eq!(
        streams,
        [
            "CHAT_ROOMS",
            "KV_chat_accounts",
            "KV_chat_moderation",
            "KV_chat_names"
        ],
        "no stream per room"
    );
    match ann.history("made7", Cursor::Latest, 10).await {
        ServerFrame::History { messages, .. } => {
            let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
            assert_eq!(texts, ["once in made7"]);
        }
        other => panic!("expected the history of #made7, got {other:?}"),
    }

    let (streams, held) = rooms_in_nats_until(&nats, 0).await;
    assert_eq!(held, 0, "every message aged out after {max_age:?}");
    assert_eq!(
        streams,
        [
            "CHAT_ROOMS",
            "KV_chat_accounts",
            "KV_chat_moderation",
            "KV_chat_names"
        ]
    );

    // A room that comes back numbers on past every seq it had, so a client that saw them
    // learns it missed them.
    ann.join("made7").await;
    ann.say_in("made7", "back").await;
    let (_, _, seq) = messages(&mut ann, 1).await.remove(0);
    assert!(seq > 1, "seq {seq} was given before in #made7");
}

/// A member who stays in a room while its messages age out gets the next message, numbered
/// past every seq the room had: a gap in `seq` the stream has, which the room's delivery
/// checks with the stream's leader before it delivers across it (a gap the stream does not
/// have would send the node's reader back instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_stays_while_the_rooms_messages_age_out_gets_the_next_one() {
    let nats = NatsServer::start();
    let mut config = nats.node_config("a");
    config.store = Some(chat_server::config::StoreConfig {
        max_age: Some(Duration::from_secs(2)),
        ..chat_server::config::StoreConfig::default()
    });
    let a = start_with(config).await;
    let mut ann = a.register_only("ann").await;
    ann.join("stay").await;
    ann.say_in("stay", "before").await;
    assert_eq!(
        messages(&mut ann, 1).await,
        [("ann".to_owned(), "before".to_owned(), 1)]
    );
    let (_, held) = rooms_in_nats_until(&nats, 0).await;
    assert_eq!(held, 0, "the message aged out");

    ann.say_in("stay", "after").await;
    let (from, text, seq) = messages(&mut ann, 1).await.remove(0);
    assert_eq!((from.as_str(), text.as_str()), ("ann", "after"));
    assert!(
        seq > 2,
        "seq {seq}: numbered past what the room had, across a gap"
    );
}

//! Full-text search over real TCP with history in a real SQLite file: words in Latin,
//! Cyrillic and CJK text and parts of words are found in any case, newest first and paged,
//! with the matches marked; removed messages are not found, edited ones by their new text;
//! a query is never FTS5 syntax, so none is a server error; bad queries are typed errors.

mod common;

use chat_proto::search::{Hit, SearchCursor};
use chat_proto::{ClientFrame, ErrorKind, ServerFrame};
use common::{error_of, history_config, scratch_dir, start_with, test_config, TestClient};

/// Sends a search and returns its hits and `next`, failing on anything else.
async fn search(
    client: &mut TestClient,
    query: &str,
    room: Option<&str>,
    before: Option<SearchCursor>,
    limit: u32,
) -> (Vec<Hit>, Option<SearchCursor>) {
    client
        .send(ClientFrame::Search {
            query: query.into(),
            room: room.map(Into::into),
            before,
            limit,
        })
        .await;
    match client.recv_skipping_notices().await {
        ServerFrame::SearchResults {
            query: q,
            hits,
            next,
        } => {
            assert_eq!(q, query);
            (hits, next)
        }
        other => panic!("expected SearchResults for {query:?}, got {other:?}"),
    }
}

/// The texts of `hits`, in order.
fn texts(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|hit| hit.entry.text.as_str()).collect()
}

/// The marked parts of a hit's text.
fn marked(hit: &Hit) -> Vec<&str> {
    hit.marks
        .iter()
        .map(|m| &hit.entry.text[m.start as usize..m.end as usize])
        .collect()
}

#[tokio::test]
async fn search_finds_words_in_any_script_newest_first_paged_and_marked() {
    let dir = scratch_dir("search");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register_only("ann").await;
    ann.join("den").await;
    ann.join("ops").await;
    let said = [
        ("den", "Deploying the release tonight"),
        ("den", "Привет, мир: релиз сегодня"),
        ("ops", "東京都で会いましょう"),
        ("den", "the DEPLOYMENT failed, rolling back"),
        ("ops", "deploy again at noon"),
        ("den", "lunch?"),
    ];
    for (room, text) in said {
        ann.say_in(room, text).await;
        ann.next_message().await;
    }

    // Parts of words, any case, every room one is in, newest first, marked.
    let (hits, next) = search(&mut ann, "deploy", None, None, 10).await;
    assert_eq!(
        texts(&hits),
        [
            "deploy again at noon",
            "the DEPLOYMENT failed, rolling back",
            "Deploying the release tonight"
        ]
    );
    assert_eq!(next, None);
    assert_eq!(marked(&hits[1]), ["DEPLOY"]);
    assert_eq!(
        (hits[0].room.as_str(), hits[1].room.as_str()),
        ("ops", "den")
    );
    let (hits, _) = search(&mut ann, "РЕЛИЗ", Some("den"), None, 10).await;
    assert_eq!(marked(&hits[0]), ["релиз"]);
    let (hits, _) = search(&mut ann, "東京都", None, None, 10).await;
    assert_eq!(texts(&hits), ["東京都で会いましょう"]);
    assert_eq!(marked(&hits[0]), ["東京都"]);

    // Every term must be there; a quoted part is one term.
    let (hits, _) = search(&mut ann, "deploy back", None, None, 10).await;
    assert_eq!(texts(&hits), ["the DEPLOYMENT failed, rolling back"]);
    let (hits, _) = search(&mut ann, "\"again at\"", Some("ops"), None, 10).await;
    assert_eq!(texts(&hits), ["deploy again at noon"]);

    // Paged: each hit once, newest first.
    let (first, next) = search(&mut ann, "deploy", None, None, 2).await;
    assert_eq!(first.len(), 2);
    let next = next.expect("more to come");
    let (rest, after) = search(&mut ann, "deploy", None, Some(next), 2).await;
    assert_eq!(texts(&rest), ["Deploying the release tonight"]);
    assert_eq!(after, None);

    // What looks like FTS5 syntax is text to find, never an error.
    for query in [
        "\"deploy",
        "NEAR(deploy back)",
        "deploy*",
        "AND NOT NEAR",
        "a\"b\"c()",
    ] {
        let (hits, _) = search(&mut ann, query, None, None, 10).await;
        assert!(hits.len() <= 3, "{query}");
    }

    // Bad queries are typed errors, and the connection goes on.
    for query in ["", "   ", "hi", "ok deploy", &"x".repeat(300)] {
        ann.send(ClientFrame::Search {
            query: query.into(),
            room: None,
            before: None,
            limit: 10,
        })
        .await;
        assert_eq!(
            error_of(ann.recv_skipping_notices().await).0,
            ErrorKind::InvalidSearch,
            "{query:?}"
        );
    }

    // Removed: not found. Edited: found by its new text, not its old.
    ann.send(ClientFrame::RemoveMessage {
        room: "den".into(),
        seq: 1,
    })
    .await;
    assert!(matches!(
        ann.recv_skipping_notices().await,
        ServerFrame::MessageRemoved { .. }
    ));
    ann.send(ClientFrame::Edit {
        room: "den".into(),
        seq: 4,
        text: "lunch at the usual place".into(),
    })
    .await;
    assert!(matches!(
        ann.recv_skipping_notices().await,
        ServerFrame::Event { .. }
    ));
    let (hits, _) = search(&mut ann, "deploy", Some("den"), None, 10).await;
    assert_eq!(texts(&hits), ["the DEPLOYMENT failed, rolling back"]);
    let (hits, _) = search(&mut ann, "usual", None, None, 10).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].entry.seq, 4);
    assert!(hits[0].entry.edited.is_some());
    let (hits, _) = search(&mut ann, "lunch?", None, None, 10).await;
    assert!(hits.is_empty(), "the old text is not found");
    server.shutdown().await;
}

#[tokio::test]
async fn without_history_search_is_history_off() {
    let server = start_with(test_config()).await;
    let mut ann = server.register_only("ann").await;
    ann.send(ClientFrame::Search {
        query: "deploy".into(),
        room: Some("den".into()),
        before: None,
        limit: 10,
    })
    .await;
    assert_eq!(error_of(ann.recv().await).0, ErrorKind::HistoryOff);
    server.shutdown().await;
}

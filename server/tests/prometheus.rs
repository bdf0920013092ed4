//! `/metrics` read by the tools its users point at it: a real Prometheus scrapes it (the
//! target is up and a counter's value arrives in Prometheus's own query API), and
//! `promtool check metrics` accepts the classic text format that a plain `GET` is given.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chat_server::config::Config;
use chat_server::web::settings::HttpConfig;
use common::prometheus::Prometheus;
use common::web::{self, metrics, sample};
use common::{start_with, test_config};

/// How long Prometheus may take to scrape the target once and answer for it: a few scrape
/// intervals of one second each, with room for a busy machine.
const SCRAPED_TIMEOUT: Duration = Duration::from_secs(60);

/// The bearer token the test server asks `/metrics` scrapers for.
const TOKEN: &str = "scrape-s3cret";

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_metrics_with_the_target_up_and_reads_a_counter() {
    let server = start_with(Config {
        http: Some(HttpConfig {
            port: 0,
            metrics_token: Some(chat_server::auth::Password::new(TOKEN)),
            ..HttpConfig::default()
        }),
        ..test_config()
    })
    .await;
    let web_addr = server.web_addr.expect("the web listener is on");
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    for text in ["one", "two", "three"] {
        ann.say(text).await;
    }
    for _ in 0..3 {
        bob.next_message().await;
    }

    let prometheus = Prometheus::scraping(web_addr, Some(TOKEN));
    // Prometheus is polled until it has what the test waits for, under a deadline.
    let mut every = tokio::time::interval(Duration::from_millis(100));
    let start = Instant::now();
    let target = loop {
        every.tick().await;
        let targets = prometheus.api("targets").await;
        let target = targets["activeTargets"]
            .as_array()
            .and_then(|targets| targets.first())
            .cloned()
            .unwrap_or_default();
        if target["health"] == "up" {
            break target;
        }
        // A scrape that failed says why at once; waiting longer would not change it.
        let error = target["lastError"].as_str().unwrap_or_default();
        assert!(
            error.is_empty(),
            "Prometheus cannot scrape /metrics: {error}"
        );
        assert!(
            start.elapsed() < SCRAPED_TIMEOUT,
            "the target is not up after {SCRAPED_TIMEOUT:?}: {targets}"
        );
    };
    assert_eq!(target["scrapeUrl"], format!("http://{web_addr}/metrics"));
    assert_eq!(target["lastError"], "", "{target}");

    let value = loop {
        every.tick().await;
        let answer = prometheus.api("query?query=chat_messages_in_total").await;
        if let Some(value) = answer["result"][0]["value"][1].as_str() {
            break value.to_owned();
        }
        assert!(
            start.elapsed() < SCRAPED_TIMEOUT,
            "Prometheus has no chat_messages_in_total after {SCRAPED_TIMEOUT:?}: {answer}"
        );
    };
    assert_eq!(value, "3", "the three messages ann sent");

    // The info metric, which the classic format cannot carry as such, arrives too.
    let build = prometheus.api("query?query=chat_build_info").await;
    assert_eq!(
        build["result"][0]["metric"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{build}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn prometheus_is_answered_in_open_metrics_and_anyone_else_in_the_classic_format() {
    let server = start_with(common::web::web_config()).await;
    let web_addr = server.web_addr.expect("the web listener is on");
    // What Prometheus 2.42 sends with every scrape.
    let accept = "application/openmetrics-text;version=1.0.0,\
        application/openmetrics-text;version=0.0.1;q=0.75,\
        text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let answer = web::get(web_addr, "/metrics", &[("Accept", accept)])
        .await
        .expect("GET /metrics");
    assert_eq!(
        answer.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(answer.body.ends_with("# EOF\n"), "{}", answer.body);

    for accept in [None, Some("*/*"), Some("text/plain")] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
        let answer = web::get(web_addr, "/metrics", &headers)
            .await
            .expect("GET /metrics");
        assert_eq!(
            answer.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8"),
            "Accept: {accept:?}"
        );
        assert!(!answer.body.contains("# EOF"), "{}", answer.body);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn promtool_accepts_the_classic_text_format() {
    let server = start_with(common::web::web_config()).await;
    let web_addr = server.web_addr.expect("the web listener is on");
    let mut ann = server.register("ann").await;
    ann.say("something to count").await;
    ann.next_message().await;
    let text = metrics(web_addr).await;
    assert_eq!(sample(&text, "chat_messages_in_total"), 1.0, "{text}");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run promtool ({err}): the /metrics tests need it; install the Debian \
                 package prometheus (apt-get install prometheus)"
            )
        });
    promtool
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("write /metrics to promtool");
    let out = promtool.wait_with_output().expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool check metrics refused /metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    server.shutdown().await;
}

//! The two formats `/metrics` can answer in, and which one a scraper asked for.
//!
//! `prometheus-client` writes OpenMetrics text only. Prometheus asks for it by name in its
//! `Accept` header and parses it with its OpenMetrics parser; anything else (curl, an older
//! scraper, `promtool check metrics`) expects the classic text format (`version=0.0.4`),
//! whose parser refuses OpenMetrics' `info` type and has no `# UNIT` or `# EOF`. Sending
//! OpenMetrics under the classic Content-Type made a real Prometheus drop every scrape, so
//! the format is chosen from `Accept` as Prometheus's own client libraries do, and the
//! classic text is derived from the OpenMetrics text line by line: one encoder, two spellings.

/// A text format of the Prometheus exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text: what Prometheus asks for first.
    OpenMetrics,
    /// The classic Prometheus text format, version 0.0.4: for anyone who does not ask for
    /// OpenMetrics by name.
    Classic,
}

impl Format {
    /// The format `accept` (a request's `Accept` header, if any) prefers: OpenMetrics when
    /// it names `application/openmetrics-text` with a quality above zero and at least that
    /// of the classic format (`text/plain`, `text/*` or `*/*`); classic otherwise.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Classic;
        };
        let mut open_metrics = 0.0_f32;
        let mut classic = 0.0_f32;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut quality = 1.0_f32;
            for parameter in parts {
                if let Some((name, value)) = parameter.split_once('=') {
                    if name.trim().eq_ignore_ascii_case("q") {
                        quality = value.trim().parse().unwrap_or(0.0);
                    }
                }
            }
            match media.as_str() {
                "application/openmetrics-text" => open_metrics = open_metrics.max(quality),
                "text/plain" | "text/*" | "*/*" => classic = classic.max(quality),
                _ => {}
            }
        }
        if open_metrics > 0.0 && open_metrics >= classic {
            Format::OpenMetrics
        } else {
            Format::Classic
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The classic text format of `open_metrics`, an exposition as `prometheus-client` writes
/// it: `# UNIT` and `# EOF` go; a counter's family is named for its `_total` samples and an
/// info metric becomes a gauge named `<name>_info`, as the classic format has no info type;
/// `unknown` is spelt `untyped`; exemplars (`# {...}` after a sample) are cut off.
pub fn classic(open_metrics: &str) -> String {
    let mut out = String::with_capacity(open_metrics.len());
    // A family's `# HELP` comes before its `# TYPE`, which says how to rename it.
    let mut help: Option<(&str, &str)> = None;
    for line in open_metrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "gauge" | "histogram" | "summary" => (name.to_owned(), kind),
                _ => (name.to_owned(), "untyped"),
            };
            if let Some((_, text)) = help.take() {
                out.push_str(&format!("# HELP {name} {}\n", classic_help(text)));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if line.starts_with('#') {
            // `# UNIT`, `# EOF`: the classic format has neither.
        } else if !line.is_empty() {
            let sample = line.split_once(" # ").map_or(line, |(sample, _)| sample);
            out.push_str(sample);
            out.push('\n');
        }
    }
    out
}

/// A `# HELP` text unescaped of OpenMetrics' `\"`, which the classic format does not escape
/// (both escape `\\` and `\n` alike).
fn classic_help(text: &str) -> String {
    text.replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prometheus 2.42 sends.
    const PROMETHEUS: &str = "application/openmetrics-text;version=1.0.0,\
        application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn prometheus_gets_open_metrics() {
        assert_eq!(Format::negotiate(Some(PROMETHEUS)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
    }

    #[test]
    fn anyone_who_does_not_ask_for_open_metrics_gets_the_classic_format() {
        for accept in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/plain"),
            Some("text/plain;version=0.0.4"),
            Some("application/json"),
            Some("application/openmetrics-text;q=0"),
            Some("application/openmetrics-text;q=0.2, text/plain"),
            Some("application/openmetrics-text;q=nonsense"),
        ] {
            assert_eq!(Format::negotiate(accept), Format::Classic, "{accept:?}");
        }
    }

    #[test]
    fn the_classic_format_names_counters_for_their_samples_and_has_no_info_unit_or_eof() {
        let open_metrics = "# HELP chat_sent Bytes written to \\\"clients\\\".\n\
            # TYPE chat_sent counter\n\
            # UNIT chat_sent bytes\n\
            chat_sent_total 100\n\
            # HELP chat_build The running build.\n\
            # TYPE chat_build info\n\
            chat_build_info{version=\"0.1.0\"} 1\n\
            # HELP chat_users People.\n\
            # TYPE chat_users gauge\n\
            chat_users 3\n\
            # HELP chat_odd Something else.\n\
            # TYPE chat_odd unknown\n\
            chat_odd 1 # {trace=\"a\"} 1.0\n\
            # EOF\n";
        assert_eq!(
            classic(open_metrics),
            "# HELP chat_sent_total Bytes written to \"clients\".\n\
             # TYPE chat_sent_total counter\n\
             chat_sent_total 100\n\
             # HELP chat_build_info The running build.\n\
             # TYPE chat_build_info gauge\n\
             chat_build_info{version=\"0.1.0\"} 1\n\
             # HELP chat_users People.\n\
             # TYPE chat_users gauge\n\
             chat_users 3\n\
             # HELP chat_odd Something else.\n\
             # TYPE chat_odd untyped\n\
             chat_odd 1\n"
        );
    }
}

//! Full-text search: what a search asks and finds, and the two rules client and server
//! share: how a query becomes terms ([`terms`]) and where a hit's text matches them
//! ([`marks`]).
//!
//! A query is words separated by spaces; a message matches when it holds every one of them,
//! anywhere, in any case (parts of words too: `gram` finds "telegram"). A part in double
//! quotes is one term, spaces included (`"next week"`). Nothing else in a query is syntax:
//! `*`, `NEAR`, `AND`, a lone quote are text to find. Every term needs
//! [`MIN_TERM_CHARS`] characters, since the index is of every three characters in a row
//! (what finds parts of words in any script, Chinese and Japanese included, which have no
//! spaces between words).

pub use crate::frame::{Hit, Mark, SearchCursor};

/// The fewest characters a search term has.
pub const MIN_TERM_CHARS: usize = 3;

/// The most bytes a query has.
pub const MAX_QUERY_BYTES: usize = 256;

/// The most terms a query has.
pub const MAX_TERMS: usize = 8;

/// The most hits one `SearchResults` holds.
pub const SEARCH_PAGE_MAX: u32 = 100;

/// Why a query cannot be searched for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// Nothing to find.
    #[error("the search is empty")]
    Empty,
    /// Longer than [`MAX_QUERY_BYTES`].
    #[error("the search is longer than {MAX_QUERY_BYTES} bytes")]
    TooLong,
    /// More than [`MAX_TERMS`] terms.
    #[error("the search has more than {MAX_TERMS} terms")]
    TooManyTerms,
    /// A term shorter than [`MIN_TERM_CHARS`] characters.
    #[error("{0:?} is too short to search for: terms need at least {MIN_TERM_CHARS} characters")]
    TooShort(String),
    /// A control character.
    #[error("the search holds a control character")]
    Control,
}

/// The terms of `query`: its words, and the parts in double quotes whole. A quote without
/// its pair is a character like any.
///
/// ```
/// use chat_proto::search::{terms, SearchError};
/// assert_eq!(terms("Rust  \"next week\" 東京都").unwrap(), ["Rust", "next week", "東京都"]);
/// assert_eq!(terms("say \"hi").unwrap(), ["say", "\"hi"]);
/// assert_eq!(terms("a* NEAR(x)").unwrap_err(), SearchError::TooShort("a*".into()));
/// ```
pub fn terms(query: &str) -> Result<Vec<String>, SearchError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(SearchError::TooLong);
    }
    if query.chars().any(char::is_control) {
        return Err(SearchError::Control);
    }
    let mut terms = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() {
        let quoted = rest
            .strip_prefix('"')
            .and_then(|after| after.split_once('"'));
        let (term, after) = match quoted {
            Some((inside, after)) => (inside.trim(), after),
            None => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
        };
        if !term.is_empty() {
            terms.push(term.to_owned());
        }
        rest = after.trim_start();
    }
    if terms.is_empty() {
        return Err(SearchError::Empty);
    }
    if terms.len() > MAX_TERMS {
        return Err(SearchError::TooManyTerms);
    }
    if let Some(short) = terms.iter().find(|t| t.chars().count() < MIN_TERM_CHARS) {
        return Err(SearchError::TooShort(short.clone()));
    }
    Ok(terms)
}

/// Where `text` holds any of `terms`, in any case: each match's bytes, in order, the
/// earlier and longer first where two would overlap.
///
/// ```
/// use chat_proto::search::{marks, Mark};
/// let m = marks("Deploy the DEPLOYMENT", &["deploy".to_owned()]);
/// assert_eq!(m, [Mark { start: 0, end: 6 }, Mark { start: 11, end: 17 }]);
/// ```
pub fn marks(text: &str, terms: &[String]) -> Vec<Mark> {
    // Each character folded, with where it starts and ends in `text`.
    let folded: Vec<(usize, usize, char)> = text
        .char_indices()
        .flat_map(|(at, ch)| {
            let end = at + ch.len_utf8();
            ch.to_lowercase().map(move |lower| (at, end, lower))
        })
        .collect();
    let mut found: Vec<Mark> = Vec::new();
    for term in terms {
        let term: Vec<char> = term.chars().flat_map(char::to_lowercase).collect();
        if term.is_empty() || term.len() > folded.len() {
            continue;
        }
        for from in 0..=folded.len() - term.len() {
            let window = &folded[from..from + term.len()];
            if window.iter().zip(&term).all(|((_, _, a), b)| a == b) {
                let start = window[0].0 as u32;
                let end = window[window.len() - 1].1 as u32;
                found.push(Mark { start, end });
            }
        }
    }
    found.sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    let mut kept: Vec<Mark> = Vec::new();
    for mark in found {
        match kept.last_mut() {
            Some(last) if mark.start < last.end => last.end = last.end.max(mark.end),
            _ => kept.push(mark),
        }
    }
    kept
}

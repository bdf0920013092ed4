//! One crowd member's check of its room's numbering: every `seq` from the first it saw to
//! the last, each once and in order, whether it came live or in a catch-up after a
//! reconnect. Pure bookkeeping with no I/O; the member's task feeds it what it reads.
//!
//! A catch-up is the `History{backlog: true}` that follows `Joined` when a member rejoins
//! with `Backlog::After(last)`. When it says `more`, the member pages on with `History`
//! requests; live messages that arrive meanwhile are held until the pages reach them, and a
//! page's messages from the first held one on are left to the held ones, which the server
//! sent first:
//!
//! ```text
//!   last = 7 │ backlog 8..=507, more │ live 612, 613 (held) │ page 508..=613 │ → 8..=613
//!                                                                  └ 612, 613 from the held
//! ```

/// What the member does after a page of its catch-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caught {
    /// Caught up: everything up to the live messages is in.
    Up,
    /// Ask for the page after this `seq` (`Cursor::After`).
    PageAfter(u64),
}

/// A member's numbering so far.
#[derive(Debug, Default)]
pub struct Seqs {
    /// The first `seq` taken: the run's first message, for every member.
    pub first: Option<u64>,
    /// The last `seq` taken in order.
    last: Option<u64>,
    /// Messages taken, live or from a catch-up.
    pub received: u64,
    /// `seq`s skipped over: messages this member never got.
    pub missed: u64,
    /// Messages at or below a `seq` already taken: got twice, or out of order.
    pub twice: u64,
    /// Catch-ups the server answered with `missed: true` (it no longer kept what was asked).
    pub trimmed: u64,
    /// Live `seq`s held while paging through a catch-up; `None` when not paging.
    held: Option<Vec<u64>>,
}

impl Seqs {
    /// The last `seq` taken: where a catch-up starts after.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// A live message.
    pub fn live(&mut self, seq: u64) {
        match &mut self.held {
            Some(held) => held.push(seq),
            None => self.take(seq),
        }
    }

    /// A page of a catch-up: the backlog after `Joined`, or a page asked for after it.
    pub fn page(
        &mut self,
        seqs: impl IntoIterator<Item = u64>,
        more: bool,
        missed: bool,
    ) -> Caught {
        if missed {
            self.trimmed += 1;
        }
        let first_held = self.held.as_ref().and_then(|held| held.first().copied());
        let mut any = false;
        for seq in seqs {
            if first_held.is_some_and(|held| seq >= held) {
                break;
            }
            any = true;
            self.take(seq);
        }
        let reached_held =
            first_held.is_some_and(|held| self.last.is_some_and(|last| last + 1 >= held));
        if more && any && !reached_held {
            if let Some(last) = self.last {
                self.held.get_or_insert_with(Vec::new);
                return Caught::PageAfter(last);
            }
        }
        for seq in self.held.take().unwrap_or_default() {
            self.take(seq);
        }
        Caught::Up
    }

    /// The connection is gone: live messages held for a catch-up come again in the next.
    pub fn dropped(&mut self) {
        self.held = None;
    }

    /// Takes `seq` as the next message.
    fn take(&mut self, seq: u64) {
        self.received += 1;
        match self.last {
            None => self.first = Some(seq),
            Some(last) if seq <= last => {
                self.twice += 1;
                return;
            }
            Some(last) => self.missed += seq - last - 1,
        }
        self.last = Some(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(seqs: &mut Seqs, range: std::ops::RangeInclusive<u64>) {
        for seq in range {
            seqs.live(seq);
        }
    }

    /// Live messages in order, then a catch-up that starts right after them: all counted
    /// once, nothing missed.
    #[test]
    fn a_catch_up_continues_the_live_numbering() {
        let mut seqs = Seqs::default();
        live(&mut seqs, 5..=7);
        seqs.dropped();
        assert_eq!(seqs.page(8..=10, false, false), Caught::Up);
        live(&mut seqs, 11..=12);
        assert_eq!(
            (seqs.first, seqs.last(), seqs.received),
            (Some(5), Some(12), 8)
        );
        assert_eq!((seqs.missed, seqs.twice, seqs.trimmed), (0, 0, 0));
    }

    /// A gap counts each message skipped; a repeat or a step back counts as twice.
    #[test]
    fn gaps_and_repeats_are_counted() {
        let mut seqs = Seqs::default();
        live(&mut seqs, 1..=3);
        seqs.live(6);
        seqs.live(6);
        seqs.live(2);
        assert_eq!((seqs.missed, seqs.twice, seqs.last()), (2, 2, Some(6)));
        assert_eq!(seqs.page([7], false, true), Caught::Up);
        assert_eq!(seqs.trimmed, 1);
    }

    /// Paging: live messages held while the pages come, pages stop where the held ones
    /// begin, and what overlaps is taken once.
    #[test]
    fn live_messages_wait_for_the_pages() {
        let mut seqs = Seqs::default();
        seqs.live(7);
        assert_eq!(seqs.page(8..=9, true, false), Caught::PageAfter(9));
        live(&mut seqs, 12..=13);
        assert_eq!(seqs.page(10..=13, true, false), Caught::Up);
        seqs.live(14);
        assert_eq!((seqs.last(), seqs.received), (Some(14), 8));
        assert_eq!((seqs.missed, seqs.twice), (0, 0));
    }

    /// A page that ends before the held messages asks for the next; an empty one ends the
    /// catch-up whatever `more` says.
    #[test]
    fn paging_goes_on_until_the_held_messages_or_an_empty_page() {
        let mut seqs = Seqs::default();
        seqs.live(1);
        assert_eq!(seqs.page([2], true, false), Caught::PageAfter(2));
        seqs.live(5);
        assert_eq!(seqs.page([3], true, false), Caught::PageAfter(3));
        assert_eq!(seqs.page([], true, false), Caught::Up);
        assert_eq!((seqs.last(), seqs.missed), (Some(5), 1));
    }

    /// A drop while paging forgets the held messages: the next catch-up brings them.
    #[test]
    fn a_drop_while_paging_forgets_what_was_held() {
        let mut seqs = Seqs::default();
        seqs.live(1);
        assert_eq!(seqs.page([2], true, false), Caught::PageAfter(2));
        seqs.live(9);
        seqs.dropped();
        assert_eq!(seqs.page(3..=9, false, false), Caught::Up);
        assert_eq!(
            (seqs.last(), seqs.received, seqs.missed, seqs.twice),
            (Some(9), 9, 0, 0)
        );
    }
}

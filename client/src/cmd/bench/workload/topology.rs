//! Who is in which room in a workload run: room sizes that follow a Zipf law (a few big
//! rooms, many small ones), and each person placed in `k` of them. Pure arithmetic on a
//! seeded random number generator, so a seed gives the same rooms every time, to chat-server
//! and to nats-server alike.
//!
//! Sizes first, exactly: room `r` (from 0) weighs `1 / (r + 1)^s`, and the `N × k` places
//! are shared out in proportion to the weights, every room at least one member and none
//! more than `N` (a place at a time to the room furthest below its share, the lower number
//! on a tie, so sizes never grow with the room's number). Then the people: the rooms are
//! filled biggest first, each with people drawn at random from those with the most places
//! left. That always works out (every person ends in exactly `k` different rooms), and a
//! person is in room `r` with probability `size_r / N`: the rooms are chosen by the same law.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The rooms of a run and their members.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Members of each room, room 0 the biggest; never increasing.
    pub sizes: Vec<usize>,
    /// Each person's rooms (room numbers), biggest first: `k` different ones each.
    pub rooms_of: Vec<Vec<usize>>,
}

/// Why a topology cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TopologyError {
    /// Nobody, no room, or people in no room.
    #[error("--people, --rooms and --rooms-per-person must be at least 1")]
    Empty,
    /// More rooms per person than rooms.
    #[error("--rooms-per-person ({k}) must be at most --rooms ({rooms})")]
    TooFewRooms {
        /// Rooms per person asked for.
        k: usize,
        /// Rooms in the run.
        rooms: usize,
    },
    /// More rooms than places: some room would be empty, with nobody to send to it.
    #[error(
        "--rooms ({rooms}) must be at most --people × --rooms-per-person ({places}): every \
         room needs a member"
    )]
    TooManyRooms {
        /// Rooms in the run.
        rooms: usize,
        /// People times rooms per person.
        places: usize,
    },
    /// An exponent that is negative or not a number.
    #[error("--zipf must be a number of at least 0")]
    BadExponent,
}

impl Topology {
    /// `people` people in `rooms` rooms, `k` rooms each, sizes by the Zipf law of exponent
    /// `s`, people placed by the generator seeded with `seed`.
    pub fn new(
        people: usize,
        rooms: usize,
        k: usize,
        s: f64,
        seed: u64,
    ) -> Result<Topology, TopologyError> {
        let sizes = zipf_sizes(people, rooms, k, s)?;
        let rooms_of = place(&sizes, people, k, &mut StdRng::seed_from_u64(seed));
        Ok(Topology { sizes, rooms_of })
    }
}

/// How many members each of `rooms` rooms has when `people` people take `k` places each:
/// in proportion to `1 / (r + 1)^s`, at least 1, at most `people`.
pub fn zipf_sizes(
    people: usize,
    rooms: usize,
    k: usize,
    s: f64,
) -> Result<Vec<usize>, TopologyError> {
    if people == 0 || rooms == 0 || k == 0 {
        return Err(TopologyError::Empty);
    }
    if k > rooms {
        return Err(TopologyError::TooFewRooms { k, rooms });
    }
    let places = people * k;
    if rooms > places {
        return Err(TopologyError::TooManyRooms { rooms, places });
    }
    if !(s >= 0.0 && s.is_finite()) {
        return Err(TopologyError::BadExponent);
    }
    let weight = |r: usize| ((r + 1) as f64).powf(-s);
    let mut sizes = vec![1; rooms];
    // The next place goes to the room with the most weight per member it has: the one
    // furthest below its share.
    let mut queue: BinaryHeap<Claim> = (0..rooms)
        .filter(|_| people > 1)
        .map(|room| Claim {
            per_member: weight(room),
            room,
        })
        .collect();
    for _ in rooms..places {
        let Some(claim) = queue.pop() else { break };
        let room = claim.room;
        sizes[room] += 1;
        if sizes[room] < people {
            queue.push(Claim {
                per_member: weight(room) / sizes[room] as f64,
                room,
            });
        }
    }
    Ok(sizes)
}

/// A room's claim on the next place: its weight per member so far.
#[derive(Debug, Clone, Copy)]
struct Claim {
    /// Weight ÷ members.
    per_member: f64,
    /// The room; the lower number wins a tie.
    room: usize,
}

impl Ord for Claim {
    fn cmp(&self, other: &Self) -> Ordering {
        self.per_member
            .total_cmp(&other.per_member)
            .then(other.room.cmp(&self.room))
    }
}

impl PartialOrd for Claim {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Claim {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Claim {}

/// Each person's rooms: the rooms filled biggest first, each with `sizes[r]` people drawn
/// at random from those with the most places left (of `k`).
fn place(sizes: &[usize], people: usize, k: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut rooms_of = vec![Vec::with_capacity(k); people];
    // by_left[c]: the people with c places left.
    let mut by_left: Vec<Vec<usize>> = vec![Vec::new(); k + 1];
    by_left[k] = (0..people).collect();
    let mut moved = Vec::new();
    for (room, &size) in sizes.iter().enumerate() {
        let mut wanted = size;
        for left in (1..=k).rev() {
            if wanted == 0 {
                break;
            }
            let bucket = &mut by_left[left];
            let take = wanted.min(bucket.len());
            // A partial shuffle: the first `take` become a random choice of the bucket.
            for i in 0..take {
                let j = rng.random_range(i..bucket.len());
                bucket.swap(i, j);
            }
            moved.extend(bucket.drain(..take).map(|person| (person, left - 1)));
            wanted -= take;
        }
        // Only now: a person moved down a bucket must not be drawn twice for one room.
        for (person, left) in moved.drain(..) {
            rooms_of[person].push(room);
            by_left[left].push(person);
        }
    }
    rooms_of
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes never grow with the room's number, add up to every place, and follow the law:
    /// room 0 of 100 with s = 1 has about 1 / H(100) of the places.
    #[test]
    fn sizes_decrease_and_follow_the_law() {
        let sizes = zipf_sizes(2000, 100, 3, 1.0).unwrap();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 6000);
        let harmonic: f64 = (1..=100).map(|r| 1.0 / f64::from(r)).sum();
        let share = 6000.0 / harmonic;
        assert!((sizes[0] as f64 - share).abs() < share * 0.05, "{sizes:?}");
        assert!(
            (sizes[9] as f64 - share / 10.0).abs() < share * 0.02,
            "{sizes:?}"
        );
        assert!(sizes[0] > 20 * sizes[99], "{sizes:?}");
    }

    /// Exponent 0 makes every room the same size, within one.
    #[test]
    fn exponent_zero_gives_rooms_of_one_size() {
        assert_eq!(zipf_sizes(1000, 100, 1, 0.0).unwrap(), vec![10; 100]);
        let sizes = zipf_sizes(1000, 1000, 1, 0.0).unwrap();
        assert!(sizes.iter().all(|&s| s == 1));
        let sizes = zipf_sizes(10, 3, 1, 0.0).unwrap();
        assert_eq!(sizes, vec![4, 3, 3]);
    }

    /// A room cannot hold more people than there are; the places left over go to the next.
    #[test]
    fn no_room_is_bigger_than_everyone() {
        let sizes = zipf_sizes(10, 5, 4, 3.0).unwrap();
        assert!(sizes.iter().all(|&s| (1..=10).contains(&s)), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert_eq!(sizes[0], 10);
    }

    /// Every person is in exactly k different rooms, every room has the members its size
    /// says and at least one, whenever there are no more rooms than places.
    #[test]
    fn everyone_is_in_k_rooms_and_every_room_is_filled() {
        for (people, rooms, k, s) in [
            (2000, 200, 3, 1.0),
            (50, 150, 3, 1.2),
            (7, 7, 7, 2.0),
            (1000, 1000, 1, 0.0),
            (300, 40, 5, 0.5),
            (1, 1, 1, 1.0),
        ] {
            let t = Topology::new(people, rooms, k, s, 42).unwrap();
            let mut members = vec![0; rooms];
            for rooms_of in &t.rooms_of {
                assert_eq!(rooms_of.len(), k);
                let mut distinct = rooms_of.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(distinct.len(), k, "{rooms_of:?}");
                for &r in rooms_of {
                    members[r] += 1;
                }
            }
            assert_eq!(members, t.sizes, "{people} {rooms} {k} {s}");
            assert!(members.iter().all(|&m| m >= 1));
        }
    }

    /// The same seed places the same people in the same rooms; another seed does not.
    #[test]
    fn a_seed_gives_the_same_rooms() {
        let a = Topology::new(500, 50, 3, 1.0, 7).unwrap();
        let b = Topology::new(500, 50, 3, 1.0, 7).unwrap();
        let c = Topology::new(500, 50, 3, 1.0, 8).unwrap();
        assert_eq!(a.rooms_of, b.rooms_of);
        assert_eq!(a.sizes, c.sizes);
        assert_ne!(a.rooms_of, c.rooms_of);
    }

    /// Shapes that cannot be built are refused, saying which flag.
    #[test]
    fn impossible_shapes_are_refused() {
        assert_eq!(zipf_sizes(0, 1, 1, 1.0), Err(TopologyError::Empty));
        assert_eq!(
            zipf_sizes(10, 2, 3, 1.0),
            Err(TopologyError::TooFewRooms { k: 3, rooms: 2 })
        );
        assert_eq!(
            zipf_sizes(10, 31, 3, 1.0),
            Err(TopologyError::TooManyRooms {
                rooms: 31,
                places: 30
            })
        );
        assert_eq!(zipf_sizes(10, 3, 1, -1.0), Err(TopologyError::BadExponent));
        assert_eq!(
            zipf_sizes(10, 3, 1, f64::NAN),
            Err(TopologyError::BadExponent)
        );
    }
}

//! The Wing-Gong linearizability check (with Lowe's memoisation of visited configurations): whether a history
//! of operations, each with the instant it was called and the instant it was answered, could have taken effect
//! one at a time, each somewhere between its call and its answer, in an order a sequential model accepts.

use std::collections::HashSet;
use std::hash::Hash;

/// A sequential specification.
pub(crate) trait Model {
    type State: Clone + Eq + Hash;
    type Op;

    fn init(&self) -> Self::State;

    /// The states `op`, with the answer it got, may lead to from `state`; none when that answer is impossible
    /// there. An operation whose answer never came may lead to several (it took effect, or it did not).
    fn step(&self, state: &Self::State, op: &Self::Op) -> Vec<Self::State>;
}

/// One operation of a history: called at `call`, answered at `answer` (`None`: never, its outcome unknown).
#[derive(Clone, Debug)]
pub(crate) struct Event<Op> {
    pub(crate) op: Op,
    pub(crate) call: u64,
    pub(crate) answer: Option<u64>,
}

/// Why a history is not linearizable: the answer at which every order of the operations before it failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The operation answered there (an index into the history).
    pub(crate) stuck_at: usize,
    /// The most operations any attempted order placed.
    pub(crate) longest: usize,
}

#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    is_call: bool,
    /// For a call, the index of its answer entry.
    partner: usize,
}

/// A doubly linked list over the entries, from which a call and its answer are lifted when the call is placed
/// and put back when that choice is undone.
struct List {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl List {
    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = i;
        self.prev[n] = i;
    }
}

/// Checks `history` against `model`.
pub(crate) fn check<M: Model>(model: &M, history: &[Event<M::Op>]) -> Result<(), Violation> {
    // Answers at the same instant as a call count as concurrent with it: calls sort first.
    let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(history.len() * 2);
    for (i, e) in history.iter().enumerate() {
        order.push((e.call, false, i));
        order.push((e.answer.unwrap_or(u64::MAX), true, i));
    }
    order.sort_unstable();
    let n = order.len();
    let mut entries: Vec<Entry> =
        order.iter().map(|&(_, answer, op)| Entry { op, is_call: !answer, partner: 0 }).collect();
    let mut answer_of = vec![0; history.len()];
    for (at, e) in entries.iter().enumerate() {
        if !e.is_call {
            answer_of[e.op] = at;
        }
    }
    for e in &mut entries {
        if e.is_call {
            e.partner = answer_of[e.op];
        }
    }
    // Index n is the head sentinel and the end: the list is circular through it.
    let head = n;
    let mut list = List {
        next: (0..=n).map(|i| if i == n { 0 } else { i + 1 }).collect(),
        prev: (0..=n).map(|i| if i == 0 { n } else { i - 1 }).collect(),
    };
    if n == 0 {
        return Ok(());
    }
    let words = history.len().div_ceil(64);
    let mut placed = vec![0u64; words];
    let mut count = 0;
    let mut longest = 0;
    let mut seen: HashSet<(Vec<u64>, M::State)> = HashSet::new();
    // Each placed call, the state before it and which of its next states was taken.
    let mut stack: Vec<(usize, M::State, usize)> = Vec::new();
    let mut state = model.init();
    let mut at = list.next[head];
    // Tries the next states of call entry `e` from `from` on; places it with the first configuration not seen.
    let try_place = |e: usize,
                     from: usize,
                     state: &M::State,
                     placed: &mut Vec<u64>,
                     seen: &mut HashSet<(Vec<u64>, M::State)>|
     -> Option<(usize, M::State)> {
        let op = entries[e].op;
        let nexts = model.step(state, &history[op].op);
        placed[op / 64] |= 1 << (op % 64);
        for (alt, next) in nexts.into_iter().enumerate().skip(from) {
            if seen.insert((placed.clone(), next.clone())) {
                return Some((alt, next));
            }
        }
        placed[op / 64] &= !(1 << (op % 64));
        None
    };
    while list.next[head] != head {
        if entries[at].is_call {
            if let Some((alt, next)) = try_place(at, 0, &state, &mut placed, &mut seen) {
                stack.push((at, std::mem::replace(&mut state, next), alt));
                list.unlink(at);
                list.unlink(entries[at].partner);
                count += 1;
                longest = longest.max(count);
                at = list.next[head];
            } else {
                at = list.next[at];
            }
            continue;
        }
        // An answer whose call could not be placed before it: undo the last choice and try its next state, or
        // go on past it.
        let Some((e, before, alt)) = stack.pop() else {
            return Err(Violation { stuck_at: entries[at].op, longest });
        };
        let op = entries[e].op;
        placed[op / 64] &= !(1 << (op % 64));
        list.relink(entries[e].partner);
        list.relink(e);
        count -= 1;
        state = before;
        if let Some((alt, next)) = try_place(e, alt + 1, &state, &mut placed, &mut seen) {
            stack.push((e, std::mem::replace(&mut state, next), alt));
            list.unlink(e);
            list.unlink(entries[e].partner);
            count += 1;
            at = list.next[head];
        } else {
            // The answer of `e` follows it, so this never runs off the end.
            at = list.next[e];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register holding a number: writes set it, reads return it; a write without answer may or may not have
    /// taken effect.
    struct Register;

    #[derive(Debug)]
    enum Op {
        Write(u8),
        Read(u8),
        LostWrite(u8),
    }

    impl Model for Register {
        type State = u8;
        type Op = Op;

        fn init(&self) -> u8 {
            0
        }

        fn step(&self, state: &u8, op: &Op) -> Vec<u8> {
            match *op {
                Op::Write(v) => vec![v],
                Op::Read(v) if v == *state => vec![*state],
                Op::Read(_) => vec![],
                Op::LostWrite(v) => vec![v, *state],
            }
        }
    }

    fn event(op: Op, call: u64, answer: u64) -> Event<Op> {
        Event { op, call, answer: Some(answer) }
    }

    #[test]
    fn sequential_and_overlapping_histories_that_fit_pass() {
        let history = [event(Op::Write(1), 0, 10), event(Op::Read(1), 11, 20)];
        assert_eq!(check(&Register, &history), Ok(()));
        // The read overlaps the write, so it may see either value; the second read must see 2.
        let history = [
            event(Op::Write(2), 0, 10),
            event(Op::Read(0), 5, 8),
            event(Op::Read(2), 9, 12),
            event(Op::Read(2), 11, 30),
        ];
        assert_eq!(check(&Register, &history), Ok(()));
        assert_eq!(check(&Register, &[]), Ok(()));
    }

    #[test]
    fn a_stale_read_after_an_acknowledged_write_is_caught() {
        let history = [event(Op::Write(1), 0, 10), event(Op::Read(0), 11, 20)];
        let violation = check(&Register, &history).expect_err("a stale read");
        assert_eq!(violation.longest, 1, "the write alone could be placed");
    }

    #[test]
    fn reads_going_back_in_time_are_caught() {
        // Both reads overlap the write, but once one saw the new value a later read may not see the old one.
        let history = [event(Op::Write(1), 0, 100), event(Op::Read(1), 10, 20), event(Op::Read(0), 30, 40)];
        assert!(check(&Register, &history).is_err());
    }

    #[test]
    fn a_write_without_answer_may_have_taken_effect_or_not() {
        let lost = Event { op: Op::LostWrite(3), call: 0, answer: None };
        let applied = [lost, event(Op::Read(3), 50, 60)];
        assert_eq!(check(&Register, &applied), Ok(()));
        let lost = Event { op: Op::LostWrite(3), call: 0, answer: None };
        let not_applied = [lost, event(Op::Read(0), 50, 60), event(Op::Read(3), 70, 80)];
        assert_eq!(check(&Register, &not_applied), Ok(()), "it may take effect late");
        let lost = Event { op: Op::LostWrite(3), call: 0, answer: None };
        let flip_flop = [lost, event(Op::Read(3), 50, 60), event(Op::Read(0), 70, 80)];
        assert!(check(&Register, &flip_flop).is_err(), "but not be undone");
    }

    #[test]
    fn a_value_nobody_wrote_is_caught() {
        // A write answered with an error was left out of the history as one that did not happen; seeing its
        // value is a violation.
        let history = [event(Op::Write(1), 0, 10), event(Op::Read(7), 20, 30)];
        assert!(check(&Register, &history).is_err());
    }

    #[test]
    fn many_concurrent_operations_are_checked_quickly() {
        // 200 overlapping writes of distinct values and reads: the memo keeps the search small.
        let mut history = Vec::new();
        for i in 0..200u64 {
            let v = (i % 250) as u8 + 1;
            history.push(event(Op::Write(v), i * 10, i * 10 + 25));
            history.push(event(Op::Read(v), i * 10 + 26, i * 10 + 27));
        }
        assert_eq!(check(&Register, &history), Ok(()));
        let last = history.len() - 1;
        history[last] = event(Op::Read(0), 1999 * 10, 1999 * 10 + 1);
        assert!(check(&Register, &history).is_err());
    }
}

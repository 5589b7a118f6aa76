//! The sequential model a pool's history is checked against: the intents of one contended area, where every
//! intent intersects every other, so a write must name the OVN of every other intent there in its key.

use std::collections::BTreeMap;

use super::wgl::Model;

/// How a write was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx.
    Done,
    /// 404 or 409: its precondition did not hold.
    Refused,
    /// Sent, never answered: it took effect or not.
    Unknown,
}

/// One request with its answer. Writes carry the OVN they ask for (`requested_ovn_suffix`), so their effect is
/// known even without an answer.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Create {
        id: String,
        ovn: String,
        key: Vec<String>,
        outcome: Outcome,
    },
    Update {
        id: String,
        from: String,
        to: String,
        key: Vec<String>,
        outcome: Outcome,
    },
    Delete {
        id: String,
        ovn: String,
        outcome: Outcome,
    },
    /// The intents a query answered with, by id, with their OVNs.
    Query {
        seen: BTreeMap<String, String>,
    },
}

impl Op {
    pub(crate) fn create(id: String, ovn: String, key: Vec<String>) -> Op {
        Op::Create { id, ovn, key, outcome: Outcome::Done }
    }

    pub(crate) fn update(id: String, from: String, to: String, key: Vec<String>) -> Op {
        Op::Update { id, from, to, key, outcome: Outcome::Done }
    }

    pub(crate) fn delete(id: String, ovn: String) -> Op {
        Op::Delete { id, ovn, outcome: Outcome::Done }
    }

    pub(crate) fn with_outcome(mut self, answered: Outcome) -> Op {
        match &mut self {
            Op::Create { outcome, .. } | Op::Update { outcome, .. } | Op::Delete { outcome, .. } => {
                *outcome = answered;
            }
            Op::Query { .. } => {}
        }
        self
    }
}

/// The intents of an area: id to OVN.
pub(crate) struct Intents;

type State = BTreeMap<String, String>;

/// Whether a write of `id` with `key` passes the key check: every other intent's OVN is in the key.
fn key_covers(state: &State, id: &str, key: &[String]) -> bool {
    state.iter().filter(|(other, _)| other.as_str() != id).all(|(_, ovn)| key.contains(ovn))
}

/// The states a write reaches: `after` if its precondition `holds`, given how it was answered.
fn write(state: &State, holds: bool, outcome: Outcome, after: impl FnOnce() -> State) -> Vec<State> {
    match (outcome, holds) {
        (Outcome::Done, true) => vec![after()],
        (Outcome::Refused, false) => vec![state.clone()],
        (Outcome::Unknown, true) => vec![after(), state.clone()],
        (Outcome::Unknown, false) => vec![state.clone()],
        (Outcome::Done, false) | (Outcome::Refused, true) => vec![],
    }
}

impl Model for Intents {
    type State = State;
    type Op = Op;

    fn init(&self) -> State {
        State::new()
    }

    fn step(&self, state: &State, op: &Op) -> Vec<State> {
        match op {
            Op::Create { id, ovn, key, outcome } => {
                let holds = !state.contains_key(id) && key_covers(state, id, key);
                write(state, holds, *outcome, || {
                    let mut next = state.clone();
                    next.insert(id.clone(), ovn.clone());
                    next
                })
            }
            Op::Update { id, from, to, key, outcome } => {
                let holds = state.get(id) == Some(from) && key_covers(state, id, key);
                write(state, holds, *outcome, || {
                    let mut next = state.clone();
                    next.insert(id.clone(), to.clone());
                    next
                })
            }
            Op::Delete { id, ovn, outcome } => {
                let holds = state.get(id) == Some(ovn);
                write(state, holds, *outcome, || {
                    let mut next = state.clone();
                    next.remove(id);
                    next
                })
            }
            Op::Query { seen } if seen == state => vec![state.clone()],
            Op::Query { .. } => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::wgl::{Event, check};
    use super::*;

    fn at(op: Op, call: u64, answer: u64) -> Event<Op> {
        Event { op, call, answer: Some(answer) }
    }

    fn seen(pairs: &[(&str, &str)]) -> Op {
        Op::Query { seen: pairs.iter().map(|(i, o)| (i.to_string(), o.to_string())).collect() }
    }

    fn create(id: &str, ovn: &str, key: &[&str]) -> Op {
        Op::create(id.into(), ovn.into(), key.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn a_pool_that_behaves_passes() {
        let history = [
            at(create("a", "a1", &[]), 0, 10),
            at(seen(&[("a", "a1")]), 11, 12),
            // Two creates racing with an empty key: one wins, the other is refused.
            at(create("b", "b1", &["a1"]), 20, 30),
            at(create("c", "c1", &["a1"]).with_outcome(Outcome::Refused), 21, 29),
            at(Op::update("a".into(), "a1".into(), "a2".into(), vec!["b1".into()]), 40, 50),
            at(seen(&[("a", "a2"), ("b", "b1")]), 51, 52),
            at(Op::delete("b".into(), "b1".into()), 60, 70),
            at(Op::delete("b".into(), "b1".into()).with_outcome(Outcome::Refused), 71, 72),
            at(seen(&[("a", "a2")]), 73, 74),
        ];
        assert_eq!(check(&Intents, &history), Ok(()));
    }

    #[test]
    fn a_read_served_before_a_write_acknowledged_elsewhere_is_caught() {
        // The violation a replica answering without catching up makes.
        let history = [at(create("a", "a1", &[]), 0, 10), at(seen(&[]), 11, 12)];
        assert!(check(&Intents, &history).is_err());
    }

    #[test]
    fn two_intersecting_intents_both_accepted_are_caught() {
        let history = [
            at(create("a", "a1", &[]), 0, 10),
            at(create("b", "b1", &[]), 0, 10),
            at(seen(&[("a", "a1"), ("b", "b1")]), 20, 30),
        ];
        assert!(check(&Intents, &history).is_err());
    }

    #[test]
    fn a_write_answered_with_an_error_that_took_effect_is_caught() {
        // The create answered 503 is left out of the history; the intent it made shows up anyway.
        let history = [at(seen(&[("a", "a1")]), 20, 30)];
        assert!(check(&Intents, &history).is_err());
    }

    #[test]
    fn a_refusal_decided_on_stale_state_is_caught() {
        // Once "a" is deleted, a create with an empty key must pass; refusing it is deciding on old state.
        let history = [
            at(create("a", "a1", &[]), 0, 10),
            at(Op::delete("a".into(), "a1".into()), 11, 20),
            at(create("b", "b1", &[]).with_outcome(Outcome::Refused), 21, 30),
        ];
        assert!(check(&Intents, &history).is_err());
    }

    #[test]
    fn a_write_without_answer_may_or_may_not_have_taken_effect() {
        let lost =
            Event { op: create("a", "a1", &[]).with_outcome(Outcome::Unknown), call: 0, answer: Some(100) };
        assert_eq!(check(&Intents, &[lost.clone(), at(seen(&[("a", "a1")]), 20, 30)]), Ok(()));
        assert_eq!(check(&Intents, &[lost.clone(), at(seen(&[]), 20, 30)]), Ok(()));
        assert!(check(&Intents, &[lost, at(seen(&[("a", "a1")]), 20, 30), at(seen(&[]), 40, 50)]).is_err());
    }
}

//! `regex_match()`: a regular expression compiled to a small byte DFA that the code generator turns into BPF branches.

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::util::primitives::StateID;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

/// More states than this makes the generated code too large for the verifier: refused.
pub const MAX_REGEX_STATES: usize = 64;

/// A state's moves: `(first byte, last byte, next state)`, covering all 256 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DfaState {
    pub transitions: Vec<(u8, u8, u32)>,
    /// Whether the end of the string (a NUL, or the end of the buffer) completes a match here.
    pub matches_at_end: bool,
}

/// The flattened DFA: states `0..running` are still undecided, `running..dead` mean "matched"
/// (the search can stop), `dead` means no match is possible any more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteDfa {
    pub start: u32,
    /// The running states, indexed by number; the match states and the dead state have no moves.
    pub states: Vec<DfaState>,
    pub first_match_state: u32,
    pub dead_state: u32,
}

impl ByteDfa {
    /// Runs the DFA over `haystack` as the BPF code does, for tests and fixtures.
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        let mut state = self.start;
        for &byte in haystack {
            if byte == 0 {
                break;
            }
            let Some(current) = self.states.get(state as usize) else {
                break;
            };
            state = current
                .transitions
                .iter()
                .find(|(low, high, _)| (*low..=*high).contains(&byte))
                .map(|(_, _, next)| *next)
                .unwrap_or(self.dead_state);
            if state >= self.first_match_state {
                return state < self.dead_state;
            }
        }
        self.states
            .get(state as usize)
            .is_some_and(|current| current.matches_at_end)
    }
}

/// Why a pattern cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegexError {
    #[error("invalid regular expression: {0}")]
    Invalid(String),
    #[error("the regular expression needs {0} DFA states; at most {MAX_REGEX_STATES} fit in a BPF program (simplify it)")]
    TooLarge(usize),
}

/// An error and its causes, innermost last (regex-automata's own message is only the outer
/// "error building NFA"; the syntax error that says what is wrong is a cause).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Compiles `pattern` into a [`ByteDfa`] that says whether it matches anywhere in a string
/// (an unanchored search; `^` and `$` anchor at the string's ends). It is built with
/// regex-automata on bytes (no Unicode classes, `.` is any byte but a newline), minimised,
/// then flattened into numbered states whose transitions are byte ranges. States are numbered
/// so the generated code needs only two comparisons to classify one: running states first,
/// then match states, then the dead state.
pub fn compile_regex(pattern: &str) -> Result<ByteDfa, RegexError> {
    let dfa = dense::Builder::new()
        .configure(
            dense::DFA::config()
                .start_kind(StartKind::Unanchored)
                .minimize(true)
                .dfa_size_limit(Some(1 << 20))
                .determinize_size_limit(Some(1 << 20)),
        )
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(pattern)
        .map_err(|error| RegexError::Invalid(error_chain(&error)))?;
    // The start state for a search at the beginning of the string (so `^` holds there).
    let start = dfa
        .start_state_forward(&Input::new(&b""[..]).anchored(Anchored::No))
        .map_err(|error| RegexError::Invalid(error.to_string()))?;
    // Every state reachable from the start, split into running and terminal ones.
    let mut seen: Vec<StateID> = vec![start];
    let mut index = 0;
    while let Some(&state) = seen.get(index) {
        index += 1;
        if dfa.is_match_state(state) || dfa.is_dead_state(state) || dfa.is_quit_state(state) {
            continue;
        }
        for byte in 0..=255u8 {
            let next = dfa.next_state(state, byte);
            if !seen.contains(&next) {
                seen.push(next);
                if seen.len() > MAX_REGEX_STATES * 4 {
                    return Err(RegexError::TooLarge(seen.len()));
                }
            }
        }
    }
    let running: Vec<StateID> = seen
        .iter()
        .copied()
        .filter(|&state| {
            !dfa.is_match_state(state) && !dfa.is_dead_state(state) && !dfa.is_quit_state(state)
        })
        .collect();
    let matching: Vec<StateID> = seen
        .iter()
        .copied()
        .filter(|&state| dfa.is_match_state(state))
        .collect();
    if running.len() + matching.len() > MAX_REGEX_STATES {
        return Err(RegexError::TooLarge(running.len() + matching.len()));
    }
    let first_match_state = running.len() as u32;
    let dead_state = first_match_state + matching.len() as u32;
    let number_of = |state: StateID| -> u32 {
        if let Some(position) = running.iter().position(|&other| other == state) {
            return position as u32;
        }
        if let Some(position) = matching.iter().position(|&other| other == state) {
            return first_match_state + position as u32;
        }
        dead_state
    };
    let mut states = Vec::with_capacity(running.len());
    for &state in &running {
        let mut transitions: Vec<(u8, u8, u32)> = Vec::new();
        for byte in 0..=255u8 {
            let next = number_of(dfa.next_state(state, byte));
            match transitions.last_mut() {
                Some((_, high, last_next)) if *last_next == next && *high + 1 == byte => {
                    *high = byte;
                }
                _ => transitions.push((byte, byte, next)),
            }
        }
        let matches_at_end = dfa.is_match_state(dfa.next_eoi_state(state));
        states.push(DfaState {
            transitions,
            matches_at_end,
        });
    }
    Ok(ByteDfa {
        start: number_of(start),
        states,
        first_match_state,
        dead_state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_alternatives() {
        let dfa = compile_regex("^(sh|bash)$").unwrap();
        for (text, expected) in [
            (&b"sh"[..], true),
            (b"bash", true),
            (b"dash", false),
            (b"bash5", false),
            (b"sh\0garbage", true),
            (b"", false),
        ] {
            assert_eq!(
                dfa.is_match(text),
                expected,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn unanchored_search_classes_and_repetition() {
        let dfa = compile_regex("py(thon)?[0-9]+").unwrap();
        assert!(dfa.is_match(b"python3"));
        assert!(dfa.is_match(b"xpy3"));
        assert!(!dfa.is_match(b"python"));
        let any = compile_regex("").unwrap();
        assert!(any.is_match(b"anything"));
        assert!(any.is_match(b""));
        let dot = compile_regex("^a.c$").unwrap();
        assert!(dot.is_match(b"a\xffc"));
    }

    #[test]
    fn invalid_and_huge_patterns_are_refused() {
        assert!(matches!(compile_regex("a("), Err(RegexError::Invalid(_))));
        assert!(matches!(
            compile_regex("[ab]*a[ab]{7}$"),
            Err(RegexError::TooLarge(_))
        ));
    }

    #[test]
    fn state_numbering_is_running_then_matching_then_dead() {
        let dfa = compile_regex("^ab").unwrap();
        assert!(dfa.first_match_state as usize == dfa.states.len());
        assert!(dfa.dead_state > dfa.first_match_state);
        for state in &dfa.states {
            let covered: u32 = state
                .transitions
                .iter()
                .map(|(low, high, _)| u32::from(*high) - u32::from(*low) + 1)
                .sum();
            assert_eq!(covered, 256);
        }
    }
}

//! Shell-style wildcard patterns for probe names: `*`, `?` and `[...]` (with `!`/`^` negation and ranges).

use crate::ProbeError;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyChar,
    AnyString,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled wildcard pattern, matched against a whole string.
#[derive(Clone, Debug)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles `pattern`; an unclosed `[` is an error.
    pub fn new(pattern: &str) -> Result<Glob, ProbeError> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut index = 0;
        while index < chars.len() {
            let c = chars[index];
            match c {
                '*' => {
                    if tokens.last() != Some(&Token::AnyString) {
                        tokens.push(Token::AnyString);
                    }
                }
                '?' => tokens.push(Token::AnyChar),
                '[' => {
                    let (token, next) =
                        parse_class(&chars, index).ok_or_else(|| ProbeError::BadPattern {
                            pattern: pattern.to_string(),
                            reason: format!("unclosed '[' at column {}", index + 1),
                        })?;
                    tokens.push(token);
                    index = next;
                    continue;
                }
                other => tokens.push(Token::Literal(other)),
            }
            index += 1;
        }
        Ok(Glob {
            source: pattern.to_string(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern has no wildcard at all (then it names exactly one thing).
    pub fn is_literal(&self) -> bool {
        self.tokens
            .iter()
            .all(|token| matches!(token, Token::Literal(_)))
    }

    /// The text every match starts with, useful to skip work early.
    pub fn literal_prefix(&self) -> String {
        self.tokens
            .iter()
            .map_while(|token| match token {
                Token::Literal(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Whether the pattern is `*` alone, which every name matches.
    pub fn matches_everything(&self) -> bool {
        self.tokens == [Token::AnyString]
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        if self.matches_everything() {
            return true;
        }
        // Probe names are ASCII: match their bytes directly instead of collecting chars,
        // since `-l` calls this for hundreds of thousands of names.
        if text.is_ascii() {
            match_units(&self.tokens, text.as_bytes())
        } else {
            let chars: Vec<char> = text.chars().collect();
            match_units(&self.tokens, &chars)
        }
    }
}

/// One unit of text: a byte of ASCII text or a char of any other.
trait TextUnit: Copy {
    fn to_char(self) -> char;
}

impl TextUnit for u8 {
    fn to_char(self) -> char {
        char::from(self)
    }
}

impl TextUnit for char {
    fn to_char(self) -> char {
        self
    }
}

/// Iterative matching with one backtrack point per `*`: linear in practice, never exponential.
fn match_units<Unit: TextUnit>(tokens: &[Token], text: &[Unit]) -> bool {
    let (mut token_idx, mut text_idx) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while text_idx < text.len() {
        match tokens.get(token_idx) {
            Some(Token::AnyString) => {
                backtrack = Some((token_idx, text_idx));
                token_idx += 1;
                continue;
            }
            Some(token) if token_matches(token, text[text_idx].to_char()) => {
                token_idx += 1;
                text_idx += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((star_token, star_text)) => {
                token_idx = star_token + 1;
                text_idx = star_text + 1;
                backtrack = Some((star_token, star_text + 1));
            }
            None => return false,
        }
    }
    tokens[token_idx..]
        .iter()
        .all(|token| *token == Token::AnyString)
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(expected) => *expected == c,
        Token::AnyChar => true,
        Token::AnyString => true,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(low, high)| (*low..=*high).contains(&c)) != *negated
        }
    }
}

/// Parses `[...]` starting at `start` (the `[`); returns the token and the index after `]`.
fn parse_class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut index = start + 1;
    let negated = matches!(chars.get(index), Some('!') | Some('^'));
    if negated {
        index += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(index)?;
        if c == ']' && !first {
            return Some((Token::Class { negated, ranges }, index + 1));
        }
        first = false;
        if chars.get(index + 1) == Some(&'-') && chars.get(index + 2).is_some_and(|end| *end != ']')
        {
            ranges.push((c, chars[index + 2]));
            index += 3;
        } else {
            ranges.push((c, c));
            index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn matches(pattern: &str, text: &str) -> bool {
        Glob::new(pattern).unwrap().matches(text)
    }

    #[test]
    fn stars_and_questions() {
        assert!(matches("*execve*", "syscalls:sys_enter_execve"));
        assert!(matches("sys_enter_*", "sys_enter_execveat"));
        assert!(!matches("sys_enter_*", "sys_exit_execve"));
        assert!(matches("vfs_rea?", "vfs_read"));
        assert!(!matches("vfs_rea?", "vfs_readv"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "aXXbYYbZc"));
        assert!(!matches("a*b*c", "aXXbYYbZ"));
    }

    #[test]
    fn classes() {
        assert!(matches("sys_[ex]*", "sys_enter"));
        assert!(matches("sys_[!x]*", "sys_enter"));
        assert!(!matches("sys_[^e]*", "sys_enter"));
        assert!(matches("r[a-c]d", "rbd"));
        assert!(matches("[]]x", "]x"));
    }

    #[test]
    fn unclosed_class_is_an_error() {
        assert!(Glob::new("sys_[abc").is_err());
        assert!(Glob::new("[").is_err());
    }

    #[test]
    fn literal_helpers() {
        let glob = Glob::new("sys_enter_*").unwrap();
        assert_eq!(glob.literal_prefix(), "sys_enter_");
        assert!(!glob.is_literal());
        assert!(Glob::new("vfs_read").unwrap().is_literal());
    }

    #[test]
    fn no_blowup_on_many_stars() {
        let pattern = "*a".repeat(30);
        let text = "a".repeat(29) + "b";
        assert!(!matches(&pattern, &text));
    }
}

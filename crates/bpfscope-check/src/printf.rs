//! printf format strings: finding the conversions and checking arguments against them.

use crate::types::Type;

/// One `%...` conversion in a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// The whole specification as written, e.g. `%-8s`.
    pub text: String,
    /// The conversion character (`d`, `s`, `x`, ...).
    pub conversion: char,
}

/// Conversion characters bpftrace accepts.
const CONVERSIONS: &str = "diouxXcspr";
const FLAGS: &str = "-+ #0";
const LENGTH_MODIFIER_CHARACTERS: &str = "hlzjt";

/// Finds the conversions of `format`, or says what is malformed.
pub fn parse_conversions(format: &str) -> Result<Vec<Conversion>, String> {
    let characters: Vec<char> = format.chars().collect();
    let mut conversions = Vec::new();
    let mut index = 0;
    while let Some(&character) = characters.get(index) {
        index += 1;
        if character != '%' {
            continue;
        }
        let start = index - 1;
        if characters.get(index) == Some(&'%') {
            index += 1;
            continue;
        }
        while characters
            .get(index)
            .is_some_and(|flag| FLAGS.contains(*flag))
        {
            index += 1;
        }
        while characters
            .get(index)
            .is_some_and(|digit| digit.is_ascii_digit())
        {
            index += 1;
        }
        if characters.get(index) == Some(&'.') {
            index += 1;
            while characters
                .get(index)
                .is_some_and(|digit| digit.is_ascii_digit())
            {
                index += 1;
            }
        }
        while characters
            .get(index)
            .is_some_and(|modifier| LENGTH_MODIFIER_CHARACTERS.contains(*modifier))
        {
            index += 1;
        }
        let Some(&conversion) = characters.get(index) else {
            let rest: String = characters.get(start..).unwrap_or(&[]).iter().collect();
            return Err(format!(
                "printf: Invalid format string: incomplete specifier '{rest}'"
            ));
        };
        index += 1;
        // `%rx` and `%rh` are buffer variants.
        if conversion == 'r'
            && characters
                .get(index)
                .is_some_and(|variant| *variant == 'x' || *variant == 'h')
        {
            index += 1;
        }
        let text: String = characters.get(start..index).unwrap_or(&[]).iter().collect();
        if !CONVERSIONS.contains(conversion) {
            return Err(format!(
                "printf: Invalid format string: unknown conversion '{text}'"
            ));
        }
        conversions.push(Conversion { text, conversion });
    }
    Ok(conversions)
}

/// Checks argument count and types. Returns one message per problem, with the index of the
/// argument it is about (None for a count mismatch).
pub fn check_arguments(
    function: &str,
    conversions: &[Conversion],
    arguments: &[Type],
) -> Vec<(Option<usize>, String)> {
    let mut problems = Vec::new();
    if arguments.len() < conversions.len() {
        problems.push((
            None,
            format!(
                "{function}: Not enough arguments for format string ({} supplied, {} expected)",
                arguments.len(),
                conversions.len()
            ),
        ));
    } else if arguments.len() > conversions.len() {
        problems.push((
            None,
            format!(
                "{function}: Too many arguments for format string ({} supplied, {} expected)",
                arguments.len(),
                conversions.len()
            ),
        ));
    }
    for (index, (conversion, argument)) in conversions.iter().zip(arguments).enumerate() {
        let acceptable = match conversion.conversion {
            's' => !matches!(argument, Type::Void | Type::Context),
            'r' => matches!(argument, Type::Str { .. } | Type::Array { .. }),
            _ => argument.is_integer() || argument.is_pointer(),
        };
        if !acceptable {
            let expected = match conversion.conversion {
                's' => "a value that can be printed",
                'r' => "a value of type buffer",
                _ => "a value of type integer",
            };
            problems.push((
                Some(index),
                format!(
                    "{function}: {} specifier expects {expected} ({argument} supplied)",
                    conversion.text
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_conversions_with_flags_and_lengths() {
        let conversions = parse_conversions("%-6d %-8s %ld %%  %08llx\n").expect("valid");
        let texts: Vec<&str> = conversions.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, vec!["%-6d", "%-8s", "%ld", "%08llx"]);
    }

    #[test]
    fn rejects_unknown_conversion() {
        assert!(parse_conversions("%q").is_err());
        assert!(parse_conversions("abc %").is_err());
    }

    #[test]
    fn reports_count_and_type_mismatches() {
        let conversions = parse_conversions("%d %d").expect("valid");
        let problems = check_arguments("printf", &conversions, &[Type::INT64]);
        assert_eq!(
            problems[0].1,
            "printf: Not enough arguments for format string (1 supplied, 2 expected)"
        );
        let conversions = parse_conversions("%d").expect("valid");
        let problems = check_arguments("printf", &conversions, &[Type::Str { capacity: 16 }]);
        assert_eq!(
            problems[0].1,
            "printf: %d specifier expects a value of type integer (string[16] supplied)"
        );
    }
}

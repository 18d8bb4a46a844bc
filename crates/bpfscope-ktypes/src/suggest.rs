//! "Did you mean" candidates: the closest name by edit distance (transpositions count once).

/// Edit distance with adjacent transpositions (optimal string alignment), on chars.
pub fn edit_distance(left: &str, right: &str) -> usize {
    let left: Vec<char> = left.chars().collect();
    let right: Vec<char> = right.chars().collect();
    let width = right.len() + 1;
    // Three rows: two back (for transpositions), one back, and the current one.
    let mut before_previous = vec![0usize; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current = vec![0usize; width];
    for (row, left_char) in left.iter().enumerate() {
        current[0] = row + 1;
        for (column, right_char) in right.iter().enumerate() {
            let substitution = usize::from(left_char != right_char);
            let mut best = (previous[column] + substitution)
                .min(previous[column + 1] + 1)
                .min(current[column] + 1);
            let transposed = row > 0
                && column > 0
                && left.get(row - 1) == Some(right_char)
                && right.get(column - 1) == Some(left_char);
            if transposed {
                best = best.min(before_previous[column - 1] + 1);
            }
            current[column + 1] = best;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[right.len()]
}

/// The candidate closest to `wanted`, if close enough to be a plausible typo.
pub fn closest_name<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let allowed = (wanted.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate.is_empty() || candidate == wanted {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(wanted) {
            0
        } else {
            edit_distance(wanted, candidate)
        };
        if distance <= allowed && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name.to_string())
}

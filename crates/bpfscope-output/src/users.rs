//! User names for `username(uid)`: `/etc/passwd` read once, on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The user ids and names of a passwd file's text (`name:password:uid:...` lines); malformed
/// lines are skipped, and the first name of a uid wins, as `getpwuid` finds it.
pub fn parse_passwd(text: &str) -> HashMap<u64, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_password), Some(user_id)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if let Ok(user_id) = user_id.trim().parse::<u64>() {
            names.entry(user_id).or_insert_with(|| name.to_string());
        }
    }
    names
}

/// The name of user `user_id`, or the number when `/etc/passwd` has none (users from LDAP
/// and the like are not looked up: that could block the event loop).
pub fn user_name(user_id: u64) -> String {
    static NAMES: OnceLock<HashMap<u64, String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        std::fs::read_to_string("/etc/passwd")
            .map(|text| parse_passwd(&text))
            .unwrap_or_default()
    });
    names
        .get(&user_id)
        .cloned()
        .unwrap_or_else(|| user_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_give_names_by_uid() {
        let names = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n#comment:x:5:5::/:/bin/sh\nbroken\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\ndup:x:33:33::/:/bin/sh\nbad:x:notanumber:1::/:/bin/sh\n",
        );
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn unknown_users_print_as_numbers() {
        assert_eq!(user_name(4_000_000_000), "4000000000");
        assert_eq!(user_name(0), "root");
    }
}

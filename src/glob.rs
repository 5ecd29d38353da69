//! `*` patterns, for names people write by hand (scripted service paths, email subjects).

/// `*` matches any run of characters (none included); everything else itself.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_star_matches_any_run_of_characters() {
        assert!(matches("/slots/*", "/slots/haircut"));
        assert!(matches("/slots/*", "/slots/"));
        assert!(!matches("/slots/*", "/bookings"));
        assert!(matches("/a/*/b", "/a/x/y/b"));
        assert!(matches("/exact", "/exact"));
        assert!(!matches("/exact", "/exact/more"));
        assert!(matches("*", ""));
        assert!(matches("Your appointment*", "Your appointment on Friday"));
    }
}

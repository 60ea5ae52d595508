//! The README's fakeserver examples, for the tests that check them: the fenced block that
//! follows a `<!-- fakeserver-example: NAME ... -->` marker.

use std::path::Path;

/// The workspace README.
pub fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap()
}

/// The fenced block following `<!-- fakeserver-example: NAME ... -->`.
pub fn block(name: &str) -> String {
    let r = readme();
    let marker = format!("<!-- fakeserver-example: {name}");
    let at = r
        .find(&marker)
        .unwrap_or_else(|| panic!("README lacks the {name} example"));
    let body = &r[at..];
    let body = &body[body.find("```").unwrap()..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

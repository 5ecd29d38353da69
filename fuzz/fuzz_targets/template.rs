//! Template rendering: `{{ var }}` text (a dialog's, or a gateway's body template) compiled,
//! then rendered with values a user typed (after the first NUL byte, NUL-separated) under
//! every escape. A compiled template prints back to itself; an escaped value stays inside
//! its JSON string, its URL component and its HTML text.

#![no_main]

use colloquy::dialog::template::{Escape, Template};
use libfuzzer_sys::fuzz_target;

const ESCAPES: [Escape; 4] = [
    Escape::None,
    Escape::Html,
    Escape::UrlComponent,
    Escape::JsonString,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, values) = text.split_once('\0').unwrap_or((text, ""));
    let values: Vec<&str> = values.split('\0').collect();
    let template = match Template::compile(source) {
        Ok(template) => template,
        Err(error) => {
            assert!(!error.message.is_empty());
            assert!(
                source.is_char_boundary(error.offset) && error.offset < source.len(),
                "offset {} outside {source:?}",
                error.offset
            );
            assert!(source[error.offset..].starts_with("{{"));
            return;
        }
    };
    // Printed back with its variables as references, it compiles to itself.
    let printed = template.render(Escape::None, |name, out| {
        out.push_str("{{");
        out.push_str(name);
        out.push_str("}}");
        true
    });
    assert_eq!(
        Template::compile(&printed).as_ref(),
        Ok(&template),
        "{printed:?}"
    );
    if !source.contains("{{") {
        assert_eq!(printed, source);
    }
    for escape in ESCAPES {
        let mut i = 0;
        let _ = template.render(escape, |_, out| {
            out.push_str(values[i % values.len()]);
            i += 1;
            i % 3 != 0
        });
    }
    // Each value alone, escaped.
    let sole = Template::compile("{{ value }}").expect("compiles");
    for value in values {
        let render = |escape| {
            sole.render(escape, |_, out| {
                out.push_str(value);
                true
            })
        };
        let json = render(Escape::JsonString);
        let back: String = serde_json::from_str(&format!("\"{json}\"")).expect("a JSON string");
        assert_eq!(back, value);
        let html = render(Escape::Html);
        assert!(!html.contains(['<', '>', '"', '\'']), "{html:?}");
        let url = render(Escape::UrlComponent);
        assert!(
            url.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{url:?}"
        );
        assert_eq!(percent_decoded(&url), value.as_bytes());
    }
});

fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

//! The `pattern` entity reading a user's message, with the README's order number pattern.
//! A value is its first capture group, which need not match the pattern again on its own,
//! so it is not looked for again.

#![no_main]

use std::sync::LazyLock;

use colloquy::dialog::entities::EntityKind;
use libfuzzer_sys::fuzz_target;

static ENTITY: LazyLock<Box<dyn EntityKind>> = LazyLock::new(|| {
    colloquy_fuzz::entity("entity: pattern\npattern: '(?i)\\b([A-Z]{2}-\\d{4})\\b'\n")
});

fuzz_target!(|data: &[u8]| {
    colloquy_fuzz::hear(&**ENTITY, data, false);
});

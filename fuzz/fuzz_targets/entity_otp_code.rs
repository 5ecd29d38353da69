//! The `otp_code` entity reading a user's message.

#![no_main]

use std::sync::LazyLock;

use colloquy::dialog::entities::EntityKind;
use libfuzzer_sys::fuzz_target;

static ENTITY: LazyLock<Box<dyn EntityKind>> =
    LazyLock::new(|| colloquy_fuzz::entity("entity: otp_code"));

fuzz_target!(|data: &[u8]| {
    colloquy_fuzz::hear(&**ENTITY, data, true);
});

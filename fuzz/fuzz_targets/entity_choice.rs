//! The `choice` entity reading a user's message, with the options of the shipped booking
//! dialog.

#![no_main]

use std::sync::LazyLock;

use colloquy::dialog::entities::EntityKind;
use libfuzzer_sys::fuzz_target;

static ENTITY: LazyLock<Box<dyn EntityKind>> = LazyLock::new(|| {
    colloquy_fuzz::entity(
        "entity: choice\n\
         choices:\n  \
           haircut: [cut, trim]\n  \
           colour: { label: \"Colour\", also: [color, dye, highlights] }\n  \
           beard_trim: [beard, shave]\n  \
           monday: [mon]\n  \
           tuesday: [tue, tues]\n",
    )
});

fuzz_target!(|data: &[u8]| {
    colloquy_fuzz::hear(&**ENTITY, data, true);
});

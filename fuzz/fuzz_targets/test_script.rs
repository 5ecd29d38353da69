//! `colloquy test` scripts: YAML → validated scripts or `file:line:col` diagnostics, then
//! checked against the shipped dialogs as `colloquy test` does.

#![no_main]

use std::path::Path;

use colloquy::testing::script;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let mut file = script::parse(Path::new("fuzz.yaml"), source);
    colloquy_fuzz::check_diagnostics(source, &file.diagnostics);
    script::check_against(&mut file, colloquy_fuzz::registry());
    colloquy_fuzz::check_diagnostics(source, &file.diagnostics);
    let _ = file.report();
});

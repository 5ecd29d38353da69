//! Branch conditions: YAML (`{ var: total, gt: { var: budget } }`, `all:`/`any:` lists) read
//! as a dialog's `if:` is, then evaluated against a context whose values follow the first NUL
//! byte. A condition alone in `all:` or `any:` means the same as on its own.

#![no_main]

use colloquy::dialog::condition::{self, Condition};
use colloquy::reader::Diagnostics;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, values) = text.split_once('\0').unwrap_or((text, ""));
    let Ok(tree) = colloquy::yaml::parse(source) else {
        return;
    };
    let mut d = Diagnostics::default();
    let mut vars = Vec::new();
    let read = condition::read(&tree, &mut d, &mut vars);
    colloquy_fuzz::check_diagnostics(source, &d.items);
    let Some(condition) = read else {
        assert!(d.has_errors(), "no condition and no error");
        return;
    };
    let mut used = Vec::new();
    condition.variables(&mut used);
    for name in &used {
        assert!(vars.iter().any(|(v, _)| v == name), "{name} not recorded");
    }
    let context = colloquy_fuzz::context(values);
    let now = colloquy_fuzz::now();
    let verdict = condition.eval(&context, now);
    assert_eq!(
        Condition::All(vec![condition.clone()]).eval(&context, now),
        verdict
    );
    assert_eq!(Condition::Any(vec![condition]).eval(&context, now), verdict);
});

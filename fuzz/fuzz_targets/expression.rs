//! Expressions of `set` nodes (minijinja, a strict environment with a fuel limit): compiled,
//! then evaluated against a context whose values follow the first NUL byte. Errors have
//! messages; fuel keeps every evaluation short.

#![no_main]

use colloquy::dialog::expression::Expression;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, values) = text.split_once('\0').unwrap_or((text, ""));
    let expression = match Expression::compile(source) {
        Ok(expression) => expression,
        Err(error) => {
            assert!(!error.0.is_empty());
            return;
        }
    };
    assert_eq!(expression.source(), source);
    let _ = expression.variables();
    let context = colloquy_fuzz::context(values);
    if let Err(error) = expression.eval(&context, colloquy_fuzz::now()) {
        assert!(!error.0.is_empty());
    }
});

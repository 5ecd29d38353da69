//! The dialog loader: YAML text (and, after a NUL byte, a Fluent translation of it) → a
//! validated `Dialog` or diagnostics, never both missing and never a panic.

#![no_main]

use colloquy::dialog::locale::TranslationSource;
use colloquy::dialog::{LoadEnv, load_translated};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, translation) = match text.split_once('\0') {
        Some((source, ftl)) => (source, Some(ftl)),
        None => (text, None),
    };
    let translations: Vec<TranslationSource> = translation
        .map(|ftl| TranslationSource {
            locale: "fr".to_owned(),
            source: ftl.to_owned(),
        })
        .into_iter()
        .collect();
    let env = LoadEnv {
        services: ["bookings".to_owned()].into_iter().collect(),
    };
    let loaded = load_translated(source, &env, &translations);
    colloquy_fuzz::check_diagnostics(source, &loaded.diagnostics);
    for (locale, diagnostics) in &loaded.translation_diagnostics {
        assert!(!locale.is_empty());
        colloquy_fuzz::check_diagnostics(translation.unwrap_or(""), diagnostics);
    }
    let errors = loaded.diagnostics.iter().any(|d| d.is_error());
    let translation_errors = loaded
        .translation_diagnostics
        .values()
        .flatten()
        .any(|d| d.is_error());
    match &loaded.dialog {
        Some(dialog) => {
            assert!(
                !errors && !translation_errors,
                "a dialog loaded despite errors: {loaded:?}"
            );
            // What `colloquy check` and `graph` do with a dialog that loads.
            let _ = dialog.edges();
            let mut lints = colloquy::reader::Diagnostics::default();
            colloquy::dialog::lint::check(dialog, &mut lints);
            colloquy_fuzz::check_diagnostics(source, &lints.items);
            for diagnostic in &lints.items {
                let _ = diagnostic.render(std::path::Path::new("fuzz.yaml"));
            }
        }
        None => assert!(errors || translation_errors, "no dialog and no error"),
    }
});

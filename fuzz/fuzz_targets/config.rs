//! The configuration file: YAML with environment overrides (`COLLOQUY__…`, after the first
//! NUL byte as NUL-separated `NAME=value` pairs) → a validated `Config` or an error that
//! says where and what.

#![no_main]

use colloquy::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, env) = text.split_once('\0').unwrap_or((text, ""));
    let env: Vec<(String, String)> = env
        .split('\0')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (format!("COLLOQUY__{name}"), value.to_owned()))
        .collect();
    match Config::from_source(source, "fuzz.yaml", env) {
        Ok(config) => {
            let _ = config.load_env();
            let _ = config.auth.validate();
            let _ = config.kore.validate();
            let _ = config.dialogs.place();
        }
        Err(error) => {
            assert!(!error.message.is_empty());
            assert!(!error.origin.is_empty());
        }
    }
});

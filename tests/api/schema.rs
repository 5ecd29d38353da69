//! The dialog JSON Schema: the committed file is what `colloquy schema` writes, every shipped
//! dialog passes it, and it refuses what the loader refuses about structure.

use crate::helpers::dialogs_dir;

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dialogs_dir().join("dialog.schema.json")).expect("committed"),
    )
    .expect("JSON");
    jsonschema::validator_for(&schema).expect("a valid schema")
}

fn json_of(yaml: &str) -> serde_json::Value {
    colloquy::yaml::parse(yaml).expect("YAML").value.to_json()
}

#[test]
fn the_committed_schema_is_the_one_the_loader_describes() {
    let committed =
        std::fs::read_to_string(dialogs_dir().join("dialog.schema.json")).expect("committed");
    assert!(
        committed == colloquy::dialog::schema::rendered(),
        "dialogs/dialog.schema.json is stale: run `cargo run -- schema > dialogs/dialog.schema.json`"
    );
}

#[test]
fn every_shipped_dialog_passes_it_and_names_it() {
    let validator = validator();
    let mut checked = 0;
    for entry in std::fs::read_dir(dialogs_dir()).expect("dialogs") {
        let path = entry.expect("an entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("readable");
        assert!(
            source.starts_with("# yaml-language-server: $schema=dialog.schema.json\n"),
            "{} lacks the schema modeline",
            path.display()
        );
        let errors: Vec<String> = validator
            .iter_errors(&json_of(&source))
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        checked += 1;
    }
    assert!(checked >= 2);
}

#[test]
fn it_refuses_broken_structure() {
    let validator = validator();
    let good = "\
id: d
version: 1
start: hello
nodes:
  hello:
    say: Hi
    next: bye
  bye:
    end: done
";
    assert!(validator.is_valid(&json_of(good)));
    for broken in [
        good.replace("    next: bye", "    nxt: bye"),
        good.replace("    say: Hi", "    say: Hi\n    entity: emale"),
        good.replace("version: 1\n", ""),
        good.replace("    end: done", "    end: done\n    colour: red"),
        good.replace(
            "  bye:\n    end: done",
            "  bye:\n    ask: Hi\n    entity: emale",
        ),
        good.replace("  bye:\n    end: done", "  bye:\n    action: otp.sned"),
        format!("{good}extra: true\n"),
    ] {
        assert!(!validator.is_valid(&json_of(&broken)), "{broken}");
    }
}

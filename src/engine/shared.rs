//! What a turn does so that several instances sharing one store behave as one: take the
//! session's lease after the local lock, archive the dialog version a session starts on, and
//! load an archived version that this instance's files no longer have. With the in-memory
//! store the lease is a no-op and the archive keeps nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::dialog::locale::TranslationSource;
use crate::dialog::{Dialog, load_translated, load_untranslated};
use crate::store::Lease;

use super::{Engine, EngineError};

impl Engine {
    /// Takes the session's lease, waiting what is left of `limits.queue_timeout` since the
    /// turn arrived (the local queue counts against the same budget).
    pub(super) async fn take_lease(
        &self,
        session_id: &str,
        arrived: Instant,
    ) -> Result<Lease, EngineError> {
        let wait = self
            .settings
            .queue_timeout
            .saturating_sub(arrived.elapsed());
        match self.lease.acquire(session_id, wait).await? {
            Some(lease) => Ok(lease),
            None => {
                tracing::warn!("session busy on another instance: turn refused");
                Err(EngineError::SessionBusy)
            }
        }
    }

    /// Makes sure the source of the version a session starts on outlives this process.
    pub(super) async fn archive_version(&self, dialog: &Dialog) -> Result<(), EngineError> {
        Ok(self
            .archive
            .keep(&dialog.id, dialog.version, &|| archived(dialog))
            .await?)
    }

    /// The dialog version a running session started on: from the registry, else from the
    /// archive (validated like a file, then added to the registry for the next turns).
    pub(super) async fn dialog_version(
        &self,
        id: &str,
        version: u32,
    ) -> Result<Arc<Dialog>, EngineError> {
        if let Some(dialog) = self.dialogs().get(id, version) {
            return Ok(dialog.clone());
        }
        let gone = || EngineError::DialogVersionGone {
            id: id.to_owned(),
            version,
        };
        let Some(source) = self.archive.fetch(id, version).await? else {
            return Err(gone());
        };
        let loaded = match serde_json::from_str::<Bundle>(&source) {
            Ok(bundle) if bundle.archived_dialog == ARCHIVE_FORMAT => {
                let translations: Vec<TranslationSource> = bundle
                    .translations
                    .into_iter()
                    .map(|(locale, source)| TranslationSource { locale, source })
                    .collect();
                load_translated(&bundle.yaml, &self.load_env, &translations)
            }
            // A version archived with no translations, or before they were archived: its
            // YAML alone, in its default language.
            _ => load_untranslated(&source, &self.load_env),
        };
        let Some(dialog) = loaded
            .dialog
            .filter(|dialog| dialog.id == id && dialog.version == version)
        else {
            tracing::error!(
                dialog = id,
                version,
                errors = loaded.diagnostics.len(),
                "the archived source of a dialog version does not load"
            );
            return Err(gone());
        };
        let mut current = self.dialogs.write().unwrap_or_else(PoisonError::into_inner);
        // Another turn may have restored it meanwhile; the registry keeps the first.
        if let Some(dialog) = current.get(id, version) {
            return Ok(dialog.clone());
        }
        let mut next = (**current).clone();
        next.insert_archived(dialog);
        let restored = next.get(id, version).cloned().ok_or_else(gone)?;
        *current = Arc::new(next);
        tracing::info!(
            dialog = id,
            version,
            "loaded a dialog version from the archive for a session that started on it"
        );
        Ok(restored)
    }
}

/// The format of an archived version that has translations.
const ARCHIVE_FORMAT: u32 = 1;

/// A dialog version with its Fluent files, as the archive keeps it. A version without
/// translations is archived as its YAML alone (as every version once was), so both read back.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    archived_dialog: u32,
    yaml: String,
    /// Locale → the Fluent file's text.
    translations: BTreeMap<String, String>,
}

/// What the archive keeps of `dialog`.
fn archived(dialog: &Dialog) -> String {
    if dialog.translation_sources.is_empty() {
        return dialog.source.to_string();
    }
    let bundle = Bundle {
        archived_dialog: ARCHIVE_FORMAT,
        yaml: dialog.source.to_string(),
        translations: dialog
            .translation_sources
            .iter()
            .map(|t| (t.locale.clone(), t.source.clone()))
            .collect(),
    };
    serde_json::to_string(&bundle).unwrap_or_else(|_| dialog.source.to_string())
}

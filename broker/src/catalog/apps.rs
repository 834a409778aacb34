//! Installing apps from bundles: the one path for `POST /rest/app` and the sample apps
//! `outpost up` installs.

use outpost_proto::OutpostError;

use crate::Broker;
use crate::access::audit::{Actor, AuditObject, app_fields};
use crate::catalog::bundle;
use crate::store::apps::{App, Installed};

impl Broker {
    /// Checks a bundle and installs (or upgrades) its app, audited as `who`'s.
    pub async fn install_app(&self, who: &Actor, bundle_bytes: &[u8]) -> Result<(App, Installed), OutpostError> {
        if let Err(e) = bundle::check_size(bundle_bytes.len()) {
            return Err(OutpostError::new(outpost_proto::ErrorCode::PayloadTooLarge, e.to_string()));
        }
        let bytes = bundle_bytes.to_vec();
        // Validating a multi-megabyte component takes milliseconds: keep it off the
        // async threads.
        let bundle = tokio::task::spawn_blocking(move || bundle::read(&bytes))
            .await
            .map_err(|e| OutpostError::internal(format!("bundle check failed: {e}")))?
            .map_err(|e| OutpostError::invalid(e.to_string()))?;
        let (app, installed) = self.store.install_app(&bundle.manifest, &bundle.digest, &bundle.component).await?;
        self.audit_app_install(who, &app, installed).await;
        Ok((app, installed))
    }

    /// Records an app install or upgrade (an unchanged re-install records nothing).
    async fn audit_app_install(&self, who: &Actor, app: &App, installed: Installed) {
        match installed {
            Installed::Created => {
                self.audit.record_change(who, AuditObject::app(app), None, Some(&app_fields(app))).await
            }
            Installed::Upgraded => {
                let previous = app.known_versions.last().map(String::as_str);
                let object = AuditObject::app(app);
                self.audit.record_field(who, object, "app_version", previous, Some(&app.app_version), "upgraded").await;
            }
            Installed::Unchanged => {}
        }
    }
}

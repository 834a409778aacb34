//! `RegistryService`: apps, assets, containers and artifacts over gRPC, through the same
//! broker functions (and so the same checks and messages) as REST. Reads of a container
//! (`GetContainer`, `ListArtifacts` of one container) are audited as REST's are.

use std::collections::HashMap;

use outpost_proto::OutpostError;
use outpost_proto::v1::{self as pb, registry_service_server::RegistryService};
use serde_json::Value;
use tonic::{Request, Response, Status};

use outpost_proto::time::{from_timestamp, timestamp, timestamp_opt};

use super::{Api, list_query};
use crate::access::audit::{Actor, AuditObject};
use crate::access::auth::Principal;
use crate::catalog::artifacts::ArtifactInput;
use crate::catalog::assets::{AssetInput, masked};
use crate::catalog::containers::{ContainerInput, content_hash};
use crate::listing::Value as FilterValue;
use crate::store::apps::{App, Installed};
use crate::store::artifacts::{Artifact, Created};
use crate::store::assets::Asset;
use crate::store::collections::{APPS, ARTIFACTS, ASSETS, CONTAINERS, Named};
use crate::store::containers::Container;

fn store_error(e: crate::store::StoreError) -> Status {
    OutpostError::from(e).into()
}

/// Parses a `*_json` field that must hold a JSON object.
fn json_object(field: &str, text: Option<String>) -> Result<Option<Value>, OutpostError> {
    match text {
        None => Ok(None),
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(value @ Value::Object(_)) => Ok(Some(value)),
            Ok(other) => Err(OutpostError::invalid(format!(
                "'{field}' must be a JSON object, got {}",
                outpost_proto::manifest::json_type(&other)
            ))),
            Err(e) => Err(OutpostError::invalid(format!("'{field}' is not JSON: {e}"))),
        },
    }
}

/// Checks the `clear` list of an update against the fields that may be cleared.
fn clears(clear: &[String], allowed: &[&str]) -> Result<Vec<String>, OutpostError> {
    for field in clear {
        if !allowed.contains(&field.as_str()) {
            return Err(OutpostError::invalid(format!("cannot clear '{field}' (clearable: {})", allowed.join(", "))));
        }
    }
    Ok(clear.to_vec())
}

pub(super) fn app_pb(app: &App) -> pb::App {
    let m = &app.manifest;
    pb::App {
        id: app.id,
        appid: app.appid.clone(),
        name: app.name.clone(),
        app_version: app.app_version.clone(),
        description: m.description.clone(),
        product_vendor: m.product_vendor.clone(),
        product_name: m.product_name.clone(),
        publisher: m.publisher.clone(),
        license: m.license.clone(),
        known_versions: app.known_versions.clone(),
        digest: app.digest.clone(),
        manifest_json: serde_json::to_string(m).unwrap_or_default(),
        create_time: Some(timestamp(app.created_ms)),
        update_time: Some(timestamp(app.updated_ms)),
    }
}

fn asset_pb(asset: &Asset, app: Option<&App>) -> pb::Asset {
    let secrets: Vec<&str> = app.map(|a| a.manifest.secret_fields()).unwrap_or_default();
    pb::Asset {
        id: asset.id,
        name: asset.name.clone(),
        description: asset.description.clone(),
        app: asset.app_id,
        app_name: app.map(|a| a.name.clone()).unwrap_or_default(),
        product_vendor: app.map(|a| a.manifest.product_vendor.clone()).unwrap_or_default(),
        product_name: app.map(|a| a.manifest.product_name.clone()).unwrap_or_default(),
        configuration_json: masked(&asset.configuration, &secrets).to_string(),
        automation_broker_id: asset.automation_broker_id,
        tags: asset.tags.clone(),
        create_time: Some(timestamp(asset.created_ms)),
        update_time: Some(timestamp(asset.updated_ms)),
        timeout_secs: asset.timeout_secs.and_then(|secs| i64::try_from(secs).ok()),
    }
}

fn container_pb(c: &Container, users: &HashMap<i64, String>, assets: &HashMap<i64, String>) -> pb::Container {
    pb::Container {
        id: c.id,
        version: c.version,
        label: c.label.clone(),
        name: c.name.clone(),
        source_data_identifier: c.source_data_identifier.clone(),
        description: c.description.clone(),
        status: c.status.clone(),
        sensitivity: c.sensitivity.clone(),
        severity: c.severity.clone(),
        create_time: Some(timestamp(c.create_ms)),
        start_time: Some(timestamp(c.start_ms)),
        end_time: timestamp_opt(c.end_ms),
        due_time: timestamp_opt(c.due_ms),
        close_time: timestamp_opt(c.close_ms),
        kill_chain: c.kill_chain.clone(),
        owner_id: c.owner_id,
        owner: c.owner_id.and_then(|id| users.get(&id).cloned()).unwrap_or_default(),
        hash: content_hash(&c.data),
        tags: c.tags.clone(),
        asset: c.asset_id,
        asset_name: c.asset_id.and_then(|id| assets.get(&id).cloned()).unwrap_or_default(),
        artifact_update_time: timestamp_opt(c.artifact_update_ms),
        container_update_time: Some(timestamp(c.update_ms)),
        ingest_app_id: c.ingest_app_id,
        data_json: c.data.to_string(),
        custom_fields_json: c.custom_fields.to_string(),
        artifact_count: c.artifact_count,
    }
}

fn artifact_pb(a: &Artifact) -> pb::Artifact {
    pb::Artifact {
        id: a.id,
        container: a.container_id,
        name: a.name.clone(),
        label: a.label.clone(),
        description: a.description.clone(),
        r#type: a.artifact_type.clone(),
        severity: a.severity.clone(),
        source_data_identifier: a.source_data_identifier.clone(),
        cef_json: a.cef.to_string(),
        cef_types_json: a.cef_types.to_string(),
        data_json: a.data.to_string(),
        tags: a.tags.clone(),
        hash: content_hash(&a.cef),
        owner_id: a.owner_id,
        create_time: Some(timestamp(a.create_ms)),
        update_time: Some(timestamp(a.update_ms)),
        start_time: Some(timestamp(a.start_ms)),
        end_time: timestamp_opt(a.end_ms),
        version: a.version,
    }
}

fn asset_input(input: Option<pb::AssetInput>) -> Result<AssetInput, OutpostError> {
    let input = input.unwrap_or_default();
    let configuration = match json_object("configuration_json", input.configuration_json)? {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    Ok(AssetInput {
        name: input.name,
        app: input.app,
        product_vendor: input.product_vendor,
        product_name: input.product_name,
        description: input.description,
        configuration,
        automation_broker_id: input.automation_broker_id.map(Some),
        tags: input.tags.map(|t| t.values),
        timeout_secs: input.timeout_secs.map(Some),
    })
}

fn container_input(input: Option<pb::ContainerInput>, clear: &[String]) -> Result<ContainerInput, OutpostError> {
    let input = input.unwrap_or_default();
    let cleared = |field: &str| clear.iter().any(|c| c == field);
    let nullable = |field: &str, value: Option<i64>| if cleared(field) { Some(None) } else { value.map(Some) };
    let time = |field: &str, value: Option<prost_types::Timestamp>| {
        if cleared(field) { Some(None) } else { value.map(|t| Some(from_timestamp(&t))) }
    };
    Ok(ContainerInput {
        name: input.name,
        label: input.label,
        description: input.description,
        status: input.status,
        severity: input.severity,
        sensitivity: input.sensitivity,
        source_data_identifier: input.source_data_identifier,
        owner_id: nullable("owner_id", input.owner_id),
        tags: input.tags.map(|t| t.values),
        data: json_object("data_json", input.data_json)?,
        kill_chain: input.kill_chain,
        asset_id: nullable("asset_id", input.asset_id),
        ingest_app_id: nullable("ingest_app_id", input.ingest_app_id),
        custom_fields: json_object("custom_fields_json", input.custom_fields_json)?,
        due_ms: time("due_time", input.due_time),
        start_ms: input.start_time.map(|t| from_timestamp(&t)),
        end_ms: time("end_time", input.end_time),
    })
}

impl Api {
    /// Records a successful read of a container (or of its artifacts), as REST's reads of
    /// `/rest/container/<id>...` are: noted `grpc:/outpost.v1.RegistryService/<method>`.
    async fn audit_read(&self, who: &Principal, container: &Container, method: &str) {
        let note = format!("grpc:/outpost.v1.RegistryService/{method}");
        self.broker.audit.record_read(who, AuditObject::container(container), &note).await;
    }

    async fn assets_pb(&self, assets: &[Asset]) -> Result<Vec<pb::Asset>, Status> {
        let mut apps: HashMap<i64, Option<App>> = HashMap::new();
        for asset in assets {
            if let std::collections::hash_map::Entry::Vacant(entry) = apps.entry(asset.app_id) {
                entry.insert(self.broker.store.get_app(asset.app_id).await.map_err(store_error)?);
            }
        }
        Ok(assets.iter().map(|a| asset_pb(a, apps.get(&a.app_id).and_then(Option::as_ref))).collect())
    }

    async fn containers_pb(&self, containers: &[Container]) -> Result<Vec<pb::Container>, Status> {
        let store = &self.broker.store;
        let users =
            store.names(Named::User, containers.iter().filter_map(|c| c.owner_id)).await.map_err(store_error)?;
        let assets =
            store.names(Named::Asset, containers.iter().filter_map(|c| c.asset_id)).await.map_err(store_error)?;
        Ok(containers.iter().map(|c| container_pb(c, &users, &assets)).collect())
    }
}

#[tonic::async_trait]
impl RegistryService for Api {
    async fn list_apps(&self, request: Request<pb::ListAppsRequest>) -> Result<Response<pb::ListAppsResponse>, Status> {
        self.principal(&request).await?;
        let query = list_query(&APPS, request.into_inner().query)?;
        let listing = self.broker.store.list_apps_by(&query).await.map_err(store_error)?;
        Ok(Response::new(pb::ListAppsResponse {
            count: listing.count,
            num_pages: listing.num_pages,
            data: listing.data.iter().map(app_pb).collect(),
        }))
    }

    async fn get_app(&self, request: Request<pb::GetAppRequest>) -> Result<Response<pb::App>, Status> {
        self.principal(&request).await?;
        let id = request.get_ref().id;
        let app = self.broker.store.get_app(id).await.map_err(store_error)?;
        let app = app.ok_or_else(|| OutpostError::not_found(format!("app {id} not found")))?;
        Ok(Response::new(app_pb(&app)))
    }

    async fn install_app(
        &self,
        request: Request<pb::InstallAppRequest>,
    ) -> Result<Response<pb::InstallAppResponse>, Status> {
        let who = Actor::from(&self.principal(&request).await?);
        let (app, installed) = self.broker.install_app(&who, &request.get_ref().bundle).await?;
        let (outcome, message) = match installed {
            Installed::Created => ("created", format!("app '{}' {} installed", app.name, app.app_version)),
            Installed::Upgraded => ("upgraded", format!("app '{}' upgraded to {}", app.name, app.app_version)),
            Installed::Unchanged => {
                ("unchanged", format!("app '{}' {} was installed already", app.name, app.app_version))
            }
        };
        Ok(Response::new(pb::InstallAppResponse { app: Some(app_pb(&app)), outcome: outcome.into(), message }))
    }

    async fn list_assets(
        &self,
        request: Request<pb::ListAssetsRequest>,
    ) -> Result<Response<pb::ListAssetsResponse>, Status> {
        self.principal(&request).await?;
        let query = list_query(&ASSETS, request.into_inner().query)?;
        let listing = self.broker.store.list_assets_by(&query).await.map_err(store_error)?;
        let data = self.assets_pb(&listing.data).await?;
        Ok(Response::new(pb::ListAssetsResponse { count: listing.count, num_pages: listing.num_pages, data }))
    }

    async fn get_asset(&self, request: Request<pb::GetAssetRequest>) -> Result<Response<pb::Asset>, Status> {
        self.principal(&request).await?;
        let asset = self.broker.asset(request.get_ref().id).await?;
        Ok(Response::new(self.assets_pb(std::slice::from_ref(&asset)).await?.remove(0)))
    }

    async fn create_asset(&self, request: Request<pb::CreateAssetRequest>) -> Result<Response<pb::Asset>, Status> {
        let who = Actor::from(&self.principal(&request).await?);
        let asset = self.broker.create_asset(&who, asset_input(request.into_inner().asset)?).await?;
        Ok(Response::new(self.assets_pb(std::slice::from_ref(&asset)).await?.remove(0)))
    }

    async fn update_asset(&self, request: Request<pb::UpdateAssetRequest>) -> Result<Response<pb::Asset>, Status> {
        let who = Actor::from(&self.principal(&request).await?);
        let r = request.into_inner();
        let mut input = asset_input(r.asset)?;
        for field in clears(&r.clear, &["automation_broker_id", "timeout_secs"])? {
            match field.as_str() {
                "timeout_secs" => input.timeout_secs = Some(None),
                _ => input.automation_broker_id = Some(None),
            }
        }
        let asset = self.broker.update_asset(&who, r.id, input).await?;
        Ok(Response::new(self.assets_pb(std::slice::from_ref(&asset)).await?.remove(0)))
    }

    async fn delete_asset(
        &self,
        request: Request<pb::DeleteAssetRequest>,
    ) -> Result<Response<pb::DeleteAssetResponse>, Status> {
        let who = Actor::from(&self.principal(&request).await?);
        let asset = self.broker.delete_asset(&who, request.get_ref().id).await?;
        let message = format!("asset '{}' deleted", asset.name);
        Ok(Response::new(pb::DeleteAssetResponse { asset: self.assets_pb(&[asset]).await?.pop(), message }))
    }

    async fn list_containers(
        &self,
        request: Request<pb::ListContainersRequest>,
    ) -> Result<Response<pb::ListContainersResponse>, Status> {
        self.principal(&request).await?;
        let query = list_query(&CONTAINERS, request.into_inner().query)?;
        let listing = self.broker.store.list_containers(&query).await.map_err(store_error)?;
        let data = self.containers_pb(&listing.data).await?;
        Ok(Response::new(pb::ListContainersResponse { count: listing.count, num_pages: listing.num_pages, data }))
    }

    async fn get_container(
        &self,
        request: Request<pb::GetContainerRequest>,
    ) -> Result<Response<pb::Container>, Status> {
        let who = self.principal(&request).await?;
        let container = self.broker.container(request.get_ref().id).await?;
        self.audit_read(&who, &container, "GetContainer").await;
        Ok(Response::new(self.containers_pb(&[container]).await?.remove(0)))
    }

    async fn create_container(
        &self,
        request: Request<pb::CreateContainerRequest>,
    ) -> Result<Response<pb::Container>, Status> {
        let who = Actor::from(&self.principal(&request).await?);
        let container =
            self.broker.create_container(&who, container_input(request.into_inner().container, &[])?).await?;
        Ok(Response::new(self.containers_pb(&[container]).await?.remove(0)))
    }

    async fn update_container(
        &self,
        request: Request<pb::UpdateContainerRequest>,
    ) -> Result<Response<pb::Container>, Status> {
        let who = Actor::from(&self.principal(&request).await?);
        let r = request.into_inner();
        let clear = clears(&r.clear, &["owner_id", "asset_id", "ingest_app_id", "due_time", "end_time"])?;
        let container = self.broker.update_container(&who, r.id, container_input(r.container, &clear)?).await?;
        Ok(Response::new(self.containers_pb(&[container]).await?.remove(0)))
    }

    async fn create_artifact(
        &self,
        request: Request<pb::CreateArtifactRequest>,
    ) -> Result<Response<pb::Artifact>, Status> {
        let who = Actor::from(&self.principal(&request).await?);
        let a = request.into_inner().artifact.unwrap_or_default();
        let input = ArtifactInput {
            container_id: Some(a.container_id).filter(|id| *id != 0),
            name: a.name,
            label: a.label,
            description: a.description,
            artifact_type: a.r#type,
            severity: a.severity,
            source_data_identifier: a.source_data_identifier,
            cef: json_object("cef_json", a.cef_json)?,
            cef_types: json_object("cef_types_json", a.cef_types_json)?,
            data: json_object("data_json", a.data_json)?,
            tags: Some(a.tags),
            owner_id: a.owner_id,
            start_ms: a.start_time.map(|t| from_timestamp(&t)),
            end_ms: a.end_time.map(|t| from_timestamp(&t)),
        };
        match self.broker.create_artifact(&who, input).await? {
            Created::New(artifact) => Ok(Response::new(artifact_pb(&artifact))),
            Created::Existing(id) => Err(OutpostError::conflict(format!(
                "artifact already exists: {id} has that source_data_identifier in the container"
            ))
            .into()),
        }
    }

    async fn list_artifacts(
        &self,
        request: Request<pb::ListArtifactsRequest>,
    ) -> Result<Response<pb::ListArtifactsResponse>, Status> {
        let who = self.principal(&request).await?;
        let r = request.into_inner();
        let mut query = list_query(&ARTIFACTS, r.query)?;
        let container = match r.container_id {
            0 => None,
            id => Some(self.broker.container(id).await?),
        };
        if let Some(container) = &container {
            query = query.with_eq("container", FilterValue::Int(container.id));
        }
        let listing = self.broker.store.list_artifacts(&query).await.map_err(store_error)?;
        if let Some(container) = &container {
            self.audit_read(&who, container, "ListArtifacts").await;
        }
        Ok(Response::new(pb::ListArtifactsResponse {
            count: listing.count,
            num_pages: listing.num_pages,
            data: listing.data.iter().map(artifact_pb).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_and_clears_are_checked() {
        assert!(
            json_object("data_json", Some("[1]".into()))
                .unwrap_err()
                .message
                .contains("must be a JSON object, got a list")
        );
        assert!(json_object("data_json", Some("{".into())).unwrap_err().message.contains("is not JSON"));
        assert_eq!(json_object("data_json", None).unwrap(), None);
        assert!(clears(&["name".into()], &["owner_id"]).unwrap_err().message.contains("cannot clear 'name'"));
        let input =
            container_input(Some(pb::ContainerInput { owner_id: Some(3), ..Default::default() }), &["due_time".into()])
                .unwrap();
        assert_eq!((input.owner_id, input.due_ms), (Some(Some(3)), Some(None)));
    }
}

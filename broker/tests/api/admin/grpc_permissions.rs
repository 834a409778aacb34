//! gRPC: every method the broker serves against every role, and audited reads and runs.

use std::time::Duration;

use outpost_tests::broker::TestBroker;
use outpost_tests::fake_worker::{connectivity, fake_worker};
use outpost_tests::grpc;
use outpost_tests::rest::Auth;
use serde_json::json;

use super::app_and_asset;
use super::permissions::Who;

/// Sends any message as bytes: an empty message is a valid request of every method.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let bytes = bytes::Buf::copy_to_bytes(src, bytes::Buf::remaining(src));
        Ok(Some(bytes.to_vec()))
    }
}

/// Calls a method with an empty message; answers the status code of its first answer
/// (`Ok` when the first message came).
async fn call_empty(channel: &tonic::transport::Channel, method: &str, auth: &Auth) -> tonic::Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(tokio_stream::once(Vec::<u8>::new()));
    match auth {
        Auth::None => {}
        Auth::Token(t) => {
            request.metadata_mut().insert("ph-auth-token", t.parse().unwrap());
        }
        Auth::Basic(user, password) => {
            request.metadata_mut().insert("authorization", grpc::authorization(user, password));
        }
    }
    let path = http::uri::PathAndQuery::try_from(method).unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), async {
        match grpc.streaming(request, path, RawCodec).await {
            Err(status) => status.code(),
            Ok(response) => match response.into_inner().message().await {
                Ok(_) => tonic::Code::Ok,
                Err(status) => status.code(),
            },
        }
    })
    .await;
    answer.unwrap_or_else(|_| panic!("{method} did not answer"))
}

/// Every method the broker serves, from the descriptors it registers for reflection.
fn grpc_methods() -> Vec<String> {
    use prost::Message;
    let mut methods = vec!["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_string()];
    for set in [outpost_proto::v1::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET] {
        let set = prost_types::FileDescriptorSet::decode(set).unwrap();
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.push(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                }
            }
        }
    }
    methods
}

/// The words for gRPC: the same roles as REST; the health check for anyone, the
/// component fetch for workers only, reflection for any signed-in user.
fn grpc_allowed(who: Who, method: &str) -> bool {
    let name = method.rsplit('/').next().unwrap();
    let read = ["Get", "List", "Watch"].iter().any(|p| name.starts_with(p));
    match who {
        _ if method.starts_with("/grpc.health.v1.") => true,
        _ if name == "FetchApp" => false,
        Who::Anonymous => false,
        _ if method.starts_with("/grpc.reflection.") => true,
        Who::NoRole => false,
        Who::Observer => read,
        Who::Automation => read || ["RunAction", "CancelActionRun"].contains(&name),
        Who::Administrator => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_meets_every_grpc_method() {
    let h = TestBroker::start_with(|_| {}).await;
    let (_, observer) = h.user("olga", "observer-password", &["Observer"]).await;
    let (_, automation) = h.user("auto", "automation-password", &["Automation"]).await;
    let (_, no_role) = h.user("nobody", "nobody-password", &[]).await;
    let principals = [
        (Who::Anonymous, Auth::None),
        (Who::NoRole, no_role),
        (Who::Observer, observer),
        (Who::Automation, automation),
        (Who::Administrator, Auth::admin()),
    ];
    let channel = grpc::channel(&h.grpc_url).await;
    let methods = grpc_methods();
    for expected in [
        "/outpost.v1.ActionService/RunAction",
        "/outpost.v1.RegistryService/InstallApp",
        "/outpost.v1.RegistryService/ListArtifacts",
        "/grpc.health.v1.Health/Check",
    ] {
        assert!(methods.iter().any(|m| m == expected), "{expected} in {methods:?}");
    }
    let mut checked = 0;
    for method in &methods {
        let required = outpost_broker::access::permissions::grpc_required(method);
        for (who, auth) in &principals {
            let code = call_empty(&channel, method, auth).await;
            let context = format!("{who:?} {method} ({required:?}): {code:?}");
            if method.ends_with("/FetchApp") {
                assert_eq!(code, tonic::Code::Unauthenticated, "{context}: the worker token only");
            } else if grpc_allowed(*who, method) {
                assert!(
                    ![
                        tonic::Code::Unauthenticated,
                        tonic::Code::PermissionDenied,
                        tonic::Code::Internal,
                        tonic::Code::Unknown
                    ]
                    .contains(&code),
                    "{context}"
                );
            } else if *who == Who::Anonymous {
                assert_eq!(code, tonic::Code::Unauthenticated, "{context}");
            } else {
                assert_eq!(code, tonic::Code::PermissionDenied, "{context}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, methods.len() * principals.len());
    // Refusals over gRPC are audited as over REST.
    let denied = h.ok("/rest/audit?authentication=*", &Auth::admin()).await;
    let notes: Vec<&str> = denied.as_array().unwrap().iter().filter_map(|r| r["NOTE"].as_str()).collect();
    for expected in ["actions:execute:Failed", "apps:edit:Failed", "containers:edit:Failed", "assets:view:Failed"] {
        assert!(notes.contains(&expected), "{expected} in {notes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_reads_of_containers_and_runs_are_audited() {
    use outpost_proto::v1::action_service_client::ActionServiceClient;
    use outpost_proto::v1::registry_service_client::RegistryServiceClient;
    use outpost_proto::v1::{GetContainerRequest, ListArtifactsRequest, RunActionRequest, Target};
    let h = TestBroker::start_with(|_| {}).await;
    fake_worker(h.bus.clone(), connectivity);
    let (bot, bot_token) = h.user("bot", "bot-password", &["Automation"]).await;
    let Auth::Token(key) = bot_token else { unreachable!() };
    let (app, asset) = app_and_asset(&h, "geo").await;
    let container = h.container("case").await;
    let channel = grpc::channel(&h.grpc_url).await;
    fn with_token<T>(key: &str, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("ph-auth-token", key.parse().unwrap());
        request
    }
    let mut registry = RegistryServiceClient::new(channel.clone());
    registry.get_container(with_token(&key, GetContainerRequest { id: container })).await.unwrap();
    registry
        .list_artifacts(with_token(&key, ListArtifactsRequest { container_id: container, query: None }))
        .await
        .unwrap();
    registry.list_artifacts(with_token(&key, ListArtifactsRequest { container_id: 0, query: None })).await.unwrap();
    assert!(registry.get_container(with_token(&key, GetContainerRequest { id: 999_999 })).await.is_err());

    let mut actions = ActionServiceClient::new(channel);
    let run = actions
        .run_action(with_token(
            &key,
            RunActionRequest {
                action: "lookup".into(),
                container_id: container,
                targets: vec![Target {
                    app_id: app.to_string(),
                    assets: vec![asset.to_string()],
                    parameters_json: vec![json!({"ip": "8.8.8.8"}).to_string()],
                }],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();

    let audit = h.ok(&format!("/rest/container/{container}/audit?sort=asc"), &Auth::admin()).await;
    let records = audit.as_array().unwrap();
    let grpc_reads: Vec<&str> = records
        .iter()
        .filter(|r| r["NOTE"].as_str().unwrap().starts_with("grpc:"))
        .map(|r| r["NOTE"].as_str().unwrap())
        .collect();
    assert_eq!(
        grpc_reads,
        ["grpc:/outpost.v1.RegistryService/GetContainer", "grpc:/outpost.v1.RegistryService/ListArtifacts"],
        "reads of the container, as REST's are; not the list of every container's artifacts"
    );
    for read in records.iter().filter(|r| r["NOTE"].as_str().unwrap().starts_with("grpc:")) {
        assert_eq!((read["USER ID"].as_i64(), read["USER"].as_str()), (Some(bot), Some("bot")));
        assert_eq!((read["OBJECT TYPE"].as_str(), read["OBJECT ID"].as_i64()), (Some("container"), Some(container)));
        assert_eq!(read["IP ADDRESS"], "127.0.0.1");
    }
    let action_run = records
        .iter()
        .find(|r| r["AUDIT SOURCE"] == "Action Run")
        .unwrap_or_else(|| panic!("a gRPC RunAction leaves an Action Run record: {audit}"));
    assert_eq!(action_run["AUDIT ID"], run.action_run_id);
    assert_eq!(
        (action_run["USER ID"].as_i64(), action_run["NOTE"].as_str()),
        (Some(bot), Some("user initiated lookup action"))
    );
    assert_eq!(action_run["RELATED OBJECT ID"], container);
    let unknown = h.ok("/rest/audit?container=999999", &Auth::admin()).await;
    assert!(
        unknown.as_array().unwrap().iter().all(|r| r["NOTE"] == "GET:/rest/audit?container=999999"),
        "a failed read is not a read: {unknown}"
    );
}

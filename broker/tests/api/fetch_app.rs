//! `AppService.FetchApp`, the one gRPC method workers call: components by digest, only
//! for a caller holding the worker token derived from the broker's bus key.

use futures::StreamExt;
use outpost_proto::seal::SealKey;
use outpost_proto::v1::FetchAppRequest;
use outpost_proto::v1::app_service_client::AppServiceClient;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;
use tonic::{Code, Request};

use outpost_tests::broker::TestBroker;
use outpost_tests::grpc;

/// The metadata key workers present their token in.
const TOKEN_HEADER: &str = "outpost-worker-token";

async fn client(outpost: &TestBroker) -> AppServiceClient<Channel> {
    AppServiceClient::new(grpc::channel(&outpost.grpc_url).await)
}

fn request(digest: &str, token: Option<&str>) -> Request<FetchAppRequest> {
    let mut request = Request::new(FetchAppRequest { digest: digest.into() });
    if let Some(token) = token {
        request.metadata_mut().insert(TOKEN_HEADER, token.parse().unwrap());
    }
    request
}

/// Fetches a component and reassembles its chunks; answers the declared total size too.
async fn fetch(outpost: &TestBroker, digest: &str, token: Option<&str>) -> Result<(u64, Vec<u8>), tonic::Status> {
    let mut chunks = client(outpost).await.fetch_app(request(digest, token)).await?.into_inner();
    let (mut total, mut bytes) = (0, vec![]);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        if bytes.is_empty() {
            total = chunk.total_size;
        }
        bytes.extend_from_slice(&chunk.data);
    }
    Ok((total, bytes))
}

async fn qa_digest(outpost: &TestBroker) -> String {
    let id = outpost.app_id("QA").await;
    outpost.broker.store.get_app(id).await.unwrap().expect("qa installed").digest
}

fn worker_token(outpost: &TestBroker) -> String {
    outpost.broker.bus_key.derive_token("outpost-worker")
}

#[tokio::test]
async fn a_worker_with_the_bus_key_fetches_a_component_that_matches_its_digest() {
    let outpost = TestBroker::start().await;
    let digest = qa_digest(&outpost).await;
    let (total, bytes) = fetch(&outpost, &digest, Some(&worker_token(&outpost))).await.expect("fetched");
    assert_eq!(total, bytes.len() as u64);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), digest, "the bytes are the component the digest names");
    // Upper case and surrounding blanks are the same digest.
    let (_, again) =
        fetch(&outpost, &format!(" {} ", digest.to_uppercase()), Some(&worker_token(&outpost))).await.unwrap();
    assert_eq!(again, bytes);
}

#[tokio::test]
async fn fetching_without_the_worker_token_is_unauthenticated() {
    let outpost = TestBroker::start().await;
    let digest = qa_digest(&outpost).await;
    let other_key = SealKey::generate().derive_token("outpost-worker");
    let almost = {
        let mut token = worker_token(&outpost);
        let last = token.pop().unwrap();
        token.push(if last == '0' { '1' } else { '0' });
        token
    };
    for token in [None, Some(""), Some(other_key.as_str()), Some(almost.as_str())] {
        let status = fetch(&outpost, &digest, token).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}: {status:?}");
        assert!(status.message().contains("worker token"), "{}", status.message());
    }
}

#[tokio::test]
async fn a_malformed_digest_is_an_invalid_argument_and_an_unknown_one_not_found() {
    let outpost = TestBroker::start().await;
    let token = worker_token(&outpost);
    for digest in ["", "abc", &"g".repeat(64), &"a".repeat(65), "../../etc/passwd"] {
        let status = fetch(&outpost, digest, Some(&token)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{digest:?}: {status:?}");
        assert!(status.message().contains("is not a sha256 digest"), "{}", status.message());
    }
    let unknown = hex::encode(Sha256::digest(b"no such component"));
    let status = fetch(&outpost, &unknown, Some(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(status.message(), format!("no component with digest {unknown}"));
}

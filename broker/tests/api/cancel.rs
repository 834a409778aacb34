//! gRPC `CancelActionRun`: the typed twin of `POST /rest/action_run/<id> {"cancel": true}`.

use outpost_proto::v1::CancelActionRunRequest;
use outpost_proto::v1::action_service_client::ActionServiceClient;
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Request};

use outpost_tests::broker::TestBroker;
use outpost_tests::fake_worker::take_tasks;
use outpost_tests::grpc;

fn cancel(id: i64) -> Request<CancelActionRunRequest> {
    let mut request = Request::new(CancelActionRunRequest { id });
    request.metadata_mut().insert("authorization", grpc::admin());
    request
}

#[tokio::test]
async fn cancel_action_run_stops_a_running_run_and_refuses_a_finished_one() {
    let outpost = TestBroker::start().await;
    // Tasks are taken and never answered: the run stays unfinished until cancelled.
    let mut tasks = take_tasks(outpost.bus.clone()).await;
    let qa = outpost.app_id("QA").await;
    let container = outpost.container("cancelled over grpc").await;
    let asset = outpost.asset(json!({"name": "qa", "app": qa})).await;
    let run = outpost
        .rest
        .created(
            "/rest/action_run",
            &json!({"action": "echo", "container_id": container,
                    "targets": [{"app_id": qa, "assets": [asset], "parameters": [{"index": 0}, {"index": 1}]}]}),
        )
        .await["action_run_id"]
        .as_i64()
        .unwrap();
    tasks.recv().await.expect("a task is out");

    let channel = Channel::from_shared(outpost.grpc_url.clone()).unwrap().connect().await.unwrap();
    let mut actions = ActionServiceClient::new(channel);
    let answer = actions.cancel_action_run(cancel(run)).await.expect("cancelled").into_inner();
    assert!(answer.cancelled);
    assert_eq!(answer.message, format!("action run {run} cancelled; 2 parameter sets stopped, finished results kept"));
    let closed = outpost.rest.ok(&format!("/rest/action_run/{run}")).await;
    assert_eq!((closed["status"].as_str(), closed["cancelled"].as_str()), (Some("failed"), Some("cancelled by admin")));

    let again = actions.cancel_action_run(cancel(run)).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert_eq!(again.message(), format!("action run {run} has already finished (failed); nothing to cancel"));
    let unknown = actions.cancel_action_run(cancel(999_999)).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
}

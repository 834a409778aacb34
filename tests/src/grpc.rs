//! gRPC clients as Outpost's users and workers make them: a channel to the API, and
//! Basic credentials in the `authorization` metadata of every call.

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::PASSWORD;
use crate::rest::basic;

/// A connected channel to `url` (`http://127.0.0.1:<port>`).
pub async fn channel(url: &str) -> Channel {
    let endpoint = Channel::from_shared(url.to_string()).unwrap_or_else(|e| panic!("a gRPC url {url}: {e}"));
    endpoint.connect().await.unwrap_or_else(|e| panic!("gRPC at {url} answers: {e}"))
}

/// `authorization` metadata for `user` with `password`.
pub fn authorization(user: &str, password: &str) -> MetadataValue<Ascii> {
    basic(user, password).parse().unwrap_or_else(|e| panic!("credentials are ASCII: {e}"))
}

/// `authorization` metadata for the administrator.
pub fn admin() -> MetadataValue<Ascii> {
    authorization("admin", PASSWORD)
}

/// Adds the same `authorization` to every call of a client
/// (`FooClient::with_interceptor(channel, Credentials(grpc::admin()))`).
#[derive(Clone)]
pub struct Credentials(pub MetadataValue<Ascii>);

impl tonic::service::Interceptor for Credentials {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A client's channel with [`Credentials`].
pub type Intercepted = tonic::service::interceptor::InterceptedService<Channel, Credentials>;

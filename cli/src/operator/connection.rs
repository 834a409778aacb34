//! How the operator commands reach a broker: its gRPC address, its REST address (for
//! what gRPC does not offer: the worker listing), and the credentials.
//!
//! Secrets never have to be on the command line: the token and the password come from
//! `OUTPOST_TOKEN` / `OUTPOST_PASSWORD` or from the files `--token-file` /
//! `--password-file` name. Failures read as a user would want them: which address could
//! not be reached, which credentials were refused.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use outpost_proto::v1::action_service_client::ActionServiceClient;
use outpost_proto::v1::registry_service_client::RegistryServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// Where the broker is and who the operator is; every operator command takes these.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// The broker's gRPC address (`outpost up` and `outpost broker` print it).
    #[arg(long, env = "OUTPOST_URL", default_value = "http://127.0.0.1:50051")]
    pub url: String,
    /// The broker's REST address, used only to list workers (gRPC has no worker listing).
    #[arg(long, env = "OUTPOST_REST_URL", default_value = "http://127.0.0.1:8080")]
    pub rest_url: String,
    /// The user to sign in as, with the password from `OUTPOST_PASSWORD` or
    /// `--password-file`. Not used when a token is given.
    #[arg(long, env = "OUTPOST_USER", default_value = "admin")]
    pub user: String,
    /// A file holding the password (instead of `OUTPOST_PASSWORD`).
    #[arg(long, env = "OUTPOST_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// A file holding an API token (`ph-auth-token`; instead of `OUTPOST_TOKEN`).
    #[arg(long, env = "OUTPOST_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Print JSON (one document) instead of tables, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// What `--help` says about the secrets that have no flag.
pub const CREDENTIALS_HELP: &str = "\
Credentials: OUTPOST_TOKEN (an API token), or OUTPOST_USER (default admin) with \
OUTPOST_PASSWORD; or --token-file / --password-file. Secrets are never taken as flags.";

/// How requests authenticate: SOAR's two ways, as REST takes them.
#[derive(Clone)]
pub enum Credentials {
    /// An API token, sent as `ph-auth-token`.
    Token(String),
    /// A user's name and password, sent as HTTP Basic.
    Basic {
        /// `--user` / `OUTPOST_USER`.
        user: String,
        /// From `OUTPOST_PASSWORD` or `--password-file`.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(********)"),
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, ********)"),
        }
    }
}

impl Credentials {
    /// From the token, else the password: a file named by a flag beats the env twin.
    pub fn from_args(args: &ConnectionArgs) -> anyhow::Result<Credentials> {
        let read = |path: &PathBuf, what: &str| -> anyhow::Result<String> {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
            let secret = text.trim().to_string();
            anyhow::ensure!(!secret.is_empty(), "the {what} file {} is empty", path.display());
            Ok(secret)
        };
        let env = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(path) = &args.token_file {
            return Ok(Credentials::Token(read(path, "token")?));
        }
        if let Some(token) = env("OUTPOST_TOKEN") {
            return Ok(Credentials::Token(token));
        }
        let password = match &args.password_file {
            Some(path) => read(path, "password")?,
            None => env("OUTPOST_PASSWORD").ok_or_else(|| {
                anyhow::anyhow!(
                    "no credentials: set OUTPOST_TOKEN, or OUTPOST_PASSWORD for user '{}' (OUTPOST_USER), or name a file with --token-file / --password-file",
                    args.user
                )
            })?,
        };
        Ok(Credentials::Basic { user: args.user.clone(), password })
    }

    /// The header that carries them: (name, value).
    fn header(&self) -> (&'static str, String) {
        match self {
            Credentials::Token(token) => ("ph-auth-token", token.clone()),
            Credentials::Basic { user, password } => {
                let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                ("authorization", format!("Basic {basic}"))
            }
        }
    }
}

/// Adds the credentials to every gRPC request, marked sensitive so no log shows them.
#[derive(Clone)]
pub struct Authenticate {
    /// `ph-auth-token` or `authorization`.
    name: &'static str,
    /// The token, or `Basic <base64>`; sensitive.
    value: MetadataValue<tonic::metadata::Ascii>,
}

impl Interceptor for Authenticate {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(self.name, self.value.clone());
        Ok(request)
    }
}

type Authenticated = InterceptedService<Channel, Authenticate>;

/// A connected broker: typed gRPC clients, and REST for the worker listing.
pub struct Broker {
    /// Action runs: run, watch, list, cancel.
    pub actions: ActionServiceClient<Authenticated>,
    /// Apps, assets and containers.
    pub registry: RegistryServiceClient<Authenticated>,
    /// Where REST answers, for what gRPC lacks (the worker listing).
    rest_url: String,
    /// Sent again with each REST request.
    credentials: Credentials,
}

/// `host:port` alone means plain HTTP, as the addresses `outpost up` prints.
fn with_scheme(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") { url.to_string() } else { format!("http://{url}") }
}

impl Broker {
    /// Checks the credentials' presence and the address, then connects (5 s at most).
    pub async fn connect(args: &ConnectionArgs) -> anyhow::Result<Broker> {
        let credentials = Credentials::from_args(args)?;
        let url = with_scheme(&args.url);
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| anyhow::anyhow!("--url / OUTPOST_URL '{url}' is not a valid address: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60));
        let channel = endpoint.connect().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the broker at {url}: {}; is `outpost up` (or `outpost broker`) running there? (--url / OUTPOST_URL)",
                error_chain(&e)
            )
        })?;
        let (name, value) = credentials.header();
        let mut value: MetadataValue<tonic::metadata::Ascii> =
            value.parse().map_err(|_| anyhow::anyhow!("the credentials hold characters a header cannot carry"))?;
        value.set_sensitive(true);
        let auth = Authenticate { name, value };
        Ok(Broker {
            actions: ActionServiceClient::with_interceptor(channel.clone(), auth.clone()),
            registry: RegistryServiceClient::with_interceptor(channel, auth),
            rest_url: with_scheme(&args.rest_url),
            credentials,
        })
    }

    /// GETs a REST path (JSON), with the same credentials.
    pub async fn rest_get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}{path}", self.rest_url);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let request = match &self.credentials {
            Credentials::Token(token) => http.get(&url).header("ph-auth-token", token),
            Credentials::Basic { user, password } => http.get(&url).basic_auth(user, Some(password)),
        };
        let response = request.send().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the broker's REST API at {}: {}; set --rest-url / OUTPOST_REST_URL",
                self.rest_url,
                error_chain(&e)
            )
        })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.with_context(|| {
            format!("{url} answered {status} without a JSON body; is --rest-url an Outpost broker?")
        })?;
        if !status.is_success() {
            let message = body["message"].as_str().unwrap_or("no message");
            anyhow::bail!("{}", refused(status.as_u16(), message));
        }
        Ok(body)
    }
}

/// What a REST refusal means to the operator.
fn refused(status: u16, message: &str) -> String {
    match status {
        401 => format!("the broker refused the credentials: {message}"),
        403 => format!("not allowed: {message}"),
        _ => message.to_string(),
    }
}

/// A gRPC error as an operator should read it.
pub fn status_error(status: tonic::Status) -> anyhow::Error {
    use tonic::Code;
    let message = status.message();
    match status.code() {
        Code::Unauthenticated => anyhow::anyhow!("the broker refused the credentials: {message}"),
        Code::PermissionDenied => anyhow::anyhow!("not allowed: {message}"),
        Code::Unavailable => anyhow::anyhow!("the broker is unavailable: {message}"),
        Code::DeadlineExceeded => anyhow::anyhow!("the broker did not answer in time: {message}"),
        _ => anyhow::anyhow!("{message}"),
    }
}

/// An error and its causes on one line: transport errors hide the useful part
/// ("connection refused") in their sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_without_scheme_is_plain_http() {
        assert_eq!(with_scheme("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(with_scheme("https://broker.example:50051/"), "https://broker.example:50051");
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let basic = Credentials::Basic { user: "admin".into(), password: "s3cret".into() };
        let token = Credentials::Token("t0ken".into());
        assert!(!format!("{basic:?}").contains("s3cret"));
        assert!(!format!("{token:?}").contains("t0ken"));
    }

    #[test]
    fn basic_credentials_are_soar_basic_auth() {
        let (name, value) = Credentials::Basic { user: "admin".into(), password: "change-me".into() }.header();
        assert_eq!(name, "authorization");
        assert_eq!(value, "Basic YWRtaW46Y2hhbmdlLW1l");
    }
}

//! `outpost app install <bundle>`: installs (or upgrades) a bundle into a running
//! Outpost, over REST (`POST /rest/app`) or gRPC (`RegistryService.InstallApp`).
//!
//! Credentials come from the environment (or a file), never from the command line:
//! `OUTPOST_TOKEN` (SOAR's `ph-auth-token`), else `OUTPOST_USER` (default `admin`)
//! with `OUTPOST_PASSWORD` or `--password-file`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine as _;

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The bundle (`outpost app pack` writes `dist/<name>.tgz`).
    pub bundle: PathBuf,
    /// The broker's REST address.
    #[arg(long, env = "OUTPOST_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Install over gRPC at this address (e.g. http://127.0.0.1:50051) instead of REST.
    #[arg(long, env = "OUTPOST_GRPC_URL")]
    pub grpc: Option<String>,
    /// The user to sign in as (with OUTPOST_PASSWORD or --password-file).
    #[arg(long, env = "OUTPOST_USER", default_value = "admin")]
    pub user: String,
    /// A file holding the password (else OUTPOST_PASSWORD).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Print only the app's numeric id (for scripts: `APP=$(outpost app install --quiet ...)`).
    #[arg(long)]
    pub quiet: bool,
}

/// How the request signs in.
enum Credentials {
    Token(String),
    Basic(String, String),
}

impl Credentials {
    fn from_env(args: &InstallArgs) -> anyhow::Result<Credentials> {
        if let Ok(token) = std::env::var("OUTPOST_TOKEN")
            && !token.is_empty()
        {
            return Ok(Credentials::Token(token));
        }
        let password = match &args.password_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the password file {}", file.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            None => std::env::var("OUTPOST_PASSWORD").map_err(|_| {
                anyhow::anyhow!(
                    "no credentials: set OUTPOST_TOKEN, or OUTPOST_PASSWORD (or --password-file) for user '{}'",
                    args.user
                )
            })?,
        };
        Ok(Credentials::Basic(args.user.clone(), password))
    }

    /// The metadata/header that carries them: (name, value).
    fn header(&self) -> (&'static str, String) {
        match self {
            Credentials::Token(token) => ("ph-auth-token", token.clone()),
            Credentials::Basic(user, password) => (
                "authorization",
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))),
            ),
        }
    }
}

fn report(quiet: bool, message: &str, id: i64) {
    if quiet {
        println!("{id}");
    } else {
        println!("{message} (app id {id})");
    }
}

pub async fn run(args: InstallArgs) -> anyhow::Result<()> {
    let bundle = std::fs::read(&args.bundle).with_context(|| format!("cannot read {}", args.bundle.display()))?;
    // The broker checks it again; checking here names the problem before the upload.
    outpost_broker::catalog::bundle::read(&bundle).with_context(|| args.bundle.display().to_string())?;
    let credentials = Credentials::from_env(&args)?;
    let (name, value) = credentials.header();
    match &args.grpc {
        Some(grpc) => {
            let mut client = outpost_proto::v1::registry_service_client::RegistryServiceClient::connect(grpc.clone())
                .await
                .with_context(|| format!("cannot reach the broker's gRPC at {grpc}"))?
                .max_encoding_message_size(80 << 20);
            let mut request = tonic::Request::new(outpost_proto::v1::InstallAppRequest { bundle });
            request.metadata_mut().insert(name, value.parse().context("the credentials are not valid header text")?);
            let answer = client.install_app(request).await.map_err(|status| anyhow::anyhow!("{}", status.message()))?;
            let answer = answer.into_inner();
            let id = answer.app.map(|app| app.id).unwrap_or_default();
            report(args.quiet, &answer.message, id);
        }
        None => {
            let url = format!("{}/rest/app", args.url.trim_end_matches('/'));
            let body = serde_json::json!({"app": base64::engine::general_purpose::STANDARD.encode(&bundle)});
            let response = reqwest::Client::new()
                .post(&url)
                .header(name, value)
                .json(&body)
                .send()
                .await
                .with_context(|| format!("cannot reach {url}"))?;
            let status = response.status();
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("{url} answered {status}: {}", answer["message"].as_str().unwrap_or("(no message)"));
            }
            report(
                args.quiet,
                answer["message"].as_str().unwrap_or("installed"),
                answer["id"].as_i64().unwrap_or_default(),
            );
        }
    }
    Ok(())
}

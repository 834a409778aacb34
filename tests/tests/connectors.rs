//! Issue 4 through the real `outpost up` process: the HTTP connectors against local
//! servers that answer in the real APIs' documented formats, egress enforced end to end,
//! per-asset state, progress while a run goes, and hostile connectors that must not hurt
//! the single worker that runs them.
//!
//! Each test starts its own `outpost up`. The local servers listen on loopback, which
//! connectors may reach only when the process is started with `--egress-allow-cidr`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use outpost_tests::process::Outpost;
use outpost_tests::rest::{BlockingRest, assert_soar_error};
use outpost_tests::{apps, bundle};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// A local HTTP server standing in for a registry's RDAP service or VirusTotal.
// ---------------------------------------------------------------------------------------

/// One request as the fake API received it.
#[derive(Debug, Clone)]
struct Seen {
    /// The address the request arrived on (127.0.0.1 or 127.0.0.2).
    local: IpAddr,
    method: String,
    path: String,
    /// VirusTotal's credential header.
    apikey: Option<String>,
    /// RDAP clients ask for `application/rdap+json` (RFC 7480 §4.2).
    accept: Option<String>,
}

/// What the fake API answers to one request.
struct Reply {
    /// Any status: the connectors map 401, 404 and others to their own messages.
    status: u16,
    /// A `Location` header, for redirects.
    location: Option<String>,
    /// Sent as JSON with the server's content type.
    body: Value,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply { status, location: None, body }
    }

    fn redirect(location: String) -> Reply {
        Reply { status: 302, location: Some(location), body: json!({}) }
    }
}

/// An HTTP server on loopback, in its own tokio runtime, that records every request.
struct FakeApi {
    /// The same port on every address served.
    port: u16,
    /// Every request so far, in order: what reached the server, and with which headers.
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Runs the server; dropping it stops the server with the test.
    _runtime: tokio::runtime::Runtime,
}

impl FakeApi {
    /// Serves `answer` with `content_type` on the same port of each of `ips`.
    fn start(
        ips: &[IpAddr],
        content_type: &'static str,
        answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> FakeApi {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let mut port = 0;
        for &ip in ips {
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind(SocketAddr::new(ip, port)))
                .unwrap_or_else(|e| panic!("binding {ip}:{port}: {e}"));
            port = listener.local_addr().expect("local addr").port();
            let (seen, answer) = (seen.clone(), answer.clone());
            let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
                let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                let request = Seen {
                    local: ip,
                    method: request.method().to_string(),
                    path: request.uri().path().to_string(),
                    apikey: header("x-apikey"),
                    accept: header("accept"),
                };
                let reply = answer(&request);
                seen.lock().expect("seen").push(request);
                async move {
                    let mut response = axum::response::Response::new(axum::body::Body::from(reply.body.to_string()));
                    *response.status_mut() = axum::http::StatusCode::from_u16(reply.status).expect("status");
                    let headers = response.headers_mut();
                    headers
                        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static(content_type));
                    if let Some(location) = reply.location {
                        headers.insert(axum::http::header::LOCATION, location.parse().expect("location"));
                    }
                    response
                }
            });
            runtime.spawn(async move { axum::serve(listener, router).await });
        }
        FakeApi { port, seen, _runtime: runtime }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    fn hits(&self) -> usize {
        self.seen.lock().expect("seen").len()
    }
}

fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// A second loopback address: reachable on Linux, but never named by an asset.
fn other_loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 2])
}

/// The exact bytes the fake API sends for a body, to compare with what was recorded.
fn body_bytes(body: &Value) -> u64 {
    body.to_string().len() as u64
}

// ---------------------------------------------------------------------------------------
// A SOAR client session against one `outpost up`.
// ---------------------------------------------------------------------------------------

/// One `outpost up` with an admin client and a container to run actions in.
struct Session {
    /// The process: its log and data dir are part of what a test checks.
    outpost: Outpost,
    /// Signed in as admin.
    rest: BlockingRest,
    /// Every action run of the test goes into this container.
    container: i64,
}

/// A finished action run, its only app run in full, and how long it took from POST.
struct Finished {
    /// `GET /rest/action_run/<id>` once final.
    action_run: Value,
    /// `GET /rest/app_run/<id>`: results, `extra_data`, `exception_occured`.
    app_run: Value,
    /// From the POST to the first poll that saw the run final.
    took: Duration,
}

impl Finished {
    /// The action result of the first (usually only) parameter set.
    fn result(&self) -> &Value {
        &self.app_run["result_data"][0]
    }

    fn message(&self) -> &str {
        self.result()["message"].as_str().unwrap_or_default()
    }

    /// Asserts a failed result that the sandbox (not the connector) stopped, with
    /// `needle` in its message.
    fn assert_stopped(&self, needle: &str) {
        assert_eq!(self.action_run["status"], "failed", "{}", self.action_run);
        assert_eq!(self.app_run["status"], "failed", "{}", self.app_run);
        assert_eq!(self.app_run["exception_occured"], true, "{}", self.app_run);
        assert_eq!(self.result()["status"], "failed", "{}", self.result());
        assert!(self.message().contains(needle), "expected {needle:?} in {:?}", self.message());
        assert!(!self.message().contains("ErrorCode"), "the message says it in words: {:?}", self.message());
    }
}

impl Session {
    fn up(args: &[&str]) -> Session {
        let outpost = Outpost::up(args);
        let rest = outpost.rest();
        let container = rest.created("/rest/container", &json!({"name": "connectors e2e", "label": "events"}))["id"]
            .as_i64()
            .expect("container id");
        Session { outpost, rest, container }
    }

    /// Installs a bundle of the apps dist through `POST /rest/app`.
    fn install(&self, name: &str) -> i64 {
        let answer = self.rest.created("/rest/app", &json!({"app": bundle::encode(&apps::bundle(name))}));
        assert_eq!(answer["success"], true, "{answer}");
        answer["id"].as_i64().expect("app id")
    }

    fn asset(&self, name: &str, app: i64, configuration: Value) -> i64 {
        let answer =
            self.rest.created("/rest/asset", &json!({"name": name, "app": app, "configuration": configuration}));
        answer["id"].as_i64().expect("asset id")
    }

    /// POSTs an action run on one asset and answers its id.
    fn start(&self, app: i64, asset: &str, action: &str, parameters: Value) -> i64 {
        let answer = self.rest.created(
            "/rest/action_run",
            &json!({
                "action": action,
                "container_id": self.container,
                "name": format!("e2e {action}"),
                "targets": [{"app_id": app, "assets": [asset], "parameters": parameters}],
                "type": "generic"
            }),
        );
        assert_eq!(answer["message"], "New action queued.", "{answer}");
        answer["action_run_id"].as_i64().expect("action run id")
    }

    /// Runs an action on one asset and waits (bounded) for it to finish.
    fn run(&self, app: i64, asset: &str, action: &str, parameters: Value) -> Finished {
        let posted = Instant::now();
        let id = self.start(app, asset, action, parameters);
        self.finish(id, posted, Duration::from_secs(30))
    }

    fn finish(&self, id: i64, posted: Instant, within: Duration) -> Finished {
        let action_run = loop {
            let run = self.rest.ok(&format!("/rest/action_run/{id}"));
            if run["status"] == "success" || run["status"] == "failed" {
                break run;
            }
            assert!(posted.elapsed() < within, "action run {id} not finished within {within:?}: {run}");
            std::thread::sleep(Duration::from_millis(25));
        };
        let took = posted.elapsed();
        // Shown when a test fails: how long each run took, to tell slowness from hangs.
        eprintln!("action run {id} ({}) ended {} after {took:?}", action_run["action"], action_run["status"]);
        let app_runs = self.rest.ok(&format!("/rest/action_run/{id}/app_runs"));
        assert_eq!(app_runs["count"], 1, "{app_runs}");
        let app_run = self.rest.ok(&format!("/rest/app_run/{}", app_runs["data"][0]["id"]));
        Finished { action_run, app_run, took }
    }
}

// ---------------------------------------------------------------------------------------
// whois over RDAP
// ---------------------------------------------------------------------------------------

/// Verisign's answer for `example.com` (thin registry: the registrar, no registrant),
/// as `https://rdap.verisign.com/com/v1/domain/example.com` serves it.
fn rdap_example_com() -> Value {
    json!({
        "objectClassName": "domain",
        "handle": "2336799_DOMAIN_COM-VRSN",
        "ldhName": "EXAMPLE.COM",
        "links": [{
            "value": "https://rdap.verisign.com/com/v1/domain/EXAMPLE.COM",
            "rel": "self",
            "href": "https://rdap.verisign.com/com/v1/domain/EXAMPLE.COM",
            "type": "application/rdap+json"
        }],
        "status": ["client delete prohibited", "client transfer prohibited", "client update prohibited"],
        "entities": [{
            "objectClassName": "entity",
            "handle": "376",
            "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": "376"}],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"]]],
            "entities": [{
                "objectClassName": "entity",
                "roles": ["abuse"],
                "vcardArray": ["vcard", [
                    ["version", {}, "text", "4.0"],
                    ["fn", {}, "text", ""],
                    ["tel", {"type": "voice"}, "uri", "tel:"],
                    ["email", {}, "text", ""]
                ]]
            }]
        }],
        "events": [
            {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
            {"eventAction": "expiration", "eventDate": "2025-08-13T04:00:00Z"},
            {"eventAction": "last changed", "eventDate": "2024-08-14T07:01:34Z"},
            {"eventAction": "last update of RDAP database", "eventDate": "2024-11-25T19:46:09Z"}
        ],
        "secureDNS": {
            "delegationSigned": true,
            "dsData": [{"keyTag": 370, "algorithm": 13, "digestType": 2, "digest": "BE74359954660069D5C63D200C39F5603827D7DD02B56F120EE9F3A86764247C"}]
        },
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": "A.IANA-SERVERS.NET"},
            {"objectClassName": "nameserver", "ldhName": "B.IANA-SERVERS.NET"}
        ],
        "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_0", "icann_rdap_response_profile_0"],
        "notices": [{
            "title": "Terms of Use",
            "description": ["Service subject to Terms of Use."],
            "links": [{"href": "https://www.verisign.com/domain-names/registration-data-access-protocol/terms-service/index.xhtml", "type": "text/html"}]
        }]
    })
}

/// ARIN's answer for `8.8.8.8`, the network holding it, with the registrant and its
/// nested abuse contact.
fn rdap_8_8_8_8() -> Value {
    json!({
        "rdapConformance": ["nro_rdap_profile_0", "rdap_level_0", "cidr0", "arin_originas0"],
        "notices": [{
            "title": "Terms of Service",
            "description": ["By using the ARIN RDAP/Whois service, you are agreeing to the RDAP/Whois Terms of Use"],
            "links": [{"value": "https://rdap.arin.net/registry/ip/8.8.8.8", "rel": "terms-of-service", "type": "text/html", "href": "https://www.arin.net/resources/registry/whois/tou/"}]
        }],
        "handle": "NET-8-8-8-0-2",
        "startAddress": "8.8.8.0",
        "endAddress": "8.8.8.255",
        "ipVersion": "v4",
        "name": "GOGL",
        "type": "DIRECT ALLOCATION",
        "parentHandle": "NET-8-0-0-0-2",
        "country": "US",
        "events": [
            {"eventAction": "last changed", "eventDate": "2023-12-28T17:24:56-05:00"},
            {"eventAction": "registration", "eventDate": "2023-12-28T17:24:33-05:00"}
        ],
        "links": [{"value": "https://rdap.arin.net/registry/ip/8.8.8.8", "rel": "self", "type": "application/rdap+json", "href": "https://rdap.arin.net/registry/ip/8.8.8.0"}],
        "entities": [{
            "handle": "GOGL",
            "vcardArray": ["vcard", [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", "Google LLC"],
                ["adr", {"label": "1600 Amphitheatre Parkway\nMountain View\nCA\n94043\nUnited States"}, "text", ["", "", "", "", "", "", ""]],
                ["kind", {}, "text", "org"]
            ]],
            "roles": ["registrant"],
            "events": [{"eventAction": "last changed", "eventDate": "2019-10-31T15:45:45-04:00"}],
            "objectClassName": "entity",
            "entities": [{
                "handle": "ABUSE5250-ARIN",
                "vcardArray": ["vcard", [
                    ["version", {}, "text", "4.0"],
                    ["adr", {"label": "1600 Amphitheatre Parkway\nMountain View\nCA\n94043\nUnited States"}, "text", ["", "", "", "", "", "", ""]],
                    ["fn", {}, "text", "Abuse"],
                    ["org", {}, "text", "Abuse"],
                    ["kind", {}, "text", "group"],
                    ["email", {}, "text", "network-abuse@google.com"],
                    ["tel", {"type": ["work", "voice"]}, "text", "+1-650-253-0000"]
                ]],
                "roles": ["abuse"],
                "status": ["validated"],
                "objectClassName": "entity"
            }]
        }],
        "port43": "whois.arin.net",
        "status": ["active"],
        "objectClassName": "ip network",
        "cidr0_cidrs": [{"v4prefix": "8.8.8.0", "length": 24}],
        "arin_originas0_originautnums": []
    })
}

/// RFC 9083 §6: the error body of an RDAP server that has no such object.
fn rdap_not_found() -> Value {
    json!({
        "rdapConformance": ["rdap_level_0"],
        "errorCode": 404,
        "title": "Not Found",
        "description": ["The requested object was not found."]
    })
}

#[test]
fn whois_reads_domains_and_networks_from_an_rdap_server() {
    // rdap.org answers by redirecting to the registry's server; here the registry sits
    // on another address, which the asset does not name.
    let port = Arc::new(std::sync::OnceLock::<u16>::new());
    let registry_port = port.clone();
    let rdap = FakeApi::start(&[loopback(), other_loopback()], "application/rdap+json", move |request| {
        match request.path.as_str() {
            "/rdap/domain/example.com" => Reply::json(200, rdap_example_com()),
            "/rdap/ip/8.8.8.8" => Reply::json(200, rdap_8_8_8_8()),
            "/rdap/domain/example.net" => Reply::redirect(format!(
                "http://127.0.0.2:{}/rdap/domain/example.net",
                registry_port.get().expect("port")
            )),
            _ => Reply::json(404, rdap_not_found()),
        }
    });
    port.set(rdap.port).expect("port set once");
    let soar = Session::up(&["--workers", "1", "--egress-allow-cidr", "127.0.0.1/32"]);
    let whois = soar.rest.app_id("WHOIS RDAP");
    let base_url = format!("http://127.0.0.1:{}/rdap/", rdap.port);
    soar.asset("rdap", whois, json!({"base_url": base_url}));

    let domain = soar.run(whois, "rdap", "whois domain", json!([{"domain": "example.com"}]));
    assert_eq!(domain.action_run["status"], "success", "{}", domain.app_run);
    let result = domain.result();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["message"], "Domain: example.com, Registrar: RESERVED-Internet Assigned Numbers Authority");
    assert_eq!(result["data"], json!([rdap_example_com()]), "the RDAP object is the data item, unchanged");
    assert_eq!(
        result["summary"],
        json!({"name": "EXAMPLE.COM", "registrar": "RESERVED-Internet Assigned Numbers Authority"})
    );
    assert_eq!(domain.app_run["result_summary"]["total_objects_successful"], 1);
    let url = format!("http://127.0.0.1:{}/rdap/domain/example.com", rdap.port);
    let exchange = &domain.app_run["extra_data"][0];
    assert_eq!(domain.app_run["extra_data"].as_array().map(Vec::len), Some(1), "{}", domain.app_run["extra_data"]);
    assert_eq!(exchange["type"], "http");
    assert_eq!(exchange["method"], "GET");
    assert_eq!(exchange["url"], url);
    assert_eq!(exchange["status"], 200);
    assert_eq!(exchange["bytes"], body_bytes(&rdap_example_com()));
    assert_eq!(exchange["denied"], "");
    assert!(exchange["duration_ms"].is_u64(), "{exchange}");
    let request = &rdap.seen()[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/rdap/domain/example.com"));
    assert!(request.accept.as_deref().is_some_and(|a| a.starts_with("application/rdap+json")), "{request:?}");

    let network = soar.run(whois, "rdap", "whois ip", json!([{"ip": "8.8.8.8"}]));
    let result = network.result();
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["message"], "IP: 8.8.8.8, Name: GOGL, Organization: Google LLC, Country: US");
    assert_eq!(result["data"], json!([rdap_8_8_8_8()]));
    assert_eq!(result["data"][0]["startAddress"], "8.8.8.0");
    assert_eq!(result["summary"], json!({"name": "GOGL", "organization": "Google LLC", "country": "US"}));
    let exchange = &network.app_run["extra_data"][0];
    assert_eq!(exchange["url"], format!("http://127.0.0.1:{}/rdap/ip/8.8.8.8", rdap.port));
    assert_eq!(
        (exchange["status"].as_u64(), exchange["bytes"].as_u64()),
        (Some(200), Some(body_bytes(&rdap_8_8_8_8())))
    );

    let unknown = soar.run(whois, "rdap", "whois domain", json!([{"domain": "no-such-name-outpost.com"}]));
    assert_eq!(unknown.action_run["status"], "failed");
    assert_eq!(unknown.result()["status"], "failed");
    assert_eq!(unknown.message(), "no RDAP record for no-such-name-outpost.com");
    assert_eq!(unknown.app_run["extra_data"][0]["status"], 404);
    assert_eq!(rdap.hits(), 3);

    let redirected = soar.run(whois, "rdap", "whois domain", json!([{"domain": "example.net"}]));
    redirected.assert_stopped(&format!(
        "request to http://127.0.0.2:{}/rdap/domain/example.net denied: host not allowed for this asset",
        rdap.port
    ));
    let exchanges = redirected.app_run["extra_data"].as_array().cloned().unwrap_or_default();
    assert_eq!(exchanges.len(), 2, "the redirect and the refused request: {exchanges:?}");
    assert_eq!(exchanges[0]["status"], 302);
    assert_eq!(exchanges[1]["denied"], "host not allowed for this asset");
    assert!(rdap.seen().iter().all(|r| r.local == loopback()), "nothing reached the address the redirect named");
    assert_eq!(rdap.hits(), 4);

    let malformed = soar.run(whois, "rdap", "whois domain", json!([{"domain": "example.com/../../help"}]));
    assert_eq!(malformed.action_run["status"], "failed");
    assert_eq!(malformed.message(), "'example.com/../../help' is not a valid domain name");
    assert_eq!(malformed.app_run["extra_data"], json!([]), "no request was made");
    assert_eq!(rdap.hits(), 4, "a malformed domain never reaches the RDAP server");
}

// ---------------------------------------------------------------------------------------
// reputation against a VirusTotal-v3-style API
// ---------------------------------------------------------------------------------------

const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
const PHISHING_URL: &str = "http://malware.testing.google.test/testing/malware/";

fn engine(name: &str, category: &str, result: &str) -> (String, Value) {
    let verdict = if result.is_empty() { Value::Null } else { Value::String(result.into()) };
    (name.to_string(), json!({"category": category, "engine_name": name, "method": "blacklist", "result": verdict}))
}

/// `GET /api/v3/files/{id}` for the EICAR test file.
fn vt_file() -> Value {
    let results: serde_json::Map<String, Value> = [
        engine("Bkav", "malicious", "W32.AIDetectMalware"),
        engine("Kaspersky", "malicious", "EICAR-Test-File"),
        engine("Microsoft", "malicious", "Virus:DOS/EICAR_Test_File"),
        engine("Google", "undetected", ""),
    ]
    .into_iter()
    .collect();
    json!({"data": {
        "id": EICAR_SHA256,
        "type": "file",
        "links": {"self": format!("https://www.virustotal.com/api/v3/files/{EICAR_SHA256}")},
        "attributes": {
            "md5": "44d88612fea8a8f36de82e1278abb02f",
            "sha1": "3395856ce81f2b7382dee72602f798b642f14140",
            "sha256": EICAR_SHA256,
            "meaningful_name": "eicar.com",
            "type_description": "Text",
            "size": 68,
            "names": ["eicar.com", "eicar.txt"],
            "tags": ["text", "attachment"],
            "reputation": -1066,
            "total_votes": {"harmless": 0, "malicious": 5},
            "first_submission_date": 1148301722,
            "last_analysis_date": 1732542030,
            "last_analysis_stats": {
                "malicious": 61, "suspicious": 0, "undetected": 7, "harmless": 0, "timeout": 0,
                "confirmed-timeout": 0, "failure": 0, "type-unsupported": 8
            },
            "last_analysis_results": results
        }
    }})
}

/// `GET /api/v3/urls/{id}`: the id is the URL in unpadded base64url.
fn vt_url() -> Value {
    let results: serde_json::Map<String, Value> = [
        engine("Google Safebrowsing", "malicious", "malware"),
        engine("Sophos", "malicious", "malware"),
        engine("Kaspersky", "harmless", "clean"),
    ]
    .into_iter()
    .collect();
    json!({"data": {
        "id": "d5b2ce2a2f3ff8c0a0b6b2e2ab8c4d86c2a1d1b7f0d2e3c4b5a69788f1e2d3c4",
        "type": "url",
        "links": {"self": "https://www.virustotal.com/api/v3/urls/d5b2ce2a2f3ff8c0a0b6b2e2ab8c4d86c2a1d1b7f0d2e3c4b5a69788f1e2d3c4"},
        "attributes": {
            "url": PHISHING_URL,
            "last_final_url": PHISHING_URL,
            "title": "Malware test page",
            "times_submitted": 1432,
            "reputation": -12,
            "categories": {"Forcepoint ThreatSeeker": "malicious web sites"},
            "total_votes": {"harmless": 0, "malicious": 2},
            "last_analysis_date": 1732541000,
            "last_analysis_stats": {"harmless": 60, "malicious": 9, "suspicious": 1, "undetected": 23, "timeout": 0},
            "last_analysis_results": results
        }
    }})
}

/// `GET /api/v3/ip_addresses/8.8.8.8`.
fn vt_ip() -> Value {
    let results: serde_json::Map<String, Value> =
        [engine("Kaspersky", "harmless", "clean"), engine("Sophos", "harmless", "clean")].into_iter().collect();
    json!({"data": {
        "id": "8.8.8.8",
        "type": "ip_address",
        "links": {"self": "https://www.virustotal.com/api/v3/ip_addresses/8.8.8.8"},
        "attributes": {
            "as_owner": "GOOGLE",
            "asn": 15169,
            "continent": "NA",
            "country": "US",
            "network": "8.8.8.0/24",
            "regional_internet_registry": "ARIN",
            "reputation": 548,
            "tags": [],
            "total_votes": {"harmless": 212, "malicious": 37},
            "last_analysis_date": 1732530000,
            "last_analysis_stats": {"harmless": 61, "malicious": 0, "suspicious": 0, "undetected": 26, "timeout": 0},
            "last_analysis_results": results
        }
    }})
}

/// `GET /api/v3/domains/example.com`.
fn vt_domain() -> Value {
    let results: serde_json::Map<String, Value> =
        [engine("Kaspersky", "harmless", "clean"), engine("CRDF", "malicious", "malicious")].into_iter().collect();
    json!({"data": {
        "id": "example.com",
        "type": "domain",
        "links": {"self": "https://www.virustotal.com/api/v3/domains/example.com"},
        "attributes": {
            "tld": "com",
            "registrar": "RESERVED-Internet Assigned Numbers Authority",
            "creation_date": 808372800,
            "reputation": 0,
            "categories": {"BitDefender": "computersandsoftware"},
            "last_dns_records": [{"type": "A", "ttl": 3600, "value": "93.184.215.14"}],
            "total_votes": {"harmless": 5, "malicious": 1},
            "last_analysis_date": 1732500000,
            "last_analysis_stats": {"harmless": 66, "malicious": 1, "suspicious": 0, "undetected": 27, "timeout": 0},
            "last_analysis_results": results
        }
    }})
}

fn vt_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// A VirusTotal v3 API that knows the four objects above and takes only `apikey`.
fn virustotal(apikey: String) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |request| {
        if request.apikey.as_deref() != Some(apikey.as_str()) {
            return Reply::json(401, vt_error("WrongCredentialsError", "Wrong API key"));
        }
        let url_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(PHISHING_URL);
        match request.path.strip_prefix("/api/v3/") {
            Some(p) if p == format!("files/{EICAR_SHA256}") => Reply::json(200, vt_file()),
            Some(p) if p == format!("urls/{url_id}") => Reply::json(200, vt_url()),
            Some("ip_addresses/8.8.8.8") => Reply::json(200, vt_ip()),
            Some("domains/example.com") => Reply::json(200, vt_domain()),
            _ => Reply::json(404, vt_error("NotFoundError", &format!("Resource \"{}\" not found", request.path))),
        }
    }
}

/// A key shaped like VirusTotal's (64 hex digits), unique to this run.
fn vt_key() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[test]
fn reputation_reports_verdicts_and_never_shows_the_api_key() {
    let apikey = vt_key();
    let vt = FakeApi::start(&[loopback()], "application/json", virustotal(apikey.clone()));
    let soar = Session::up(&["--workers", "1", "--egress-allow-cidr", "127.0.0.1/32"]);
    let reputation = soar.rest.app_id("Reputation");
    let base_url = format!("http://127.0.0.1:{}", vt.port);
    let asset = soar.asset("virustotal", reputation, json!({"base_url": base_url, "apikey": apikey}));

    let shown = soar.rest.ok(&format!("/rest/asset/{asset}"));
    assert_eq!(shown["configuration"]["base_url"], base_url);
    assert_eq!(shown["configuration"]["apikey"], "********", "a password field is masked: {shown}");
    assert!(!shown.to_string().contains(&apikey));
    let keyless = json!({"name": "virustotal-no-key", "app": reputation, "configuration": {"base_url": base_url}});
    assert_soar_error(&soar.rest.post("/rest/asset", &keyless), 400, "'apikey'");

    let cases = [
        ("file reputation", json!({"hash": EICAR_SHA256.to_uppercase()}), vt_file(), (61, 0, 0, 7, 76)),
        ("url reputation", json!({"url": PHISHING_URL}), vt_url(), (9, 1, 60, 23, 93)),
        ("ip reputation", json!({"ip": "8.8.8.8"}), vt_ip(), (0, 0, 61, 26, 87)),
        ("domain reputation", json!({"domain": "Example.COM"}), vt_domain(), (1, 0, 66, 27, 94)),
    ];
    for (action, parameters, object, (malicious, suspicious, harmless, undetected, total)) in cases {
        let finished = soar.run(reputation, "virustotal", action, json!([parameters]));
        let result = finished.result();
        assert_eq!(result["status"], "success", "{action}: {result}");
        assert_eq!(result["data"], json!([object["data"]]), "{action}: the data item is VirusTotal's data object");
        assert_eq!(
            result["summary"],
            json!({
                "total_positives": malicious, "malicious": malicious, "suspicious": suspicious,
                "harmless": harmless, "undetected": undetected, "total_scans": total
            }),
            "{action}"
        );
        assert_eq!(
            result["message"],
            format!("Malicious: {malicious}, Suspicious: {suspicious}, Harmless: {harmless}, Undetected: {undetected}")
        );
        assert_eq!(finished.app_run["extra_data"][0]["status"], 200, "{action}");
        assert!(!finished.app_run.to_string().contains(&apikey), "{action}: the app run shows the key");
    }
    let seen = vt.seen();
    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter().all(|r| r.apikey.as_deref() == Some(apikey.as_str())),
        "every request carries the key in x-apikey"
    );

    let test = soar.rest.created(&format!("/rest/asset/{asset}"), &json!({"test_connectivity": true}));
    let tested =
        soar.finish(test["action_run_id"].as_i64().expect("action run id"), Instant::now(), Duration::from_secs(30));
    assert_eq!(tested.message(), "Connectivity test succeeded");

    soar.asset("virustotal-wrong-key", reputation, json!({"base_url": base_url, "apikey": "not-the-key"}));
    let refused = soar.run(reputation, "virustotal-wrong-key", "ip reputation", json!([{"ip": "8.8.8.8"}]));
    assert_eq!(refused.action_run["status"], "failed");
    assert_eq!(refused.message(), "the API key was refused");
    assert_eq!(refused.app_run["extra_data"][0]["status"], 401);

    let log = soar.outpost.log();
    assert!(log.contains("connector http request"), "the worker logs each request:\n{log}");
    assert!(!log.contains(&apikey), "the API key is in the outpost log");
    for format in ["json", "csv"] {
        let (status, audit) = soar.rest.get(&format!("/rest/audit?format={format}"));
        assert_eq!(status, 200, "{audit}");
        let text = audit.to_string();
        assert!(text.contains("virustotal"), "the audit records the asset: {text}");
        assert!(!text.contains(&apikey), "the API key is in the {format} audit");
    }
}

// ---------------------------------------------------------------------------------------
// Egress
// ---------------------------------------------------------------------------------------

#[test]
fn egress_refuses_loopback_and_hosts_the_asset_does_not_name() {
    let apikey = vt_key();
    let both = [loopback(), other_loopback()];
    let server = FakeApi::start(&both, "application/json", virustotal(apikey.clone()));
    let port = server.port;
    let soar = Session::up(&["--workers", "1"]);
    let reputation = soar.rest.app_id("Reputation");
    soar.asset("virustotal", reputation, json!({"base_url": format!("http://127.0.0.1:{port}"), "apikey": apikey}));

    let loopback_denied = soar.run(reputation, "virustotal", "ip reputation", json!([{"ip": "8.8.8.8"}]));
    loopback_denied.assert_stopped(&format!(
        "request to http://127.0.0.1:{port}/api/v3/ip_addresses/8.8.8.8 denied: 127.0.0.1 is a loopback address, not allowed for connectors"
    ));
    let exchange = &loopback_denied.app_run["extra_data"][0];
    assert_eq!(exchange["status"], 0);
    assert_eq!(exchange["denied"], "127.0.0.1 is a loopback address, not allowed for connectors");

    let hostile = soar.install("hostile");
    soar.asset("hostile", hostile, json!({"base_url": format!("http://127.0.0.1:{port}")}));
    let elsewhere = soar.run(hostile, "hostile", "fetch", json!([{"url": format!("http://127.0.0.2:{port}/")}]));
    elsewhere.assert_stopped(&format!("request to http://127.0.0.2:{port}/ denied: host not allowed for this asset"));
    assert_eq!(elsewhere.app_run["extra_data"][0]["denied"], "host not allowed for this asset");

    // A name the asset allows is no way around the address check.
    soar.asset("hostile-by-name", hostile, json!({"base_url": format!("http://localhost:{port}")}));
    let by_name = soar.run(hostile, "hostile-by-name", "fetch", json!([{"url": format!("http://localhost:{port}/")}]));
    by_name.assert_stopped(&format!("request to http://localhost:{port}/ denied: localhost resolves to "));
    assert!(by_name.message().contains("a loopback address, not allowed for connectors"), "{}", by_name.message());
    assert_eq!(server.hits(), 0, "no request reached either address");
}

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

/// The stored version of one asset's state, `None` when it never saved any. The version
/// is not shown by the REST API; the operator's store holds it.
fn state_version(data_dir: &std::path::Path, asset: i64) -> Option<i64> {
    let url = format!("sqlite://{}?mode=ro", data_dir.join("outpost.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("the store opens read-only");
        let version: Option<i64> = sqlx::query_scalar("SELECT version FROM asset_state WHERE asset_id = ?")
            .bind(asset)
            .fetch_optional(&pool)
            .await
            .expect("asset_state");
        pool.close().await;
        version
    })
}

#[test]
fn state_saved_on_one_asset_is_invisible_to_another() {
    let soar = Session::up(&["--workers", "1"]);
    let hostile = soar.install("hostile");
    let a = soar.asset("hostile-a", hostile, json!({}));
    let b = soar.asset("hostile-b", hostile, json!({}));

    let saved = soar.run(hostile, "hostile-a", "write state", json!([{"value": "secret-a"}]));
    assert_eq!(saved.message(), "State saved");
    assert_eq!(state_version(&soar.outpost.data_dir, a), Some(1));

    let other = soar.run(hostile, "hostile-b", "read state", json!([{}]));
    assert_eq!(other.result()["status"], "success", "{}", other.result());
    assert_eq!(other.result()["data"], json!([{}]), "asset B sees nothing of A's state");
    assert_eq!(other.message(), "State has 0 keys");
    assert!(!other.app_run.to_string().contains("secret-a"));

    let own = soar.run(hostile, "hostile-a", "read state", json!([{}]));
    assert_eq!(own.result()["data"], json!([{"value": "secret-a"}]));

    let again = soar.run(hostile, "hostile-a", "write state", json!([{"value": "secret-a-2"}]));
    assert_eq!(again.message(), "State saved");
    assert_eq!(state_version(&soar.outpost.data_dir, a), Some(2), "each save increments the version");
    let own = soar.run(hostile, "hostile-a", "read state", json!([{}]));
    assert_eq!(own.result()["data"], json!([{"value": "secret-a-2"}]));
    assert_eq!(state_version(&soar.outpost.data_dir, b), None, "B never saved anything");

    // Two writers that started from the same version: the last one wins, and says so.
    let posted = Instant::now();
    let race = soar.start(hostile, "hostile-a", "write state", json!([{"value": "x"}, {"value": "y"}]));
    let raced = soar.finish(race, posted, Duration::from_secs(30));
    assert_eq!(raced.action_run["status"], "success", "{}", raced.app_run);
    assert_eq!(state_version(&soar.outpost.data_dir, a), Some(4));
    let own = soar.run(hostile, "hostile-a", "read state", json!([{}]));
    let value = &own.result()["data"][0]["value"];
    assert!(value == "x" || value == "y", "{value}");
    assert!(soar.outpost.log().contains("asset state overwritten by a later writer"), "{}", soar.outpost.log());
}

// ---------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------

#[test]
fn progress_shows_on_the_action_run_while_it_runs() {
    let soar = Session::up(&["--workers", "1"]);
    let qa = soar.rest.app_id("QA");
    soar.asset("qa", qa, json!({}));
    let posted = Instant::now();
    let id = soar.start(qa, "qa", "sleep", json!([{"seconds": 3}]));
    let mut progress = None;
    loop {
        let run = soar.rest.ok(&format!("/rest/action_run/{id}"));
        if run["status"] == "running" && run["message"].as_str().is_some_and(|m| m.starts_with("Slept ")) {
            progress = Some((posted.elapsed(), run["message"].clone()));
        }
        if run["status"] == "success" || run["status"] == "failed" {
            break;
        }
        assert!(posted.elapsed() < Duration::from_secs(30), "the run did not finish: {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let finished = soar.finish(id, posted, Duration::from_secs(30));
    let (seen_at, message) = progress.expect("a running action run shows the connector's progress");
    assert!(message.as_str().is_some_and(|m| m.ends_with(" of 3 seconds")), "{message}");
    assert!(seen_at >= Duration::from_secs(1), "the first progress comes after a second of sleep, at {seen_at:?}");
    assert_eq!(finished.action_run["status"], "success");
    assert_eq!(finished.message(), "Slept 3 seconds");
    assert!(finished.took >= Duration::from_secs(3), "{:?}", finished.took);
}

// ---------------------------------------------------------------------------------------
// Hostile connectors
// ---------------------------------------------------------------------------------------

#[test]
fn hostile_connectors_fail_cleanly_and_the_single_worker_survives() {
    let soar =
        Session::up(&["--workers", "1", "--concurrency", "1", "--max-timeout-secs", "10", "--max-memory-mb", "512"]);
    let hostile = soar.install("hostile");
    // Most cases run with a 2 s deadline (the asset's); committing 512 MiB or building a
    // 100 MiB result can take longer than that on a loaded machine, so those two run on
    // an asset with the worker's 10 s, where only the cap they test can stop them.
    let created = soar.rest.created("/rest/asset", &json!({"name": "hostile", "app": hostile, "timeout_secs": 2}));
    assert_eq!(created["success"], true, "{created}");
    soar.asset("hostile roomy", hostile, json!({}));
    let deadline = Duration::from_secs(2);
    // The bound: each case ends within its deadline plus a second, measured here
    // from the POST to the poll that sees the run final (dispatch, the bus, the worker
    // and ingestion included).
    let bound = deadline + Duration::from_secs(1);
    let roomy_bound = Duration::from_secs(10 + 1);

    let echo = |round: &str| {
        let echoed = soar.run(hostile, "hostile", "echo", json!([{"value": round}]));
        assert_eq!(echoed.result()["status"], "success", "after {round}: {}", echoed.result());
        assert_eq!(echoed.result()["data"][0]["value"], round);
        echoed.took
    };
    // The first run fetches and compiles the app: that time is no part of any deadline.
    echo("warm-up");
    let echo = |round: &str| {
        let took = echo(round);
        assert!(took < bound, "echo after {round} took {took:?}");
    };

    let spin = soar.run(hostile, "hostile", "spin", json!([{}]));
    spin.assert_stopped("the connector exceeded its 2 s deadline");
    assert!(spin.took >= deadline && spin.took < bound, "spin took {:?}", spin.took);
    echo("spin");

    let recurse = soar.run(hostile, "hostile", "recurse", json!([{}]));
    recurse.assert_stopped("the connector overflowed its stack");
    assert!(recurse.took < bound, "recurse took {:?}", recurse.took);
    echo("recurse");

    let grow = soar.run(hostile, "hostile roomy", "grow memory", json!([{}]));
    grow.assert_stopped("the connector ran out of memory (limit 512 MiB)");
    assert!(grow.took < roomy_bound, "grow memory took {:?}", grow.took);
    echo("grow memory");

    let big = soar.run(hostile, "hostile roomy", "big result", json!([{"megabytes": 100}]));
    big.assert_stopped("the connector's result is ");
    assert!(big.message().ends_with("bytes, more than the 4 MiB allowed"), "{}", big.message());
    assert_eq!(big.result()["data"], json!([]));
    assert!(big.took < roomy_bound, "big result took {:?}", big.took);
    echo("big result");

    let flood = soar.run(hostile, "hostile", "log flood", json!([{"lines": 10000}]));
    flood.assert_stopped("the connector wrote more than 1000 log lines (the limit)");
    assert!(flood.took < bound, "log flood took {:?}", flood.took);
    let log = soar.outpost.log();
    let flood_lines: Vec<&str> = log.lines().filter(|l| l.contains(" flood line ")).collect();
    assert_eq!(flood_lines.len(), 1000, "the lines up to the limit reach the log, then the connector is stopped");
    let tag = format!("action_run_id={}", flood.action_run["id"]);
    assert!(flood_lines.iter().all(|l| l.contains(&tag)), "each line is tagged with its run: {}", flood_lines[0]);
    assert!(log.contains("connector stopped past its log line limit"), "the worker says so");
    echo("log flood");

    // Files, sockets and name lookup: nothing is found, and each attempt is denied by
    // name; arguments are an empty list, read without a report (Python reads them). The data the connector returned shows what it found.
    let snoop = soar.run(hostile, "hostile", "snoop", json!([{}]));
    snoop.assert_stopped(
        "the connector tried to open files, open a tcp socket, open a udp socket and look up a host name, which \
         the sandbox denies",
    );
    let found = &snoop.result()["data"][0];
    assert_eq!(found["files"], json!([]), "{found}");
    assert_eq!(found["passwd"], Value::Null, "{found}");
    assert_eq!(found["env"], json!([]), "{found}");
    assert_eq!(found["args"], json!([]), "{found}");
    for refused in ["socket", "udp", "lookup"] {
        assert!(found[refused].as_str().is_some_and(|s| s.starts_with("error")), "{refused}: {found}");
    }
    assert!(snoop.took < bound, "snoop took {:?}", snoop.took);
    echo("snoop");

    // The environment is empty too; reading it is not reported (see the README).
    let env = soar.run(hostile, "hostile", "snoop", json!([{"what": "env"}]));
    assert_eq!(env.result()["status"], "success", "{}", env.result());
    assert_eq!((env.message(), &env.result()["data"][0]["env"]), ("Nothing found", &json!([])));
    echo("env");

    // An asset's own deadline reaches the worker: 1 s here, under the worker's 10 s.
    let quick = soar.rest.created("/rest/asset", &json!({"name": "hostile quick", "app": hostile, "timeout_secs": 1}));
    assert_eq!(quick["success"], true, "{quick}");
    let spin = soar.run(hostile, "hostile quick", "spin", json!([{}]));
    spin.assert_stopped("the connector exceeded its 1 s deadline");
    assert!(spin.took < Duration::from_secs(2), "spin on a 1 s asset took {:?}", spin.took);
    echo("asset deadline");
}

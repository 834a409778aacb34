#!/usr/bin/env bash
# Checks the deploy files against their schemas, offline once set up:
#   - YAML lint (yamllint, deploy/.yamllint) of every YAML file under deploy/;
#   - Kubernetes manifests against the API schemas kubernetes-validate ships (strict:
#     unknown fields are errors). KEDA's objects have no schema there; the Rust checks
#     in cli/src/deploy_check hold their references;
#   - the compose file against the compose spec (check-jsonschema's vendored schema);
#   - the systemd units with systemd's own verifier (unknown keys and sections, bad
#     values), ExecStart pointed at a stand-in binary since outpost is not installed.
# The tools are installed once from PyPI into a venv under target/.
# What no schema knows (flags, variables, ports, names against the binary) is checked
# by `cargo test -p outpost deploy_check`, part of the workspace tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf 'check-deploy: %s\n' "$*" >&2; }

VENV=${CARGO_TARGET_DIR:-target}/deploy-check-venv
TOOLS=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0 yamllint==1.38.0)
STAMP="$VENV/.tools-${#TOOLS[@]}-$(printf '%s' "${TOOLS[*]}" | cksum | cut -d' ' -f1)"
if [[ ! -f $STAMP ]]; then
    say "installing ${TOOLS[*]} into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${TOOLS[@]}"
    touch "$STAMP"
fi

mapfile -t yaml < <(find deploy -name '*.yml' -o -name '*.yaml' | sort)
say "yamllint: ${yaml[*]} (and deploy/.yamllint)"
"$VENV/bin/yamllint" --strict -c deploy/.yamllint deploy/.yamllint "${yaml[@]}"

say "kubernetes-validate --strict: deploy/k8s"
output=$("$VENV/bin/kubernetes-validate" --strict --quiet deploy/k8s/*.yaml 2>&1) || { echo "$output"; exit 1; }
# Only KEDA's custom resources may lack a schema; anything else unknown is an error.
if grep -v 'Couldn.t find schema for kind \(ScaledObject\|TriggerAuthentication\) with api version keda.sh/' <<<"$output" | grep -q .; then
    echo "$output"
    exit 1
fi

say "check-jsonschema (compose spec): deploy/compose/docker-compose.yml"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose/docker-compose.yml

say "systemd-analyze verify: deploy/systemd"
units=$(mktemp -d)
trap 'rm -rf "$units"' EXIT
for unit in deploy/systemd/*.service; do
    name=$(basename "$unit")
    # A template is verified as an instance of it.
    [[ $name == *@.service ]] && name=${name/@.service/@dmz.service}
    sed 's#^ExecStart=/usr/local/bin/outpost#ExecStart=/bin/true#' "$unit" >"$units/$name"
done
output=$(cd "$units" && systemd-analyze verify --man=no --generators=no ./*.service 2>&1) || { echo "$output"; exit 1; }
if [[ -n $output ]]; then
    echo "$output"
    exit 1
fi
say "all deploy files passed"

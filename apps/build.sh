#!/usr/bin/env bash
# Builds every connector into an installable bundle:
#   dist/<app>.tgz   the bundle (manifest + component), what `outpost app install` takes
#   dist/<app>.wasm  a copy of the component, for the host's tests
#
# Needs bash, tar, gzip, curl, node, python3 (with venv) and a rustup toolchain.
# Idempotent: the datasets are downloaded once into target/datasets/ (then re-runs are
# offline), cargo rebuilds only what changed, componentize-py is installed once into a
# venv under target/python/ (pip's cache there too), a Python component is rebuilt only
# when its sources, the SDK or the WIT changed, and a bundle is rewritten only when its
# manifest or component changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# The connectors shipped as samples, then the test-only one (never install it in
# production: it exists to attack the sandbox in the host's tests).
APPS=(qa geoip whois reputation umbrella hostile)
# Python connectors (apps/<app>/app.py + <app>.json), built with componentize-py.
PY_APPS=(urlscan)
COMPONENTIZE_PY_VERSION=0.25.1
TARGET=wasm32-wasip2
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DATASETS=target/datasets

say() { printf 'build.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The npm integrity (SRI) of a file: "sha512-<base64>".
integrity_of() {
    node -e '
        const data = require("fs").readFileSync(process.argv[1]);
        process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(data).digest("base64"));
    ' "$1"
}

# Downloads one npm package's tarball, checks it against the integrity recorded in the
# repository (and that the registry still publishes the same), and unpacks it into
# $DATASETS/<name>-<version>/. Does nothing when that folder already exists.
fetch_dataset() {
    local package=$1 version=$2 expected=$3
    local base="${package##*/}-$version"
    local dir="$DATASETS/$base" tarball="$DATASETS/$base.tgz"
    [[ -d $dir ]] && return 0
    mkdir -p "$DATASETS"
    if [[ ! -f $tarball || $(integrity_of "$tarball") != "$expected" ]]; then
        say "fetching $package@$version"
        local meta published url
        meta=$(curl -fsSL --retry 3 "https://registry.npmjs.org/$package/$version") ||
            die "cannot read the registry's metadata for $package@$version"
        read -r published url < <(node -e '
            const meta = JSON.parse(process.argv[1]);
            console.log(meta.dist.integrity + " " + meta.dist.tarball);
        ' "$meta")
        [[ $published == "$expected" ]] ||
            die "the registry publishes $package@$version with integrity $published, expected $expected"
        curl -fsSL --retry 3 -o "$tarball.part" "$url" || die "cannot download $url"
        [[ $(integrity_of "$tarball.part") == "$expected" ]] ||
            die "the download of $package@$version does not match its integrity $expected"
        mv "$tarball.part" "$tarball"
    fi
    rm -rf "$dir.part"
    mkdir -p "$dir.part"
    tar -xzf "$tarball" -C "$dir.part"
    mv "$dir.part" "$dir"
}

# Reads "<package> <version> <integrity>" lines (comments and blanks skipped) from every
# connector's datasets.tsv.
fetch_datasets() {
    local list package version integrity
    for list in */datasets.tsv; do
        [[ -f $list ]] || continue
        while read -r package version integrity; do
            [[ -z $package || $package == \#* ]] && continue
            fetch_dataset "$package" "$version" "$integrity"
        done <"$list"
    done
}

# The component file name a manifest asks for (outpost.component), else <app>.wasm.
component_name() {
    node -e '
        const manifest = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        process.stdout.write((manifest.outpost && manifest.outpost.component) || process.argv[2] + ".wasm");
    ' "$1" "$2"
}

# Writes dist/<app>.wasm and dist/<app>.tgz (a gzip'd tar of the manifest and the
# component, plain files at the root). Reproducible: sorted names, fixed owner and mtime.
bundle() {
    local app=$1
    local manifest="$app/$app.json" wasm=${2:-"$TARGET_DIR/$TARGET/release/$app.wasm"}
    [[ -f $manifest ]] || die "$manifest is missing"
    [[ -f $wasm ]] || die "$wasm was not built"
    cmp -s "$wasm" "dist/$app.wasm" || cp "$wasm" "dist/$app.wasm"
    if [[ -f dist/$app.tgz && dist/$app.tgz -nt $manifest && dist/$app.tgz -nt dist/$app.wasm ]]; then
        return 0
    fi
    local component stage
    component=$(component_name "$manifest" "$app")
    stage=$(mktemp -d)
    cp "$manifest" "$stage/$app.json"
    cp "$wasm" "$stage/$component"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=ustar \
        -C "$stage" -cf - "$app.json" "$component" | gzip -9 -n >"dist/$app.tgz.part"
    rm -rf "$stage"
    mv "dist/$app.tgz.part" "dist/$app.tgz"
    say "bundled dist/$app.tgz"
}

# componentize-py in a venv of its own under target/, installed once (pip's cache there
# too, so a rebuilt venv downloads nothing).
componentize_py() {
    local venv="$TARGET_DIR/python/venv"
    local tool="$venv/bin/componentize-py"
    if [[ ! -x $tool ]] || [[ $("$tool" --version 2>/dev/null) != *"$COMPONENTIZE_PY_VERSION"* ]]; then
        command -v python3 >/dev/null || die "python3 is needed for the Python connectors (apt-get install python3 python3-venv)"
        say "installing componentize-py $COMPONENTIZE_PY_VERSION into $venv"
        python3 -m venv "$venv" || die "cannot create a venv (apt-get install python3-venv)"
        PIP_CACHE_DIR="$TARGET_DIR/python/pip-cache" "$venv/bin/pip" install --quiet \
            "componentize-py==$COMPONENTIZE_PY_VERSION" || die "cannot install componentize-py from PyPI"
    fi
    printf '%s' "$tool"
}

# Builds apps/<app>/app.py into $TARGET_DIR/python/<app>.wasm unless its inputs (the
# app's .py files, the SDK, the WIT, the tool's version) are those of the last build.
build_python() {
    local app=$1 tool=$2
    local out="$TARGET_DIR/python/$app.wasm" stamp="$TARGET_DIR/python/$app.inputs"
    local inputs
    inputs=$( (echo "$COMPONENTIZE_PY_VERSION"; cat "$app"/*.py sdk-python/outpost_app/*.py wit/*.wit \
        sdk-python/wit/*.wit sdk-python/wit/deps/*.wit) | sha256sum | cut -d' ' -f1)
    if [[ -f $out && -f $stamp && $(cat "$stamp") == "$inputs" ]]; then
        return 0
    fi
    say "building $app (Python) with componentize-py"
    "$tool" -d wit -d sdk-python/wit -w outpost:python/python-connector@0.1.0 \
        --import-interface-name outpost:connector/types@0.1.0=types \
        --import-interface-name wasi:http/types@0.2.12=http_types \
        componentize app -p "$app" -p sdk-python -o "$out.part" >/dev/null || die "componentize-py failed for $app"
    mv "$out.part" "$out"
    printf '%s' "$inputs" >"$stamp"
}

rustup target add "$TARGET" >/dev/null 2>&1 || rustup target add "$TARGET"
fetch_datasets
cargo build --release --target "$TARGET" --locked
mkdir -p dist
for app in "${APPS[@]}"; do
    bundle "$app"
done
if ((${#PY_APPS[@]})); then
    mkdir -p "$TARGET_DIR/python"
    tool=$(componentize_py)
    for app in "${PY_APPS[@]}"; do
        build_python "$app" "$tool"
        bundle "$app" "$TARGET_DIR/python/$app.wasm"
    done
fi
say "done: $(cd dist && ls -- *.tgz | tr '\n' ' ')"

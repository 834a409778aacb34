#!/usr/bin/env bash
# Builds every connector into an installable bundle:
#   dist/<app>.tgz   the bundle (manifest + component), what `outpost app install` takes
#   dist/<app>.wasm  a copy of the component, for the host's tests
#
# Needs bash, tar, gzip, curl, node and a rustup toolchain. Idempotent: the datasets are
# downloaded once into target/datasets/ (then re-runs are offline), cargo rebuilds only
# what changed, and a bundle is rewritten only when its manifest or component changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

# The connectors shipped as samples, then the test-only one (never install it in
# production: it exists to attack the sandbox in the host's tests).
APPS=(qa geoip whois reputation hostile)
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
    local manifest="$app/$app.json" wasm="$TARGET_DIR/$TARGET/release/$app.wasm"
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

rustup target add "$TARGET" >/dev/null 2>&1 || rustup target add "$TARGET"
fetch_datasets
cargo build --release --target "$TARGET" --locked
mkdir -p dist
for app in "${APPS[@]}"; do
    bundle "$app"
done
say "done: $(cd dist && ls -- *.tgz | tr '\n' ' ')"

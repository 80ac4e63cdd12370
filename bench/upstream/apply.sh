#!/usr/bin/env bash
# A scratch copy of this repository that builds against burn-flex 0.22.1 with the patches
# of bench/upstream/ applied, through a [patch.crates-io] in the copy's Cargo.toml (the
# repository itself never carries a fork of burn).
#
#     bash bench/upstream/apply.sh [SCRATCH]     # default SCRATCH: ../expgrid-patched
#
# SCRATCH/burn-flex: the crate as on crates.io (from cargo's registry cache) plus every
# bench/upstream/*.patch in name order; SCRATCH/expgrid: this working tree (tracked and
# untracked files, uncommitted changes included). Then, for example:
#     python3 bench/compare.py --also patched=SCRATCH/expgrid
#     (cd SCRATCH/expgrid && cargo test --test model_fixtures)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
scratch=$(realpath -m "${1:-$repo/../expgrid-patched}")
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
crate=$(ls -d "$registry"/*/burn-flex-0.22.1 2>/dev/null | head -n 1)
if [ -z "$crate" ]; then
    echo "burn-flex 0.22.1 is not in $registry: build expgrid once (cargo fetch) first" >&2
    exit 1
fi
case "$scratch" in "$repo" | "$repo"/*)
    echo "SCRATCH must lie outside the repository ($repo)" >&2
    exit 1
esac
rm -rf "$scratch"
mkdir -p "$scratch/expgrid"
cp -r "$crate" "$scratch/burn-flex"
for patch in "$here"/*.patch; do
    echo "applying $(basename "$patch")" >&2
    patch --quiet --forward -p1 -d "$scratch/burn-flex" <"$patch"
done
# Tracked and untracked (not ignored) files as they are in the working tree; deleted ones skipped.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done) |
    tar -C "$repo" --null -T - -cf - | tar -C "$scratch/expgrid" -xf -
# The tests read the data from ../shared/data beside the checkout.
if [ -d "$repo/../shared" ]; then ln -s "$(realpath "$repo/../shared")" "$scratch/shared"; fi
printf '\n[patch.crates-io]\nburn-flex = { path = "../burn-flex" }\n' >>"$scratch/expgrid/Cargo.toml"
echo "$scratch/expgrid"

#!/usr/bin/env bash
# Fills DEST with the pinned OASIS STIX 2.1 JSON schemas (and their LICENSE),
# which internal/stix embeds. Source: ../shared/stix2-json-schemas beside the
# repository when present, else the pinned GitHub archive. Either way the
# content is checked against the digest published in shared/SOURCE.md.
# Does nothing when DEST already holds the verified set.
set -euo pipefail

usage() { echo "usage: $0 DEST" >&2; exit 2; }
[ $# -eq 1 ] || usage
dest=${1%/}

commit=3bf9e69dc18dbbe995676c5dde027ead76e2b6fa
want=dea0b53ee3424ce0ee557bad02f5671b3c3d987d9086d17546eecd436fb64361
# STIX_SCHEMAS_URL lets tests point at a local copy of the same archive.
url=${STIX_SCHEMAS_URL:-https://github.com/oasis-open/cti-stix2-json-schemas/archive/$commit.tar.gz}

# digest DIR: the SOURCE.md procedure (run in the folder holding schemas/),
# applied to a folder whose contents are those of schemas/.
digest() {
	(
		cd "$1"
		files=$(find . -type f -name '*.json' | LC_ALL=C sort)
		[ -n "$files" ] || { echo none; exit 0; }
		# shellcheck disable=SC2086
		sha256sum $files | sed 's|  \./|  schemas/|' | sha256sum | cut -d' ' -f1
	)
}

complete() {
	[ -f "$1/LICENSE" ] && [ "$(digest "$1")" = "$want" ]
}

if [ -d "$dest" ] && complete "$dest"; then
	exit 0
fi

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))
shared=$root/../shared/stix2-json-schemas

mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d "$(dirname "$dest")/.schemas.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -d "$shared/schemas" ]; then
	echo "schemas.sh: copying $shared into $dest" >&2
	mkdir "$tmp/out"
	cp -R "$shared/schemas/." "$tmp/out/"
	cp "$shared/LICENSE" "$tmp/out/LICENSE"
else
	echo "schemas.sh: $shared not found; downloading $url" >&2
	curl -fsSL --retry 3 -o "$tmp/archive.tar.gz" "$url"
	tar -xzf "$tmp/archive.tar.gz" -C "$tmp" \
		"cti-stix2-json-schemas-$commit/schemas" "cti-stix2-json-schemas-$commit/LICENSE"
	mv "$tmp/cti-stix2-json-schemas-$commit/schemas" "$tmp/out"
	mv "$tmp/cti-stix2-json-schemas-$commit/LICENSE" "$tmp/out/LICENSE"
fi

got=$(digest "$tmp/out")
if [ "$got" != "$want" ]; then
	echo "schemas.sh: FATAL: schema digest mismatch" >&2
	echo "  want $want" >&2
	echo "  got  $got" >&2
	exit 1
fi

rm -rf "$dest"
mv "$tmp/out" "$dest"
echo "schemas.sh: $dest ready (digest $want)" >&2

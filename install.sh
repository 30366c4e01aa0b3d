#!/bin/sh
# Installs one pinned m365ctl release and verifies its SHA-256 before anything is unpacked.
#
#   M365CTL_VERSION=0.1.0 sh install.sh
#
# Environment:
#   M365CTL_VERSION       the release to install (required: CI never follows "latest")
#   M365CTL_SHA256        the archive's expected SHA-256; without it the release's SHA256SUMS
#                         is used (pin it to trust your repository rather than the release page)
#   M365CTL_REPOSITORY    owner/name of the GitHub repository publishing the releases
#   M365CTL_RELEASES_URL  base URL of the releases (default https://github.com/$REPOSITORY/releases/download)
#   M365CTL_INSTALL_DIR   where the binary goes (default $RUNNER_TEMP/m365ctl/bin or ~/.local/bin)
#   M365CTL_TARGET        Rust target triple of the archive (default: this machine's)
#   M365CTL_VERIFY_PROVENANCE=1  also require `gh attestation verify` of the archive against
#                         the release workflow's build provenance (needs the GitHub CLI and GH_TOKEN)
#
# On a checksum (or provenance) mismatch nothing is installed and the exit code is 1. Under
# GitHub Actions the install directory is added to GITHUB_PATH.
set -eu

fail() {
  echo "m365ctl install: $*" >&2
  exit 1
}

version="${M365CTL_VERSION:-}"
[ -n "$version" ] || fail "set M365CTL_VERSION to the release to install, e.g. M365CTL_VERSION=0.1.0"
version="${version#v}"
repository="${M365CTL_REPOSITORY:-m365ctl/m365ctl}"
base="${M365CTL_RELEASES_URL:-https://github.com/$repository/releases/download}/v$version"

if [ -n "${M365CTL_INSTALL_DIR:-}" ]; then
  dest="$M365CTL_INSTALL_DIR"
elif [ -n "${RUNNER_TEMP:-}" ]; then
  dest="$RUNNER_TEMP/m365ctl/bin"
else
  dest="$HOME/.local/bin"
fi

target="${M365CTL_TARGET:-}"
if [ -z "$target" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Linux-amd64) target=x86_64-unknown-linux-musl ;;
    Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
    Darwin-x86_64) target=x86_64-apple-darwin ;;
    Darwin-arm64 | Darwin-aarch64) target=aarch64-apple-darwin ;;
    *) fail "no prebuilt m365ctl for $(uname -s) $(uname -m); on Windows download the .zip from the release page" ;;
  esac
fi

archive="m365ctl-$version-$target.tar.gz"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT INT TERM

download() {
  curl --fail --silent --show-error --location --retry 3 --output "$2" "$1" ||
    fail "cannot download $1"
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

download "$base/$archive" "$tmp/$archive"
expected="${M365CTL_SHA256:-}"
if [ -z "$expected" ]; then
  download "$base/SHA256SUMS" "$tmp/SHA256SUMS"
  expected="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1 }' "$tmp/SHA256SUMS")"
  [ -n "$expected" ] || fail "SHA256SUMS of v$version does not list $archive; nothing was installed"
fi
actual="$(sha256 "$tmp/$archive")"
if [ "$actual" != "$expected" ]; then
  fail "checksum mismatch for $archive: expected $expected, got $actual; nothing was installed"
fi

if [ "${M365CTL_VERIFY_PROVENANCE:-}" = 1 ]; then
  command -v gh >/dev/null 2>&1 || fail "M365CTL_VERIFY_PROVENANCE=1 needs the GitHub CLI (gh); nothing was installed"
  gh attestation verify "$tmp/$archive" --repo "$repository" >&2 ||
    fail "no valid build provenance for $archive from $repository; nothing was installed"
fi

mkdir -p "$tmp/unpacked" "$dest"
tar -xzf "$tmp/$archive" -C "$tmp/unpacked"
[ -f "$tmp/unpacked/m365ctl" ] || fail "$archive holds no m365ctl binary; nothing was installed"
cp "$tmp/unpacked/m365ctl" "$dest/m365ctl.tmp"
chmod 755 "$dest/m365ctl.tmp"
mv -f "$dest/m365ctl.tmp" "$dest/m365ctl"

if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$dest" >>"$GITHUB_PATH"
fi
echo "m365ctl $version ($target, sha256 $actual) installed in $dest" >&2

#!/usr/bin/env bash
# Installs the real servers ("peers") that backhaul's integration tests run against:
# VictoriaMetrics, graphite carbon-cache + whisper, InfluxDB 1.x (+ its CLI), Prometheus,
# and curl, from Debian's packages; and, from PyPI into a Python venv of the project's own,
# nx-27017 (a MongoDB wire-protocol server backed by SQLite: no real mongod can be
# installed here) with pymongo to read it back. It also checks for moto_server (the
# Kinesis peer, preinstalled in the image's pyenv Python). The tests start every server
# themselves, on free loopback ports, in a temporary directory (see tests/src/peers/).
#
#   scripts/peers.sh install   install what is missing (root for apt; one apt-get install), then check
#   scripts/peers.sh check     print what is installed and what is missing; exit 1 if anything is
#   scripts/peers.sh --list    print the Debian package names, then the PyPI ones
#
# Idempotent: when everything is installed, `install` only runs dpkg-query and imports two
# Python modules (well under a second), and touches neither the network nor apt's lists.
#
# Packages are installed with --no-install-recommends and with service start-up disabled
# (policy-rc.d): on a machine whose apt would start the packaged daemons, they would listen
# on their default ports (8428, 2003, 8086, 9090, ...) on every interface. Deliberately not
# installed here: qemu-system-arm (Debian 12's build removes the image's newer qemu-utils).
#
# The venv: $BACKHAUL_PEERS_VENV if set, else /opt/backhaul-peers/venv for root, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/backhaul-peers/venv; the tests look in the same places
# (tests/src/peers/mongo.rs). It is made with Debian's /usr/bin/python3 when that has venv
# support (python3-venv), else with the python3 on PATH. When moto_server is not on PATH,
# moto goes into the same venv and, for root, /usr/local/bin/moto_server links to it.

set -euo pipefail

PACKAGES=(
    victoria-metrics # victoria-metrics: graphite, OpenTSDB telnet/HTTP, remote write, export
    graphite-carbon  # carbon-cache: the reference graphite server
    python3-whisper  # whisper module + whisper-fetch: reads carbon's .wsp files back
    influxdb         # influxd 1.x with [[graphite]] and [[opentsdb]] inputs
    influxdb-client  # influx CLI
    prometheus       # remote-write receiver and query API
    curl             # used by people debugging a peer by hand
    python3-venv     # Debian's python3 -m venv, for the PyPI peers below
)

# PyPI, into the venv: the versions the harness was verified with.
PY_PACKAGES=(
    nx-27017==0.8.1 # MongoDB wire protocol (OP_MSG) over SQLite
    pymongo==4.20.0 # reads nx-27017 back
)
# Only when moto_server is not already on PATH.
MOTO_PACKAGES=('moto>=5,<6' flask flask-cors boto3)

die() {
    printf 'peers: error: %s\n' "$*" >&2
    exit 1
}

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

missing_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || printf '%s\n' "$p"
    done
}

# Where `install` puts the venv.
venv_target() {
    if [[ -n "${BACKHAUL_PEERS_VENV:-}" ]]; then
        printf '%s\n' "$BACKHAUL_PEERS_VENV"
    elif [[ $(id -u) -eq 0 ]]; then
        printf '/opt/backhaul-peers/venv\n'
    else
        printf '%s/backhaul-peers/venv\n' "${XDG_CACHE_HOME:-$HOME/.cache}"
    fi
}

# The venv the tests use: the first place that has nx-27017 (as tests/src/peers/mongo.rs).
venv_found() {
    local v
    if [[ -n "${BACKHAUL_PEERS_VENV:-}" ]]; then
        printf '%s\n' "$BACKHAUL_PEERS_VENV"
        return
    fi
    for v in /opt/backhaul-peers/venv "${XDG_CACHE_HOME:-$HOME/.cache}/backhaul-peers/venv"; do
        if [[ -x "$v/bin/nx-27017" ]]; then
            printf '%s\n' "$v"
            return
        fi
    done
    venv_target
}

# "nx-27017 VERSION" and "pymongo VERSION" when the venv has both, else nothing.
venv_versions() {
    local v=$1
    [[ -x "$v/bin/nx-27017" && -x "$v/bin/python" ]] || return 0
    "$v/bin/python" - 2>/dev/null <<'PY' || true
import importlib.metadata as m
import nx_27017, pymongo
for name in ("nx-27017", "pymongo"):
    print(name, m.version(name))
PY
}

cmd_check() {
    command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: not a Debian-like machine"
    local p status=0
    for p in "${PACKAGES[@]}"; do
        if is_installed "$p"; then
            printf '  installed  %-18s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p")"
        else
            printf '  MISSING    %s\n' "$p"
            status=1
        fi
    done
    local venv versions name version
    venv=$(venv_found)
    versions=$(venv_versions "$venv")
    for p in "${PY_PACKAGES[@]}"; do
        name=${p%%==*}
        version=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$versions")
        if [[ -n "$version" ]]; then
            printf '  installed  %-18s %s (PyPI, venv %s)\n' "$name" "$version" "$venv"
        else
            printf '  MISSING    %s (PyPI, venv %s)\n' "$name" "$venv"
            status=1
        fi
    done
    local moto_venv
    moto_venv=$(venv_target)
    [[ -x "$moto_venv/bin/moto_server" ]] || moto_venv=$venv
    if command -v moto_server >/dev/null 2>&1; then
        printf '  installed  %-18s %s\n' moto_server "$(command -v moto_server)"
    elif [[ -x "$moto_venv/bin/moto_server" ]]; then
        printf '  NOT ON PATH moto_server       %s (add %s/bin to PATH)\n' "$moto_venv/bin/moto_server" "$moto_venv"
        status=1
    else
        printf '  MISSING    moto_server\n'
        status=1
    fi
    return $status
}

# The Python that makes the venv: Debian's when it can (python3-venv), else the one on PATH.
venv_python() {
    local py
    for py in /usr/bin/python3 "$(command -v python3 || true)"; do
        if [[ -x "$py" ]] && "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            printf '%s\n' "$py"
            return
        fi
    done
    die "no python3 with venv support (apt-get install python3-venv)"
}

install_venv() {
    local venv
    venv=$(venv_target)
    if [[ -n "$(venv_versions "$venv")" ]] &&
        "$venv/bin/python" - "${PY_PACKAGES[@]}" >/dev/null 2>&1 <<'PY'; then
import importlib.metadata as m, sys
sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
        printf 'peers: %s already in %s\n' "${PY_PACKAGES[*]}" "$venv"
        return 0
    fi
    if [[ ! -x "$venv/bin/pip" ]]; then
        local py
        py=$(venv_python)
        printf '+ %s -m venv %s\n' "$py" "$venv"
        mkdir -p "$(dirname "$venv")"
        "$py" -m venv "$venv" || die "cannot make the venv $venv"
    fi
    printf '+ %s/bin/pip install %s\n' "$venv" "${PY_PACKAGES[*]}"
    "$venv/bin/pip" install -q "${PY_PACKAGES[@]}" </dev/null ||
        die "pip install failed for: ${PY_PACKAGES[*]} (see pip's messages above)"
    [[ -n "$(venv_versions "$venv")" ]] || die "nx-27017 or pymongo still missing from $venv"
}

install_moto() {
    if command -v moto_server >/dev/null 2>&1; then
        printf 'peers: moto_server already on PATH (%s)\n' "$(command -v moto_server)"
        return 0
    fi
    local venv
    venv=$(venv_target)
    if [[ ! -x "$venv/bin/moto_server" ]]; then
        printf '+ %s/bin/pip install %s\n' "$venv" "${MOTO_PACKAGES[*]}"
        "$venv/bin/pip" install -q "${MOTO_PACKAGES[@]}" </dev/null ||
            die "pip install failed for: ${MOTO_PACKAGES[*]} (see pip's messages above)"
    fi
    if [[ $(id -u) -eq 0 ]]; then
        printf '+ ln -sf %s/bin/moto_server /usr/local/bin/moto_server\n' "$venv"
        ln -sf "$venv/bin/moto_server" /usr/local/bin/moto_server
    else
        printf 'peers: moto_server is in %s/bin: add it to PATH\n' "$venv"
    fi
}

# policy-rc.d that forbids starting services, put in place only for the install when the
# machine has none (a Docker-style image already ships one that exits 101).
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
remove_own_policy() {
    if ((OWN_POLICY)); then
        rm -f "$POLICY"
    fi
}

cmd_install() {
    local start=$SECONDS
    install_packages
    install_venv
    install_moto
    printf 'peers: ready (%ds)\n' $((SECONDS - start))
}

install_packages() {
    local start=$SECONDS
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install the peers by hand: ${PACKAGES[*]}"
    local missing
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]} == 0)); then
        printf 'peers: all %d packages already installed (%ds)\n' "${#PACKAGES[@]}" $((SECONDS - start))
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || die "not root: cannot install ${missing[*]} (run: sudo $0 install)"

    printf 'peers: installing %s\n' "${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    printf '+ apt-get update\n'
    apt-get update -q </dev/null || die "apt-get update failed"

    # Name the package that cannot be installed before apt-get's own, longer, error.
    local p policy unavailable=()
    for p in "${missing[@]}"; do
        policy=$(apt-cache policy "$p" 2>/dev/null || true)
        [[ "$policy" =~ Candidate:\ [^\(] ]] || unavailable+=("$p")
    done
    ((${#unavailable[@]} == 0)) || die "no installation candidate for: ${unavailable[*]}"

    if [[ ! -e "$POLICY" ]]; then
        printf '#!/bin/sh\n# written by backhaul scripts/peers.sh for one apt-get install\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
        OWN_POLICY=1
        trap remove_own_policy EXIT
    fi
    printf '+ apt-get install -y --no-install-recommends %s\n' "${missing[*]}"
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null; then
        remove_own_policy
        die "apt-get install failed for: ${missing[*]} (see apt's messages above)"
    fi
    remove_own_policy

    local still
    mapfile -t still < <(missing_packages)
    ((${#still[@]} == 0)) || die "still not installed after apt-get install: ${still[*]}"
    printf 'peers: installed %d packages in %ds\n' "${#missing[@]}" $((SECONDS - start))
}

case "${1:-}" in
install) cmd_install ;;
check) cmd_check ;;
--list) printf '%s\n' "${PACKAGES[@]}" "${PY_PACKAGES[@]}" ;;
-h | --help | '')
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
    [[ -n "${1:-}" ]]
    ;;
*)
    printf 'peers: unknown command %s\n' "$1" >&2
    exit 2
    ;;
esac

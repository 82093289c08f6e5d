#!/usr/bin/env bash
# Installs the real servers ("peers") that backhaul's integration tests run against:
# VictoriaMetrics, graphite carbon-cache + whisper, InfluxDB 1.x (+ its CLI), Prometheus,
# and curl. Debian packages only; the tests start every server themselves, on free loopback
# ports, in a temporary directory (see tests/src/peers/).
#
#   scripts/peers.sh install   install what is missing (root; one apt-get install), then check
#   scripts/peers.sh check     print what is installed and what is missing; exit 1 if anything is
#   scripts/peers.sh --list    print the package names
#
# Idempotent: when everything is installed, `install` only runs dpkg-query (well under a
# second) and touches neither the network nor apt's lists.
#
# Packages are installed with --no-install-recommends and with service start-up disabled
# (policy-rc.d): on a machine whose apt would start the packaged daemons, they would listen
# on their default ports (8428, 2003, 8086, 9090, ...) on every interface. Deliberately not
# installed here: qemu-system-arm (Debian 12's build removes the image's newer qemu-utils).

set -euo pipefail

PACKAGES=(
    victoria-metrics # victoria-metrics: graphite, OpenTSDB telnet/HTTP, remote write, export
    graphite-carbon  # carbon-cache: the reference graphite server
    python3-whisper  # whisper module + whisper-fetch: reads carbon's .wsp files back
    influxdb         # influxd 1.x with [[graphite]] and [[opentsdb]] inputs
    influxdb-client  # influx CLI
    prometheus       # remote-write receiver and query API
    curl             # used by people debugging a peer by hand
)

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
    return $status
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
--list) printf '%s\n' "${PACKAGES[@]}" ;;
-h | --help | '')
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
    [[ -n "${1:-}" ]]
    ;;
*)
    printf 'peers: unknown command %s\n' "$1" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Runs the README's `make test` from a clean clone on a minimal Debian 12 root made with debootstrap: the closest
# thing to a fresh Debian 12 server this machine can give without a VM. Needs root and the debootstrap package.
#
#   sudo bash scripts/fresh-machine-check.sh [REPO]     # REPO: a git checkout (default: this one); its HEAD is tested
#
# Environment: FRESH_ROOT (default /srv/fresh-bookworm, wiped and rebuilt), FRESH_LOG (default /srv/fresh-run.log),
# FRESH_MIRROR (default http://deb.debian.org/debian), FRESH_REUSE=1 keeps an existing root (only the clone is
# redone: for rerunning after a fix, not for the proof), FRESH_TESTS="tests/test_x.py ..." runs only those test
# files after `make install pywb` (again only for rerunning a failing part). FRESH_EXTRA_CA=/path/ca.crt: the CA of
# a TLS-intercepting proxy between this host and PyPI (this workplace has one): trusted in the root and given to
# pip, because that is the network's doing, not the machine's; a machine with a direct route needs none.
# The chroot runs in its own mount and PID namespaces: its mounts never reach the host and every daemon the
# packages start (PostgreSQL and Redis start on install, as on a real machine) dies when the run ends.
set -euo pipefail

ROOT=${FRESH_ROOT:-/srv/fresh-bookworm}
LOG=${FRESH_LOG:-/srv/fresh-run.log}
MIRROR=${FRESH_MIRROR:-http://deb.debian.org/debian}
REPO=$(cd "${1:-$(dirname "$0")/..}" && pwd)
# What a user installs before `make test` (README, "Two commands on a fresh machine"): nothing else is added.
PREREQUISITES="git make python3 python3-venv ca-certificates sudo"

if [ "${FRESH_INSIDE:-}" = 1 ]; then
  # ------------------------------------------------ inside the new mount + PID namespaces (see the end of the file)
  cleanup() {
    for m in tmp dev/shm dev/pts dev sys proc; do
      mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"
    done
  }
  trap cleanup EXIT
  mount --make-rprivate /
  mount -t proc proc "$ROOT/proc"          # this namespace's processes only
  mount -t sysfs sysfs "$ROOT/sys"
  mount --bind /dev "$ROOT/dev"
  mount --bind /dev/pts "$ROOT/dev/pts"
  mount -t tmpfs -o mode=1777 tmpfs "$ROOT/dev/shm"   # Chromium's shared memory
  mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  # A login's environment on a Debian 12 server (cloud images set LANG=C.UTF-8), nothing from this host.
  in_root() {
    nice -n 19 ionice -c3 chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$1"
  }
  if [ "${FRESH_BOOTSTRAPPED:-}" = 1 ]; then
    echo "== prerequisites: apt-get install $PREREQUISITES"
    in_root "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PREREQUISITES >/dev/null"
  fi
  if [ -n "${FRESH_EXTRA_CA:-}" ]; then
    echo "== trusting the network's TLS proxy CA $FRESH_EXTRA_CA (system store, and pip's, which defaults to certifi)"
    cp "$FRESH_EXTRA_CA" "$ROOT/usr/local/share/ca-certificates/network-proxy-ca.crt"
    in_root "update-ca-certificates >/dev/null"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$ROOT/etc/pip.conf"
  fi
  echo "== clean clone of $(git -C "$ROOT/srv/xxgk-watch.git" rev-parse HEAD)"
  in_root "rm -rf /root/xxgk-watch && git clone -q /srv/xxgk-watch.git /root/xxgk-watch"
  start=$(date +%s)
  if [ -n "${FRESH_TESTS:-}" ]; then
    echo "== make install pywb, then pytest $FRESH_TESTS"
    set +e; in_root "cd /root/xxgk-watch && make install pywb && .venv/bin/python -m pytest -q $FRESH_TESTS"
  else
    echo "== make test (the README's command)"
    set +e; in_root "cd /root/xxgk-watch && make test"
  fi
  status=$?; set -e
  echo "== exit status $status after $(( ($(date +%s) - start) / 60 )) min"
  exit $status
fi

[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap, chroot and mounts need it)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "install debootstrap first: apt-get install debootstrap" >&2; exit 2; }
# A root still mounted from an interrupted run must not be wiped through its bind mounts.
if grep -q " $ROOT/" /proc/mounts; then echo "$ROOT has mounts left: umount them first" >&2; exit 2; fi

exec > >(tee "$LOG") 2>&1
echo "== $(date -u '+%F %T UTC') fresh-machine check of $REPO into $ROOT"
bootstrapped=0
if [ "${FRESH_REUSE:-}" != 1 ] || [ ! -x "$ROOT/usr/bin/git" ]; then
  rm -rf --one-file-system "$ROOT"
  echo "== debootstrap bookworm (required + important packages: a Debian 12 server without tasks)"
  nice -n 19 ionice -c3 debootstrap bookworm "$ROOT" "$MIRROR" >/dev/null
  # What the installer adds and debootstrap does not: the updates and security suites, hostname, hosts.
  cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  echo fresh-bookworm > "$ROOT/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tfresh-bookworm\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    > "$ROOT/etc/hosts"
  bootstrapped=1
fi
# The repository as a user would clone it: a bare copy of REPO's HEAD, nothing untracked, no venvs.
rm -rf "$ROOT/srv/xxgk-watch.git"
git init -q --bare -b main "$ROOT/srv/xxgk-watch.git"
git -C "$ROOT/srv/xxgk-watch.git" fetch -q "$REPO" "HEAD:refs/heads/main"

set +e
FRESH_INSIDE=1 FRESH_BOOTSTRAPPED=$bootstrapped FRESH_ROOT="$ROOT" \
  unshare --mount --pid --fork --propagation private bash "$0" "$REPO"
status=$?
set -e
if grep -q " $ROOT/" /proc/mounts; then echo "!! mounts left under $ROOT" >&2; status=3; fi
echo "== $(date -u '+%F %T UTC') done, exit status $status; pytest's summary:"
grep -E '^(=+ )?[0-9]+ (passed|failed|errors?)|^(FAILED|ERROR) ' "$LOG" | tail -40 || true
exit $status

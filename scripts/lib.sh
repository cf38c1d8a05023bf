# Shared settings for the mnmirror scripts (sourced, not run).
# Everything built or fetched is cached outside the repository, in $MNM_CACHE.
MNM_CACHE=${MNM_CACHE:-/var/cache/mnmirror}
MNM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MNM_KSRC_TAR=${MNM_KSRC_TAR:-/usr/src/linux-source-6.12.tar.xz}
MNM_KSRC=$MNM_CACHE/src/linux-source-6.12

mnm_log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
mnm_die() { mnm_log "error: $*"; exit 1; }

# Directory of the O= build of a flavour (debug or perf).
mnm_kbuild_dir() { echo "$MNM_CACHE/build-$1"; }

# Debian's stock kernel, unpacked (not installed) under $MNM_CACHE/stock.
mnm_stock_dir() { echo "$MNM_CACHE/stock"; }

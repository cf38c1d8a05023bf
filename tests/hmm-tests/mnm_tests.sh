#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mnm_tests.sh: the mnmirror selftests with hmm_mirror and mnmirror loaded
# (the TEST_PROGS of tests/hmm-tests; what mm/test_hmm.sh is to upstream's
# hmm-tests).
#
# Usage: mnm_tests.sh [smoke|all] [MODULE_DIR] [[MODULE.]PARAM=VALUE ...]
#
#   smoke        mnm-tests and mnm-stale-tests (the default)
#   all          every program: also mnm-api-tests, mnm-runtime-tests,
#                mnm-pressure-tests and mnm-trace-tests
#   MODULE_DIR   where hmm_mirror.ko and mnmirror.ko are: side by side, or a
#                build tree (lib/hmm_mirror.ko, drivers/gpu/mnmirror/
#                mnmirror.ko, as build/FLAVOUR of the project); default
#                $MNM_MODULES
#   PARAM=VALUE  a parameter for mnmirror (also mnmirror.PARAM=VALUE);
#                hmm_mirror.PARAM=VALUE one for hmm_mirror
#
# Modules already loaded are used as they are (parameters are then not
# applied).  Otherwise they are inserted from MODULE_DIR if one is given,
# else with modprobe if installed for the running kernel (DKMS), and at the
# end this removes what it loaded, and only that.  The programs are those
# beside this script, or in $MNM_TESTS_DIR.  MNM_MODULE and MNM_MODULE_ARGS
# (mnmirror.ko and its parameters, for the test that reloads it) are set for
# the programs unless already set.
#
# Exit status (kselftest): 0 pass, 1 fail, 4 skip (not root, no modules, no
# render node of driver mnmirror), with the reason printed.

ksft_pass=0
ksft_fail=1
ksft_skip=4

me=${0##*/}
smoke_progs="mnm-tests mnm-stale-tests"
all_progs="mnm-tests mnm-stale-tests mnm-api-tests mnm-runtime-tests mnm-pressure-tests mnm-trace-tests"

usage()
{
	cat <<EOF
Usage: $me [smoke|all] [MODULE_DIR] [[MODULE.]PARAM=VALUE ...]
  smoke        mnm-tests and mnm-stale-tests (the default)
  all          every program
  MODULE_DIR   where hmm_mirror.ko and mnmirror.ko are, side by side or as
               in a build tree (lib/, drivers/gpu/mnmirror/); default
               \$MNM_MODULES; without one, modprobe (installed modules)
  PARAM=VALUE  a parameter for mnmirror; hmm_mirror.PARAM=VALUE for hmm_mirror
EOF
	exit "$1"
}

say()
{
	echo "# $me: $*"
}

mode=smoke
moddir=${MNM_MODULES:-}
hparams=()
mparams=()
for arg in "$@"; do
	case $arg in
	smoke|all) mode=$arg ;;
	-h|--help|help) usage 0 ;;
	hmm_mirror.*=*) hparams+=("${arg#hmm_mirror.}") ;;
	mnmirror.*=*) mparams+=("${arg#mnmirror.}") ;;
	*.*=*)
		say "$arg: only parameters of mnmirror and hmm_mirror"
		usage "$ksft_fail" >&2
		;;
	*=*) mparams+=("$arg") ;;
	*)
		if [ -d "$arg" ]; then
			moddir=$arg
		else
			say "$arg: not a mode (smoke, all), a directory or PARAM=VALUE"
			usage "$ksft_fail" >&2
		fi
		;;
	esac
done
case $mode in
smoke) progs=$smoke_progs ;;
all) progs=$all_progs ;;
esac

skip()
{
	say "SKIP: $*"
	exit "$ksft_skip"
}

if [ "$(id -u)" -ne 0 ]; then
	skip "must be run as root (loads modules, uses debugfs)"
fi

is_loaded()
{
	[ -d "/sys/module/$1" ]
}

# $1: module name; prints the file to insert, or the name for modprobe.
# Fails (with the reason on stdout) when there is none for this kernel.
find_module()
{
	local name=$1 f sub vermagic

	if [ -n "$moddir" ]; then
		case $name in
		hmm_mirror) sub=lib ;;
		mnmirror) sub=drivers/gpu/mnmirror ;;
		esac
		for f in "$moddir/$name.ko" "$moddir/$sub/$name.ko" ""; do
			[ -n "$f" ] && [ -f "$f" ] && break
		done
		if [ -z "$f" ]; then
			echo "no $name.ko in $moddir (nor in $moddir/$sub)"
			return 1
		fi
		# Never try to insert a module built for another kernel.
		vermagic=$(modinfo -F vermagic "$f" 2>/dev/null)
		if [ "${vermagic%% *}" != "$(uname -r)" ]; then
			echo "$f is built for ${vermagic%% *}, this kernel is $(uname -r)"
			return 1
		fi
		echo "$f"
	elif command -v modprobe >/dev/null 2>&1 &&
	     modinfo -n "$name" >/dev/null 2>&1; then
		echo "$name"
	else
		echo "$name is not loaded nor installed for $(uname -r): install it (DKMS) or give the directory of the build (MNM_MODULES=DIR or an argument)"
		return 1
	fi
}

loaded=()
# $1: name, $2: file or name (find_module), the rest: parameters.
load()
{
	local name=$1 src=$2 dep
	shift 2

	# mnmirror.ko's dependencies other than hmm_mirror: drm when DRM=m.
	for dep in $(modinfo -F depends "$src" 2>/dev/null | tr , ' '); do
		[ "$dep" = hmm_mirror ] && continue
		is_loaded "$dep" && continue
		if ! modprobe "$dep"; then
			unload
			skip "$name needs module $dep, which did not load"
		fi
		loaded+=("$dep")
	done
	say "loading $src${*:+ $*}"
	if [ "$src" = "$name" ]; then
		modprobe "$name" "$@"
	else
		insmod "$src" "$@"
	fi || return 1
	loaded+=("$name")
}

# Remove what load() inserted, in reverse order; 1 if one stays.
unload()
{
	local i name ret=0

	for ((i = ${#loaded[@]} - 1; i >= 0; i--)); do
		name=${loaded[i]}
		is_loaded "$name" || continue
		say "unloading $name"
		rmmod "$name" || ret=1
	done
	loaded=()
	return $ret
}

# Is there a render node of driver "mnmirror"?  The mock's platform devices
# (mnmirror.N) have no bus driver bound: their modalias names it.
have_node()
{
	local n drv

	for n in /sys/class/drm/renderD*; do
		[ -c "/dev/dri/${n##*/}" ] || continue
		drv=$(readlink "$n/device/driver" 2>/dev/null)
		if [ "$(cat "$n/device/modalias" 2>/dev/null)" = platform:mnmirror ] ||
		   [ "${drv##*/}" = mnmirror ]; then
			return 0
		fi
	done
	return 1
}

child=''
# shellcheck disable=SC2317 # a trap handler
on_signal()
{
	trap - INT TERM
	if [ -n "$child" ]; then
		# The harness runs each test in a process group of its own:
		# stop the whole session, then give it time to exit.
		pkill -TERM -s "$child" 2>/dev/null ||
			kill -TERM "$child" 2>/dev/null
		wait "$child"
		for ((i = 0; i < 10; i++)); do
			pgrep -s "$child" >/dev/null 2>&1 || break
			sleep 1
		done
	fi
	unload
	exit "$ksft_fail"
}
trap on_signal INT TERM

# Find both before loading either.
hmm_src=''
mnm_src=''
if is_loaded hmm_mirror; then
	[ ${#hparams[@]} -eq 0 ] ||
		say "hmm_mirror is loaded already: ${hparams[*]} not applied"
else
	hmm_src=$(find_module hmm_mirror) || skip "$hmm_src"
fi
if is_loaded mnmirror; then
	[ ${#mparams[@]} -eq 0 ] ||
		say "mnmirror is loaded already: ${mparams[*]} not applied"
else
	mnm_src=$(find_module mnmirror) || skip "$mnm_src"
fi
if [ -n "$hmm_src" ] && ! load hmm_mirror "$hmm_src" "${hparams[@]}"; then
	say "FAIL: hmm_mirror did not load"
	exit "$ksft_fail"
fi
if [ -n "$mnm_src" ]; then
	if ! load mnmirror "$mnm_src" "${mparams[@]}"; then
		say "FAIL: mnmirror did not load"
		unload
		exit "$ksft_fail"
	fi
	# mnm-tests' module_unload_with_device_pages reinserts it.
	if [ -z "${MNM_MODULE:-}" ]; then
		if [ "$mnm_src" = mnmirror ]; then
			MNM_MODULE=$(modinfo -n mnmirror 2>/dev/null)
		else
			MNM_MODULE=$mnm_src
		fi
		MNM_MODULE_ARGS="${mparams[*]}"
		export MNM_MODULE MNM_MODULE_ARGS
	fi
fi

# devtmpfs or udev makes the node: give it a moment.
for ((i = 0; i < ${MNM_NODE_WAIT:-10}; i++)); do
	have_node && break
	sleep 1
done
if ! have_node; then
	unload
	skip "no /dev/dri render node of driver mnmirror (no devtmpfs or udev on /dev?)"
fi

dir=${MNM_TESTS_DIR:-$(dirname "$0")}
passed=0 failed=0 skipped=0
for prog in $progs; do
	if [ ! -x "$dir/$prog" ]; then
		say "FAIL: no $dir/$prog (make -C tests/hmm-tests builds it)"
		failed=$((failed + 1))
		continue
	fi
	say "running $prog"
	# In a session of its own (setsid), so that a signal to this script
	# stops the harness and its test processes too, before the unload.
	if command -v setsid >/dev/null 2>&1; then
		setsid "$dir/$prog" &
	else
		"$dir/$prog" &
	fi
	child=$!
	wait "$child"
	st=$?
	child=''
	case $st in
	0) passed=$((passed + 1)) ;;
	4) skipped=$((skipped + 1)) ;;
	*)
		say "$prog exited $st"
		failed=$((failed + 1))
		;;
	esac
done

if ! unload; then
	say "FAIL: a module did not unload"
	failed=$((failed + 1))
fi
say "programs: $passed passed, $failed failed, $skipped skipped ($mode)"
if [ "$failed" -gt 0 ]; then
	exit "$ksft_fail"
elif [ "$passed" -eq 0 ]; then
	exit "$ksft_skip"
fi
exit "$ksft_pass"

#!/usr/bin/env bash
# Runs every fuzz target of the module (every func FuzzXxx in a *_test.go
# file), one after another, each for a bounded time, and reports which
# failed. Each target's committed seeds (testdata/fuzz/<Name>/) are replayed
# by plain `go test` as well; this script searches beyond them.
#
#   scripts/fuzz.sh                 # every target, FUZZTIME each
#   scripts/fuzz.sh 'Config|Ingest' # only targets whose name matches the regex
#
# Environment:
#   FUZZTIME          time (or count, e.g. 5000x) per target      default 20s
#   FUZZMINIMIZETIME  time to minimise an input (new or failing)   default 10s
#   FUZZTIMEOUT       go test -timeout per target (hard bound)     default 5m
#   FUZZPARALLEL      fuzzing workers per target                   default GOMAXPROCS
#   GO                the go command                               default go
#
# A failing input is written by go test to <package>/testdata/fuzz/<Name>/;
# fix the bug and commit that file as a regression seed (or delete it).
# The total time is bounded by (number of targets) x FUZZTIMEOUT, in
# practice about (number of targets) x (FUZZTIME + build time).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10s}
FUZZTIMEOUT=${FUZZTIMEOUT:-5m}
filter=${1:-.}

parallel=()
if [[ -n ${FUZZPARALLEL:-} ]]; then
	parallel=(-parallel="$FUZZPARALLEL")
fi

# Packages whose tests declare a fuzz target. Listing only these keeps
# `go test -list` away from packages whose TestMain needs services.
mapfile -t pkgs < <(
	grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata --exclude-dir=node_modules \
		'^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' . |
		xargs -r -n1 dirname | sort -u
)
if ((${#pkgs[@]} == 0)); then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

targets=() # "package target"
for pkg in "${pkgs[@]}"; do
	while IFS= read -r name; do
		if [[ $name =~ ^Fuzz && $name =~ $filter ]]; then
			targets+=("$pkg $name")
		fi
	done < <("$GO" test -list '^Fuzz' "$pkg")
done
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz target matches '$filter'" >&2
	exit 1
fi

echo "fuzz: ${#targets[@]} targets, $FUZZTIME each"
failed=()
start=$SECONDS
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "=== $name ($pkg)"
	if ! "$GO" test "$pkg" -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" \
		-fuzzminimizetime="$FUZZMINIMIZETIME" -timeout="$FUZZTIMEOUT" "${parallel[@]}"; then
		failed+=("$name ($pkg)")
	fi
done

echo "fuzz: ran ${#targets[@]} targets in $((SECONDS - start))s"
if ((${#failed[@]} > 0)); then
	echo "fuzz: FAILED:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	echo "fuzz: the failing inputs are under <package>/testdata/fuzz/<Name>/" >&2
	exit 1
fi
echo "fuzz: all targets passed"

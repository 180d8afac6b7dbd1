# Quick start on a fresh Debian 12 machine: `make run`, `make test`.
# The real build is CMake; this file installs what it needs and drives it.

DEBIAN_PACKAGES := build-essential cmake pkg-config clang libuv1-dev \
	libsodium-dev libzstd-dev libmsgpack-dev libcriterion-dev libinih-dev \
	libsystemd-dev libpcre2-dev libssl-dev python3 python3-nacl \
	python3-zstandard python3-msgpack zstd bsdutils libclang-rt-14-dev procps \
	iproute2 scdoc man-db systemd debhelper dpkg-dev fakeroot lintian \
	openssl rsyslog rsyslog-relp rsyslog-openssl rsyslog-gnutls libivykis0 \
	libnet1 libwrap0 libjson-c5 libpcre3 libcurl4-openssl-dev libcairo2-dev \
	libpango1.0-dev fonts-dejavu-core poppler-utils libnats-dev nats-server \
	haproxy

JOBS := $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CTEST := ctest --output-on-failure -j2 --timeout 600
# The inner make gets its own -j, not ours: no jobserver warnings, no
# "Entering directory" noise in CI logs.
CMAKE_BUILD := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps build build-asan build-release test install deb run bench bench-compare bench-query fuzz clean

all: build

deps:
	@missing=; \
	for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | \
			grep -qx installed || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y $$missing; \
	fi

build: deps
	cmake -S . -B build
	$(CMAKE_BUILD) build -j$(JOBS)

build-asan: deps
	cmake -S . -B build-asan -DCUSTODY_SANITIZE=ON
	$(CMAKE_BUILD) build-asan -j$(JOBS)

# Compiled, not tested: the optimiser's warnings (-Werror) and
# _FORTIFY_SOURCE differ from the default build's.
build-release: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release
	$(CMAKE_BUILD) build-release -j$(JOBS)

# cmake --install: programs, man pages, unit, sysusers.d, tmpfiles.d,
# /etc/custody/custodyd.conf (never over an existing one), documents.
install: build
	cmake --install build

# custody_VERSION_amd64.deb in build-deb/, built from a copy of the tree
# (dpkg-buildpackage writes beside the source) and checked by lintian.
deb: deps
	rm -rf build-deb && mkdir -p build-deb/src
	git ls-files -co --exclude-standard -z | \
		xargs -0 cp --parents -t build-deb/src
	cd build-deb/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		DEB_BUILD_OPTIONS=parallel=$(JOBS) dpkg-buildpackage -b -us -uc
	lintian --fail-on error build-deb/*.changes
	tests/package/deb_install.sh build-deb/custody_*_amd64.deb

# Both suites run even when the first fails, so one CI run reports every
# failure; the target fails if either did.
test: build
	@status=0; \
	(cd build && $(CTEST)) || status=1; \
	$(MAKE) --no-print-directory build-asan || exit 1; \
	(cd build-asan && $(ASAN_ENV) $(CTEST)) || status=1; \
	$(MAKE) --no-print-directory build-release || status=1; \
	$(MAKE) --no-print-directory deb || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED"; fi; \
	exit $$status

run: build
	mkdir -p -m 0700 data
	exec ./build/custodyd --data-dir ./data --set server.allow_root=yes \
		--listen tcp://127.0.0.1:6514 \
		--listen udp://127.0.0.1:6514 \
		--listen unix://$(CURDIR)/data/log.sock

# Each build/bench/NAME runs with no arguments (BENCH=NAME for one); the
# same environment as the tests lets a benchmark start its own collector.
BENCH ?=
bench: build
	@set -e; \
	export CUSTODYD=$(CURDIR)/build/custodyd \
		CUSTODY_VERIFY=$(CURDIR)/build/custody-verify \
		CUSTODY_QUERY=$(CURDIR)/build/custody-query \
		CUSTODY_BUILD_DIR=$(CURDIR)/build CUSTODY_SOURCE_DIR=$(CURDIR) \
		CUSTODY_PYTHON=/usr/bin/python3; \
	for b in $(if $(BENCH),build/bench/$(BENCH),build/bench/*); do \
		[ -x "$$b" ] || { echo "make bench: no benchmark $$b"; exit 1; }; \
		echo "== $$b"; "$$b"; \
	done; \
	$(if $(BENCH),,echo "== bench/ingest.sh"; bench/ingest.sh)

# The longer runs, each documented in bench/README.md: custodyd against
# rsyslog and syslog-ng (installs them), and queries over a simulated day.
bench-compare: build
	CUSTODY_BUILD_DIR=$(CURDIR)/build bench/compare.sh

bench-query: build
	CUSTODY_BUILD_DIR=$(CURDIR)/build bench/bench_query.sh

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCUSTODY_FUZZ=ON
	$(CMAKE_BUILD) build-fuzz -j$(JOBS)
	@echo "fuzzers are in build-fuzz/tests/fuzz/, e.g." \
		"build-fuzz/tests/fuzz/fuzz_NAME tests/fuzz/corpus/NAME"

# data/ holds evidence: never removed by a make target.
clean:
	rm -rf build build-asan build-release build-fuzz build-deb

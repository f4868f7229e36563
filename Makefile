# The two commands a newcomer needs: `make demo` and `make check`. Both install what is
# missing first (scripts/deps.sh), then build with meson.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MESON_FLAGS ?= -Dwerror=true
BRAID := $(BUILD)/src/braid
# Where `make install` puts things; DESTDIR (staging, packaging) goes in front of it.
PREFIX ?= /usr/local

.PHONY: all deps build demo check test-build test-asan test-fuzz bench bench-traces bench-tunnel clean \
	install uninstall

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	$(BRAID) demo

# braid and braidd in PREFIX/bin, their manual pages, bash completion, the systemd units
# and example configuration files (README: Install). The build directory is set to PREFIX
# first when it was configured for another.
install: build
	@prefix=$$(meson introspect $(BUILD) --buildoptions | /usr/bin/python3 -c \
	  'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))'); \
	if [ "$$prefix" != "$(PREFIX)" ]; then \
	  meson configure $(BUILD) -Dprefix=$(PREFIX) && ninja -C $(BUILD); fi
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

# Removes what the last `make install` put in place (meson's install log).
uninstall:
	ninja -C $(BUILD) uninstall

# Every suite in the normal build, unit and sim again under ASan+UBSan, and a short
# libFuzzer run of every target; then one line with the totals.
check: deps
	@rm -f .check-logs
	$(MAKE) --no-print-directory test-build test-asan test-fuzz; status=$$?; \
	  /usr/bin/python3 scripts/test_summary.py $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD); \
	  summary=$$?; [ $$status -eq 0 ] && [ $$summary -eq 0 ]

test-build: build
	meson test -C $(BUILD) --print-errorlogs --no-rebuild --num-processes 2

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) $(MESON_FLAGS) -Db_sanitize=address,undefined -Db_lundef=false

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs --no-rebuild --suite unit --suite sim

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) $(MESON_FLAGS) -Dfuzz=true

test-fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	meson test -C $(FUZZ_BUILD) --print-errorlogs --no-rebuild --suite fuzz

bench: build
	bash bench/run.sh $(BUILD)
	bash bench/sim_speed.sh
	/usr/bin/python3 bench/braidd.py --build $(BUILD)
	/usr/bin/python3 bench/sessions.py --build $(BUILD)
	$(MAKE) --no-print-directory bench-traces

# braid tunnel against the direct path in network namespaces (root; docs/tunnel.md).
bench-tunnel: build
	/usr/bin/python3 bench/tunnel.py --build $(BUILD)
	/usr/bin/python3 bench/tunnel.py --build $(BUILD) --psk

# Sender modes against the clairvoyant bound on recorded cellular traces (../shared/traces
# or BRAID_TRACES=DIR); BENCH_TRACES_FLAGS=--synthetic-only runs the project's own alone.
bench-traces: build
	/usr/bin/python3 bench/traces.py --build $(BUILD) $(BENCH_TRACES_FLAGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

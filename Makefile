# wattprof build. `make` builds build/wattprof and the fake NVML used by tests and the demo;
# `make check` runs every test, then all of them again under ASan+UBSan.
# Out-of-tree builds: make BUILD=build-clang CC=clang
VERSION := 0.1.0
BUILD ?= build
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
PKG_CONFIG ?= pkg-config
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS ?= -O2 -g
SAN ?=
ifeq ($(SAN),1)
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
SQLITE_CFLAGS := $(shell $(PKG_CONFIG) --cflags sqlite3)
SQLITE_LIBS := $(shell $(PKG_CONFIG) --libs sqlite3 || echo -lsqlite3)
# net-snmp (libsnmp-dev) for the SNMP PDU source; its .pc file is "netsnmp".
SNMP_CFLAGS := $(shell $(PKG_CONFIG) --cflags netsnmp 2>/dev/null)
# Only its headers at build time: src/sources/snmp.c loads the library with dlopen.
SNMP_LIBS :=
# libfreeipmi (the ipmi source) is optional: without its header the source says how to get
# it. Only the header at build time: src/sources/ipmi.c loads the library with dlopen.
ifneq ($(shell $(PKG_CONFIG) --exists libfreeipmi && echo yes),)
  FREEIPMI_CFLAGS := $(shell $(PKG_CONFIG) --cflags libfreeipmi) -DWP_HAVE_FREEIPMI
endif
FREEIPMI_LIBS :=
# KISS FFT (the swing spectrum, src/analysis/swings.c): BSD-licensed and small; Debian builds
# it in float, which the spectrum's mean-removed segments need no more than.
FFT_CFLAGS := $(shell $(PKG_CONFIG) --cflags kissfft-float)
FFT_LIBS := $(shell $(PKG_CONFIG) --libs kissfft-float || echo -lkissfft-float)
# src/net: the metrics server (libmicrohttpd) and basic auth hashes (libcrypt); `top` draws
# with ncursesw.
MHD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmicrohttpd)
# Only libmicrohttpd's header at build time: src/net/http.c loads it with dlopen.
MHD_LIBS := -lcrypt
CURSES_CFLAGS := $(shell $(PKG_CONFIG) --cflags ncursesw)
CURSES_LIBS := $(shell $(PKG_CONFIG) --libs ncursesw || echo -lncursesw)
# Redfish: libcurl for HTTPS (its JSON is parsed with jansson, below). Only its header at
# build time: src/sources/redfish.c loads it with dlopen when a redfish source opens.
NET_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcurl)
NET_LIBS :=
JANSSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags jansson)
JANSSON_LIBS := $(shell $(PKG_CONFIG) --libs jansson || echo -ljansson)
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Isrc -Iinclude \
  $(SQLITE_CFLAGS) $(SNMP_CFLAGS) $(FREEIPMI_CFLAGS) $(FFT_CFLAGS) $(NET_CFLAGS) \
  -DWP_VERSION='"$(VERSION)"' -pthread -fPIC
LDLIBS := $(SQLITE_LIBS) $(SNMP_LIBS) $(FREEIPMI_LIBS) $(FFT_LIBS) $(NET_LIBS) $(MHD_LIBS) \
  -ldl -lm -pthread
# jansson parses JSON we read (model files, report JSON, sweeps); zlib reads gzip CSV.
ALL_CFLAGS += $(JANSSON_CFLAGS)
LDLIBS += $(JANSSON_LIBS) -lz
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)

CORE_SRC := $(sort $(wildcard src/core/*.c src/sources/*.c src/store/*.c src/analysis/*.c \
  src/recorder/*.c src/marks/*.c src/plan/*.c src/report/*.c src/net/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
CORE_LIB := $(BUILD)/libwattprof-core.a

FAKE_NVML := $(BUILD)/fake-nvml/libnvidia-ml.so.1
FAKE_SRC := $(sort $(wildcard tests/fake_nvml/*.c))
# Variants of the fake that lack one symbol, as an old or broken driver library would.
FAKE_OMIT := nvmlDeviceGetSamples nvmlDeviceGetFieldValues nvmlDeviceGetComputeRunningProcesses_v3
FAKE_VARIANTS := $(FAKE_OMIT:%=$(BUILD)/fake-nvml/no-%/libnvidia-ml.so.1)

# The DCMI module that tests load into OpenIPMI's ipmi_sim (a BMC on 127.0.0.1); built only
# where libopenipmi-dev's headers are (scripts/deps.sh test installs them).
ifneq ($(wildcard /usr/include/OpenIPMI/mcserv.h),)
  DCMI_SIM := $(BUILD)/ipmi/dcmi_sim.so
endif

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

ifneq ($(NVCC),)
  BURN := $(BUILD)/wattprof-burn
endif

# The Slurm SPANK plugin (contrib/slurm), built where libslurm-dev's spank.h is; it reads the
# report's JSON with jansson (libjansson-dev).
SPANK_H := $(wildcard /usr/include/slurm/spank.h)
ifneq ($(SPANK_H),)
  SPANK := $(BUILD)/contrib/spank_wattprof.so
endif

.PHONY: all check check-plain check-san test-bin install clean format format-check burn
all: $(BUILD)/wattprof $(FAKE_NVML) $(BURN) $(SPANK)

$(BUILD)/obj/src/cli/top.o: ALL_CFLAGS += $(CURSES_CFLAGS)
$(BUILD)/obj/src/net/http.o: ALL_CFLAGS += $(MHD_CFLAGS)
$(BUILD)/fuzz/obj/src/net/http.o: FUZZ_CFLAGS += $(MHD_CFLAGS)
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Zone intensity series are installed here and looked up by `--intensity ZONE`.
DATADIR ?= $(PREFIX)/share/wattprof
$(BUILD)/obj/src/cli/plan_common.o: ALL_CFLAGS += -DWP_DATADIR='"$(DATADIR)"'

$(CORE_LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/wattprof: $(CLI_OBJ) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(CORE_LIB) $(LDLIBS) $(CURSES_LIBS)

# The fake NVML replays recorded traces (gzip or plain CSV) through the real dlopen path.
$(FAKE_NVML): $(FAKE_SRC) src/sources/nvml_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libnvidia-ml.so.1 -o $@ $(FAKE_SRC) -lz -lm -pthread

$(BUILD)/fake-nvml/no-%/libnvidia-ml.so.1: $(FAKE_SRC) src/sources/nvml_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFAKE_OMIT_$* -shared -Wl,-soname,libnvidia-ml.so.1 -o $@ $(FAKE_SRC) -lz -lm -pthread

# It sends its phase marks through libwattprof, like any job would, and writes its JSON line
# with the core library's JSON writer (only json.o is linked from it).
$(BUILD)/wattprof-burn: bench/burn/burn.cu $(BUILD)/libwattprof.a $(CORE_LIB) \
  include/wattprof/marks.h src/core/json.h
	@mkdir -p $(dir $@)
	$(NVCC) -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 \
	  -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=compute_90 \
	  -Iinclude -Isrc -o $@ $< $(BUILD)/libwattprof.a $(CORE_LIB) -lcublas -lcublasLt
burn: $(BUILD)/wattprof-burn

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CORE_LIB) -lcmocka $(LDLIBS)

test-bin: $(BUILD)/wattprof $(FAKE_NVML) $(FAKE_VARIANTS) $(UNIT_BIN) $(DCMI_SIM) $(SPANK)

$(BUILD)/ipmi/dcmi_sim.so: tests/ipmi/dcmi_sim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -shared -o $@ $<

# Never with the sanitizers: slurmd and slurmstepd load it, and they are not instrumented.
$(BUILD)/contrib/spank_wattprof.so: contrib/slurm/spank_wattprof.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC $(JANSSON_CFLAGS) $(LDFLAGS) -shared \
	  -o $@ $< $(JANSSON_LIBS)

# One runner for unit and integration tests; its last line reads "N passed, N failed".
check-plain: test-bin
	BUILD=$(BUILD) tests/run.sh

check-san:
	$(MAKE) BUILD=build-san SAN=1 test-bin
	ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  BUILD=build-san tests/run.sh

check: check-plain
	$(MAKE) check-san

install: $(BUILD)/wattprof
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/wattprof $(DESTDIR)$(PREFIX)/bin/wattprof
	if [ -f $(BUILD)/wattprof-burn ]; then install -m 755 $(BUILD)/wattprof-burn $(DESTDIR)$(PREFIX)/bin/; fi
	if [ -f docs/wattprof.1 ]; then install -m 644 docs/wattprof.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi
	install -d $(DESTDIR)$(DATADIR)/carbon
	install -m 644 data/carbon/*.csv.gz data/carbon/README.md $(DESTDIR)$(DATADIR)/carbon/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-clang

-include $(CORE_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# ---- libwattprof: the marks client library for jobs (owner: phase marks) ----
# libwattprof.a/.so hold only the client (include/wattprof/marks.h) and need libc alone; the
# receiver and parser live in the core library. wattprof.pc is rewritten on every build so it
# always names the PREFIX given to this make (make install PREFIX=/usr after a plain make).
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
LIBWP_SRC := $(sort $(wildcard src/libwattprof/*.c))
LIBWP_OBJ := $(LIBWP_SRC:%.c=$(BUILD)/obj/%.o)
LIBWP_HEADERS := include/wattprof/marks.h
LIBWP_SONAME := libwattprof.so.0

.PHONY: install-lib libwattprof-force
all: $(BUILD)/libwattprof.a $(BUILD)/libwattprof.so $(BUILD)/wattprof.pc
test-bin: $(BUILD)/libwattprof.a $(BUILD)/libwattprof.so
install: install-lib

$(BUILD)/libwattprof.a: $(LIBWP_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The extra libwattprof.so.0 link lets programs linked against the build tree run from it.
$(BUILD)/libwattprof.so: $(LIBWP_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,$(LIBWP_SONAME) -o $@ $^
	ln -sf libwattprof.so $(BUILD)/$(LIBWP_SONAME)

$(BUILD)/wattprof.pc: libwattprof-force
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: wattprof' 'Description: wattprof phase marks client' 'Version: $(VERSION)' \
	  'Libs: -L$${libdir} -lwattprof' 'Cflags: -I$${includedir}' \
	  > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# The marks test sends with the client as well as receiving, so it links both libraries.
$(BUILD)/tests/test_marks: tests/unit/test_marks.c $(BUILD)/libwattprof.a $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libwattprof.a $(CORE_LIB) -lcmocka \
	  $(LDLIBS)

install-lib: $(BUILD)/libwattprof.a $(BUILD)/libwattprof.so $(BUILD)/wattprof.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/wattprof $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 $(LIBWP_HEADERS) $(DESTDIR)$(INCLUDEDIR)/wattprof/
	install -m 644 $(BUILD)/libwattprof.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libwattprof.so $(DESTDIR)$(LIBDIR)/libwattprof.so.$(VERSION)
	ln -sf libwattprof.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBWP_SONAME)
	ln -sf $(LIBWP_SONAME) $(DESTDIR)$(LIBDIR)/libwattprof.so
	install -m 644 $(BUILD)/wattprof.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

-include $(LIBWP_OBJ:.o=.d)
# ---- end libwattprof ----

# bench/perf/day_bench.sh: a day of 8 GPUs through the NVML source and the writer, virtual clock
$(BUILD)/day_gen: bench/perf/day_gen.c $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(CORE_LIB) $(LDLIBS)

# ---- fuzzing: libFuzzer targets (clang only; Debian ships the runtime in libclang-rt-dev) ----
# `make fuzz` builds $(BUILD)/fuzz/fuzz_NAME from tests/fuzz/fuzz_NAME.c against the core built
# again with coverage, ASan and UBSan. tests/fuzz/run.sh SECONDS runs them on their corpora.
# SQLite is linked statically so a target runs on a machine that has only the binary.
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) -g -O1 $(FUZZ_SAN) -Isrc -Iinclude \
  $(SQLITE_CFLAGS) $(FFT_CFLAGS) $(NET_CFLAGS) $(JANSSON_CFLAGS) -DWP_VERSION='"$(VERSION)"' -pthread
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_OBJ := $(CORE_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_SQLITE := $(firstword $(wildcard $(shell $(PKG_CONFIG) --variable=libdir sqlite3 \
  2>/dev/null)/libsqlite3.a) -lsqlite3)

.PHONY: fuzz
fuzz: $(FUZZ_BIN)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/libcore.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libcore.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libcore.a \
	  $(FUZZ_SQLITE) $(SNMP_LIBS) $(FREEIPMI_LIBS) $(FFT_LIBS) $(NET_LIBS) $(JANSSON_LIBS) \
	  $(MHD_LIBS) -lz -ldl -lm -pthread

-include $(FUZZ_OBJ:.o=.d)

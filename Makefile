# wsgikit — every entry point. `make run` and `make test` work on a fresh
# Debian 12 machine: they install what is missing first (setup).

export PATH := /usr/local/go/bin:$(PATH)
PYTHON ?= /usr/bin/python3
GO ?= go
BIN := bin
OUT ?= out

# Debian packages the tests and the main job need. nginx-light provides nginx.
DEB_PACKAGES := python3-dev pkg-config gunicorn uwsgi uwsgi-plugin-python3 \
	python3-waitress python3-flask python3-django python3-cheroot python3-gevent \
	apache2 libapache2-mod-wsgi-py3 nginx-light wrk chromium fonts-dejavu-core

# The extension is built per interpreter: named with its EXT_SUFFIX, against
# its headers only (never linked to libpython).
EXT_SUFFIX = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
PY_INCLUDE = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
EXT = $(BIN)/lib/_wsgikit$(EXT_SUFFIX)
GO_SRC = $(shell find . -name '*.go' -not -path './out/*') go.mod go.sum
WORKER_SRC = $(wildcard server/worker/*.go server/worker/*.c server/worker/*.h)

.PHONY: all setup build test run bench-serve check-update fuzz fuzz-parser vet clean

all: build

setup:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "setup: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "setup: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "setup: missing packages; run: sudo apt-get install -y$$missing"; exit 1; fi
	@# Debian starts the services it installs; nothing here may listen on public ports.
	@-service nginx stop >/dev/null 2>&1; service apache2 stop >/dev/null 2>&1; true

build: $(BIN)/wsgikit $(EXT)

$(BIN)/wsgikit: $(GO_SRC)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/wsgikit

$(EXT): $(WORKER_SRC) $(GO_SRC)
	@test -f $(PY_INCLUDE)/Python.h || { echo "build: $(PY_INCLUDE)/Python.h missing; install the interpreter's dev headers (Debian: python3-dev)"; exit 1; }
	@mkdir -p $(BIN)/lib
	CGO_ENABLED=1 CGO_CFLAGS="-I$(PY_INCLUDE) -O2 -g" $(GO) build -tags wsgikit_ext -buildmode=c-shared -trimpath -o $@ ./server/worker
	@rm -f $(basename $@).h

vet:
	$(GO) vet ./...
	CGO_ENABLED=1 CGO_CFLAGS="-I$(PY_INCLUDE) -O2 -g" $(GO) vet -tags wsgikit_ext ./server/worker

test: setup build vet
	WSGIKIT_BIN=$(CURDIR)/$(BIN)/wsgikit WSGIKIT_PYTHON=$(PYTHON) WSGIKIT_ARTIFACTS=$(CURDIR)/$(OUT)/artifacts $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz-parser FUZZTIME=15s

FUZZTIME ?= 60s
# package:target pairs; the parser's run in `make test` too (fuzz-parser).
PARSER_FUZZ := server/http1:FuzzParse server/http1:FuzzBody
OTHER_FUZZ := server/http1:FuzzValidators conformance/framework:FuzzReadResponse loadgen:FuzzResponse loadgen:FuzzScenarioTOML \
	reports:FuzzRender internal/harness:FuzzParseStat internal/harness:FuzzExpand internal/harness:FuzzSplitCommand

fuzz-parser:
	@for t in $(PARSER_FUZZ); do \
	  $(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) || exit 1; done

fuzz: fuzz-parser
	@for t in $(OTHER_FUZZ); do \
	  $(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) || exit 1; done

# The main job: every verdict and number goes into the report, so peers
# failing MUSTs (check exits 1) do not stop it; the summary shows them.
run: setup build
	-$(BIN)/wsgikit check --list-failures=false -o $(OUT)/check
	$(BIN)/wsgikit bench --server wsgikit,gunicorn-gthread,uwsgi,waitress --scenario hello,flask \
		--rounds 2 -d 4s --warmup 1s --pin 'server=0 client=1' -o $(OUT)/bench
	$(BIN)/wsgikit report $(OUT)/check/check.json $(OUT)/bench/bench.json -o $(OUT)/report --summary

# Rewrites the conformance goldens (spec list, verdicts per peer) from a
# fresh run: review the diff against the peers' documented behaviour first.
check-update: setup build
	WSGIKIT_BIN=$(CURDIR)/$(BIN)/wsgikit $(GO) test -count=1 ./conformance -run 'TestRegistry|TestGoldenVerdicts|TestOutputsGolden' -args -update

bench-serve: setup build
	WSGIKIT_BIN=$(CURDIR)/$(BIN)/wsgikit $(GO) run ./cmd/benchserve

clean:
	rm -rf $(BIN) $(OUT)

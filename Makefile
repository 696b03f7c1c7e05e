# Two commands on a fresh Debian/Ubuntu machine with Swift installed:
#   make demo   installs system packages, finds (or downloads) MNIST, builds release, trains on a
#               local cluster (a coordinator and WORKERS worker processes over ZeroMQ), evaluates
#   make test   installs what the tests need and runs the whole suite
SHELL := /bin/bash
RUN ?= runs/demo
WORKERS ?= 2
ARGS ?=

.PHONY: demo test deps build release bench clean

deps:
	@scripts/install-deps.sh

release: deps
	swift build -c release --product digits

demo: release
	.build/release/digits data show
	rm -rf $(RUN)
	.build/release/digits cluster --workers $(WORKERS) --out $(RUN) $(ARGS)
	.build/release/digits evaluate --model $(RUN)/model.digits

test: deps
	scripts/test.sh

bench: release
	scripts/bench/compare.sh

clean:
	rm -rf .build runs

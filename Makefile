# Thin wrapper over CMake so the quick start is two short commands.
#   make          build (Release) into build/
#   make run      install missing packages, build, run the main job
#   make test     install missing packages, build, run every test
#   make asan-test / tsan-test   the suite under ASan+UBSan / TSan
#   make fuzz     build the libFuzzer targets and run each for FUZZ_SECONDS
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
SHARED ?= $(abspath ../shared)
CMAKE_FLAGS ?=

.PHONY: all build deps run test asan-test tsan-test fuzz bench clean format

all: build

deps:
	@./scripts/deps.sh

build/Makefile:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSLM_SHARED_DIR=$(SHARED) $(CMAKE_FLAGS)

build: build/Makefile
	@$(MAKE) --no-print-directory -C build -j$(JOBS)

run: deps build
	@./scripts/run.sh

test: deps build
	cd build && ctest --output-on-failure -j$(JOBS)

build-asan/Makefile:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSLM_SANITIZE=address -DSLM_SHARED_DIR=$(SHARED)

asan-test: deps build-asan/Makefile
	@$(MAKE) --no-print-directory -C build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

build-tsan/Makefile:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DSLM_SANITIZE=thread -DSLM_SHARED_DIR=$(SHARED)

tsan-test: deps build-tsan/Makefile
	@$(MAKE) --no-print-directory -C build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j$(JOBS) -L tsan

fuzz: deps build
	@./scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-tsan build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

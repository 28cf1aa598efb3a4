"""docker-compose.yml and the Dockerfile: `docker compose config` where an engine exists, else the YAML itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")

yaml = pytest.importorskip("yaml", reason="PyYAML reads docker-compose.yml (a dev dependency)")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def command(service: dict) -> str:
    value = service["command"]
    return value if isinstance(value, str) else " ".join(value)


def has_compose_engine() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not has_compose_engine(), reason="no docker compose here: the YAML tests below check the file")
def test_docker_compose_accepts_the_file():
    env = {**os.environ, "SECRET_KEY": "test-only"}
    result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_it_runs_the_web_a_worker_and_beat_with_postgresql_and_redis(services):
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "beat"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert command(services["web"]).startswith("gunicorn healing.wsgi:application --bind 0.0.0.0:8000")
    assert command(services["worker"]).startswith("celery -A healing worker")
    assert command(services["beat"]).startswith("celery -A healing beat")


def test_the_app_services_share_one_image(services):
    assert {services[name]["image"] for name in APP_SERVICES} == {"healing:latest"}
    assert {services[name]["build"] for name in APP_SERVICES} == {"."}


def test_migrations_run_once_before_the_app_starts(services):
    migrate = services["migrate"]
    assert "manage.py migrate --noinput" in command(migrate) and "load_instruments" in command(migrate)
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name


def test_every_long_running_service_has_a_health_check(services):
    for name in ("db", "redis", "web", "worker", "beat"):
        check = services[name]["healthcheck"]
        assert check["test"] and check["interval"] and check["retries"], name
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])


def test_the_app_reads_production_settings_from_the_environment(services):
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DEBUG"] == "0"
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # refuses to start without one
        assert re.fullmatch(r"postgres://healing:\$\{POSTGRES_PASSWORD:-healing\}@db:5432/healing", env["DATABASE_URL"])
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert env["REPORTS_DIR"] == "/data/reports"
        # Rate limits count across web processes only with a shared cache, apart from the broker's database.
        assert env["CACHE_URL"].startswith("redis://redis:6379/") and env["CACHE_URL"] != env["CELERY_BROKER_URL"]


def test_reports_live_on_a_volume_the_web_and_the_worker_share(compose, services):
    assert "reports:/data/reports" in services["web"]["volumes"]
    assert "reports:/data/reports" in services["worker"]["volumes"]
    assert {"pgdata", "redisdata", "reports"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "--appendonly" in command(services["redis"])  # queued tasks survive a Redis restart


def test_the_dockerfile_builds_one_slim_image_with_pip(services):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm$", dockerfile, re.M)  # a pinned release
    assert re.search(r"pip install (--no-deps )?\.", dockerfile)
    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^USER healing$", dockerfile, re.M)  # not root
    assert re.search(r"^HEALTHCHECK ", dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", "tests", "benchmarks", "docs"} <= set(ignored)


def test_every_image_is_a_pinned_release(services):
    for name in ("db", "redis"):
        assert re.fullmatch(r"[a-z]+:\d+\.\d+(\.\d+)?-bookworm", services[name]["image"]), name


def test_behind_its_proxy_each_client_keeps_its_own_address(services):
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]  # only the proxy on this host reaches gunicorn
    for name in APP_SERVICES:
        assert services[name]["environment"]["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"


def test_gunicorn_is_a_dependency():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.match(r"gunicorn\b", dep) for dep in dependencies)


def test_the_image_the_compose_web_and_the_submit_benchmark_run_one_gunicorn_configuration(services):
    """What docs/performance.md measures is what production runs: gunicorn.conf.py, named by every command."""
    dockerfile_cmd = re.search(r"^CMD (.*)$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    bench = (ROOT / "benchmarks" / "bench_submit.py").read_text()
    for text in (command(services["web"]), dockerfile_cmd, bench):
        assert re.search(r'--config"?,? "?gunicorn\.conf\.py', text)
    config = (ROOT / "gunicorn.conf.py").read_text()
    assert 'worker_class = "gthread"' in config

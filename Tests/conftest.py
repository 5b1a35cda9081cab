"""Shared by the three Python suites: `Tests/e2e` (the contract end to end), `Tests/faults` (kill -9, broken
receivers, storage faults, clock steps, PostgreSQL) and `Tests/browser` (the console in Chromium). The harness
(`Tests/harness`) starts real `vigil serve` processes and real webhook receivers; `fault_harness.yaml_config` is
the one configuration builder."""
import glob, os, sys
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "harness"))
import fault_harness as fh  # noqa: E402

# What must never appear in a server's log line: the addresses, numbers and notes the tests give, and every secret.
PERSONAL = ["123 Main St", "Main St", "+15551234567", "5551234567", "side door code 1234", "naloxone on the table",
            "9 Full St", "10 Space St", "1 Bench St"]


@pytest.fixture
def receiver():
    r = fh.Receiver()
    yield r
    r.close()


@pytest.fixture
def vigils():
    started = []

    def make(config_text, **kw):
        v = fh.Vigil(config_text, **kw)
        started.append(v)
        return v

    yield make
    for v in started:
        v.stop()


def personal_data_in_logs():
    """Every log line any server wrote in this run that holds personal data or a secret, as `file:line: what`."""
    found = []
    for path in glob.glob(os.path.join(fh.LOG_DIR, "*.log")):
        with open(path, errors="replace") as f:
            for n, line in enumerate(f, 1):
                for secret in PERSONAL + [fh.TOKEN, fh.SECRET, fh.SECRET[len("whsec_"):]]:
                    if secret in line:
                        found.append(f"{os.path.basename(path)}:{n}: {secret!r}")
    return found


def pytest_sessionstart(session):
    # Each run checks only the logs it wrote.
    for path in glob.glob(os.path.join(fh.LOG_DIR, "*.log")):
        os.remove(path)


def pytest_sessionfinish(session, exitstatus):
    """After every test, whatever ran and in whatever order: no log line holds personal data or a secret. A find
    fails the run."""
    found = personal_data_in_logs()
    logs = glob.glob(os.path.join(fh.LOG_DIR, "*.log"))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.ensure_newline()
    if found:
        if reporter:
            reporter.write_line("personal data or a secret in server logs:\n  " + "\n  ".join(found[:20]), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter and logs:
        reporter.write_line(f"privacy of logs: {len(logs)} server logs checked, no personal data or secret")

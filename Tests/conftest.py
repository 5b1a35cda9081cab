"""Shared by the three Python suites: `Tests/e2e` (the contract end to end), `Tests/faults` (kill -9, broken
receivers, storage faults, clock steps, PostgreSQL) and `Tests/browser` (the console in Chromium). The harness
(`Tests/harness`) starts real `vigil serve` processes and real webhook receivers; `fault_harness.yaml_config` is
the one configuration builder."""
import base64, glob, os, re, sys
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "harness"))
import fault_harness as fh  # noqa: E402

# What must never appear in a server's log line or a command's stderr: the addresses, numbers, notes and substance
# the tests give, responders' names and phones, and every secret (tokens, webhook secrets, the database password,
# encryption keys).
PERSONAL = ["123 Main St", "Main St", "+15551234567", "5551234567", "side door code 1234", "naloxone on the table",
            "9 Full St", "10 Space St", "1 Bench St", "fentanyl", "+1 (555) 765-4321", "+15557654321",
            "5557654321", "+15550001111", "5550001111"]
PERSONAL_WORDS = ["Sam", "Kim"]  # responders' names, matched as whole words
SECRETS = [fh.TOKEN, fh.SECRET, fh.SECRET[len("whsec_"):], "vigil-test-password-0123456789",
           base64.b64encode(b"k" * 32).decode(), base64.b64encode(b"o" * 32).decode()]
# Every token the suites make ends in a run of digits or letters after "-token-": any such string is a token.
TOKEN_SHAPE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*-token-[a-z0-9-]{4,}")
WORDS = re.compile(r"\b(" + "|".join(PERSONAL_WORDS) + r")\b")


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
    """Every line any server or command wrote in this run that holds personal data or a secret, as
    `file:line: what`."""
    found = []
    for path in glob.glob(os.path.join(fh.LOG_DIR, "*.log")):
        with open(path, errors="replace") as f:
            for n, line in enumerate(f, 1):
                for secret in PERSONAL + SECRETS:
                    if secret in line:
                        found.append(f"{os.path.basename(path)}:{n}: {secret!r}")
                for m in TOKEN_SHAPE.findall(line) + WORDS.findall(line):
                    found.append(f"{os.path.basename(path)}:{n}: {m!r}")
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

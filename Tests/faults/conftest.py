import os, subprocess, sys, tempfile
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import fault_harness as fh  # noqa: E402


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


@pytest.fixture(scope="session")
def pki():
    """A private CA, a server certificate for localhost, and a client certificate from a second CA."""
    d = tempfile.mkdtemp(prefix="vigil-pki-")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    for ca in ("ca", "clientca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
            "-days", "2", "-subj", f"/CN=Vigil test {ca}")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=vigil")
    run("x509", "-req", "-in", "client.csr", "-CA", "clientca.pem", "-CAkey", "clientca.key", "-CAcreateserial",
        "-out", "client.pem", "-days", "2")
    return d

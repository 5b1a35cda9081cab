import os, subprocess, sys, tempfile
import pytest

import fault_harness as fh  # noqa: E402,F401  (on the path through Tests/conftest.py)


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

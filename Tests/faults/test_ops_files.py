"""The operations files as shipped: nginx accepts the proxy configuration, and it logs no credentials."""
import os, shutil, subprocess, tempfile
import pytest
import fault_harness as fh

CONF = os.path.join(fh.ROOT, "ops", "nginx-vigil.conf")


def test_nginx_accepts_the_shipped_configuration(pki):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is missing: apt-get install nginx-light (scripts/setup-debian.sh --test installs it)")
    d = tempfile.mkdtemp(prefix="vigil-nginx-")
    text = open(CONF).read()
    text = text.replace("/etc/ssl/vigil/fullchain.pem", os.path.join(pki, "server.pem"))
    text = text.replace("/etc/ssl/vigil/privkey.pem", os.path.join(pki, "server.key"))
    text = text.replace("/var/log/nginx/", d + "/")
    with open(os.path.join(d, "vigil.conf"), "w") as f:
        f.write(text)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  include {d}/vigil.conf;\n}}\n")
    r = subprocess.run([nginx, "-t", "-p", d, "-c", os.path.join(d, "nginx.conf")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "syntax is ok" in r.stderr


def test_the_access_log_format_has_no_query_string_and_masks_personal_links():
    text = open(CONF).read()
    fmt = text[text.index("log_format"):text.index(";", text.index("log_format"))]
    for leak in ["$request ", "$request\"", "$request_uri", "$args", "$query_string", "$uri"]:
        assert leak not in fmt, leak
    assert "$vigil_log_path" in fmt
    assert "access_log /var/log/nginx/vigil.access.log vigil_private;" in text


def test_the_two_instance_example_configuration_passes_config_check(tmp_path):
    import base64, subprocess
    text = open(os.path.join(fh.ROOT, "ops", "two-instances", "vigil.yaml")).read()
    ca = tmp_path / "db-ca.pem"
    ca.write_text("placeholder\n")
    path = tmp_path / "vigil.yaml"
    path.write_text(text.replace("/etc/vigil/db-ca.pem", str(ca)))
    env = dict(os.environ, VIGIL_DB_PASSWORD="x", VIGIL_ENCRYPTION_KEY=base64.b64encode(b"k" * 32).decode(),
               VIGIL_OPERATOR_TOKEN="operator-token-0123456789", EMS_SECRET=fh.SECRET)
    r = fh.run([fh.BIN, "config", "check", str(path)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_configuration_key_the_loader_accepts_is_documented_in_the_example():
    """config/vigil.example.yaml is the configuration's reference: each key any `allowed:` list of the loader
    accepts appears there as a key (commented out or not)."""
    import glob, re
    keys = set()
    # Keys are listed in `allowed: [...]` (or `allowed: Set([...])`) and in `…Keys: Set<String> = [...]` constants.
    lists = re.compile(r"(?:allowed:\s*(?:Set\()?|Keys:\s*Set<String>\s*=\s*)\[([^\]]*)\]")
    # An entry of the resources file is documented in config/resources.example.yaml instead.
    resource_list = re.compile(r"resourceKeys:\s*Set<String>\s*=\s*\[([^\]]*)\]")
    resource_keys = set()
    for path in glob.glob(os.path.join(fh.ROOT, "Sources", "VigilRuntime", "Config*.swift")):
        text = open(path).read()
        for m in resource_list.finditer(text):
            resource_keys |= set(re.findall(r'"([a-z_0-9]+)"', m.group(1)))
        for m in lists.finditer(resource_list.sub("", text)):
            keys |= set(re.findall(r'"([a-z_0-9]+)"', m.group(1)))
    assert len(keys) > 30, f"the loader's keys were not found ({len(keys)})"
    example = open(os.path.join(fh.ROOT, "config", "vigil.example.yaml")).read()
    written = set(re.findall(r"(?:^|[\s{,])#?\s*([a-z_0-9]+):", example, re.M))
    missing = sorted(keys - written)
    assert not missing, f"accepted by the loader but not documented in config/vigil.example.yaml: {missing}"
    assert len(resource_keys) > 5, f"the resources file's keys were not found ({len(resource_keys)})"
    resources = open(os.path.join(fh.ROOT, "config", "resources.example.yaml")).read()
    written = set(re.findall(r"(?:^|[\s{,])#?\s*-?\s*([a-z_0-9]+):", resources, re.M))
    missing = sorted(resource_keys - written)
    assert not missing, f"a resource's key not documented in config/resources.example.yaml: {missing}"

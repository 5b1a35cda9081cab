"""A throwaway PostgreSQL 15 cluster (Debian's binaries), started and stopped by the tests themselves."""
import os, pwd, shutil, subprocess, tempfile, time
import fault_harness as fh

BIN = "/usr/lib/postgresql/15/bin"


class Postgres:
    """One cluster on 127.0.0.1 with password authentication; can be stopped, started and killed."""

    user = "vigil"
    password = "vigil-test-password-0123456789"
    database = "vigil"

    def __init__(self):
        if not os.path.exists(os.path.join(BIN, "initdb")):
            raise RuntimeError("PostgreSQL 15 is missing: apt-get install postgresql-15 "
                               "(scripts/setup-debian.sh --test installs it)")
        self.dir = tempfile.mkdtemp(prefix="vigil-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = fh.free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password)
        if self.as_root:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        self.run("initdb", "-D", self.data, "-U", self.user, "--pwfile", pwfile, "--auth=scram-sha-256",
                 "-E", "UTF8", "--no-instructions")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                    "fsync = on\nsynchronous_commit = on\nmax_connections = 200\n")
        self.start()
        self.psql("postgres", f"CREATE DATABASE {self.database}")

    def run(self, tool, *args, check=True, env=None):
        cmd = [os.path.join(BIN, tool), *args]
        if env:
            cmd = ["env", *[f"{k}={v}" for k, v in env.items()], *cmd]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "30", "start")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def psql(self, db, sql):
        env = dict(os.environ, PGPASSWORD=self.password)
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", db,
                               "-v", "ON_ERROR_STOP=1", "-Atc", sql], env=env, capture_output=True, text=True,
                              check=True, timeout=30).stdout

    @property
    def url(self):
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Standby(Postgres):
    """A streaming standby of `primary`, made with `pg_basebackup -R` on its own port; `promote()` makes it the
    primary. It does not wait for a standby of its own once promoted (`synchronous_standby_names` is cleared)."""

    def __init__(self, primary):
        self.dir = tempfile.mkdtemp(prefix="vigil-pg-standby-")
        self.data = os.path.join(self.dir, "data")
        self.port = fh.free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", self.user, "-D", self.data,
                 "-R", "-X", "stream", "-c", "fast", env={"PGPASSWORD": self.password})
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"port = {self.port}\nunix_socket_directories = '{self.dir}'\nsynchronous_standby_names = ''\n")
        self.start()

    def promote(self):
        self.run("pg_ctl", "-D", self.data, "-w", "-t", "30", "promote")



def postmaster_pid(cluster):
    with open(os.path.join(cluster.data, "postmaster.pid")) as f:
        return int(f.readline().strip())


def make_synchronous(primary):
    """Makes every commit of `primary` wait for a standby's flush, and waits until one streams synchronously."""
    primary.psql("postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'")
    primary.psql("postgres", "SELECT pg_reload_conf()")
    end = time.time() + 30
    while time.time() < end:
        if primary.psql("postgres", "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").strip() == "1":
            return
        time.sleep(0.1)
    raise RuntimeError("the standby never streamed synchronously")

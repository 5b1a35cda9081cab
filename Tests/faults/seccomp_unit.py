"""Applies the seccomp filter that `ops/vigil.service` asks systemd for to a process we start, through libseccomp.

systemd's syscall groups are read from `systemd-analyze syscall-filter` (the same tables systemd uses), expanded,
and combined as systemd combines them: an allow list, a `~` deny list removed from it, and the default action for
everything else (SIGSYS, or `SystemCallErrorNumber=`'s errno)."""
import ctypes, errno, re, subprocess

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_KILL_PROCESS = 0x80000000


def SCMP_ACT_ERRNO(n):
    return 0x00050000 | (n & 0xFFFF)


def groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], check=True, capture_output=True,
                         text=True).stdout
    table, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            table[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            table[current].append(line.strip())
    return table


def expand(names, table, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if n.startswith("@"):
            if n in seen:
                continue
            seen.add(n)
            out |= expand(table.get(n, []), table, seen)
        else:
            out.add(n)
    return out


def unit_filter(unit_path):
    """(allowed syscall names, default action) as the unit's SystemCallFilter= lines define them."""
    table = groups()
    allowed, denied, error_number = None, set(), None
    for line in open(unit_path):
        line = line.strip()
        m = re.match(r"SystemCallFilter=(.*)", line)
        if m:
            value = m.group(1).strip()
            if value.startswith("~"):
                denied |= expand(value[1:].split(), table)
            else:
                allowed = (allowed or set()) | expand(value.split(), table)
        m = re.match(r"SystemCallErrorNumber=(.*)", line)
        if m:
            error_number = getattr(errno, m.group(1).strip())
    assert allowed is not None, "the unit has an allow-list filter"
    default = SCMP_ACT_ERRNO(error_number) if error_number is not None else SCMP_ACT_KILL_PROCESS
    return allowed - denied, default, denied


def preexec(unit_path):
    """A `preexec_fn` that loads the unit's filter into the child just before it executes the service."""
    allowed, default, _ = unit_filter(unit_path)
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(default)
    assert ctx, "seccomp_init"
    for name in sorted(allowed):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            continue  # not a syscall of this architecture
        lib.seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)

    def load():
        rc = lib.seccomp_load(ctx)
        if rc != 0:
            raise OSError(-rc, "seccomp_load failed")

    return load

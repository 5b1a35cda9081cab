"""Runs last: no address, phone number, note, token or secret appears in any log line the servers wrote."""
import glob, os
import fault_harness as fh

PERSONAL = ["123 Main St", "Main St", "+15551234567", "5551234567", "side door code 1234", "naloxone on the table",
            "9 Full St", "10 Space St", "1 Bench St"]


def test_no_personal_data_or_secret_in_any_log_line():
    logs = glob.glob(os.path.join(fh.LOG_DIR, "*.log"))
    assert logs, "the suite wrote server logs to check"
    lines = 0
    for path in logs:
        with open(path, errors="replace") as f:
            for n, line in enumerate(f, 1):
                lines += 1
                for secret in PERSONAL + [fh.TOKEN, fh.SECRET, fh.SECRET[len("whsec_"):]]:
                    assert secret not in line, f"{os.path.basename(path)}:{n} contains {secret!r}"
    print(f"checked {lines} log lines in {len(logs)} files")

#!/usr/bin/env bash
# Offline checks of terraform/ (no provider download, no cloud access):
#   1. terraform fmt -check -recursive
#   2. every .tf / .tfvars file parses with python-hcl2 (the parser the contract tests use)
#   3. checkov on terraform/ with zero failed checks; skips are justified next to the resource
#      (#checkov:skip=CKV_...:reason). checkov pins its own HCL parser, so it lives in its own
#      virtualenv, .venv-checkov, installed on first use.
# Quiet on success: one summary line. On failure: what failed, and a non-zero exit.
# Used by `make terraform-check` (so by `make test` and .ci/run) and by cloudbuild.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."

TF_DIR=terraform
PYTHON=${PYTHON:-python3}
VENV_PY=${VENV:-.venv}/bin/python
CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
CHECKOV_VERSION=3.3.30

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "terraform-check: FAILED: $*" >&2
  exit 1
}

# 1. Formatting ---------------------------------------------------------------------------
command -v terraform >/dev/null 2>&1 ||
  fail "terraform is not on PATH (install it: https://developer.hashicorp.com/terraform/install)"
set +e
terraform fmt -check -recursive -diff "$TF_DIR" >"$work/fmt" 2>&1
status=$?
set -e
if [ "$status" -ne 0 ]; then
  cat "$work/fmt" >&2
  [ "$status" -eq 3 ] &&
    fail "terraform fmt: the files above need formatting (run: terraform fmt -recursive $TF_DIR)"
  fail "terraform fmt could not read the files above (exit status $status)"
fi

# 2. Parse -------------------------------------------------------------------------------
[ -x "$VENV_PY" ] || fail "$VENV_PY not found: run 'make' (or pip install -e '.[dev]') first"
parsed=$("$VENV_PY" - "$TF_DIR" <<'PY'
import sys
from pathlib import Path

import hcl2

files = sorted(
    p
    for p in Path(sys.argv[1]).rglob("*")
    if p.is_file()
    and ".terraform" not in p.parts
    and (p.suffix in {".tf", ".tfvars"} or p.name.endswith(".tfvars.example"))
)
errors = []
for path in files:
    try:
        hcl2.loads(path.read_text(encoding="utf-8"))
    except Exception as exc:  # any parser error is a finding, reported with its file
        errors.append(f"{path}: {type(exc).__name__}: {exc}")
if errors or not files:
    print("\n".join(errors) or "no .tf files found", file=sys.stderr)
    sys.exit(1)
print(len(files))
PY
) || fail "python-hcl2 could not parse the files above"

# 3. checkov ------------------------------------------------------------------------------
if [ "$("$CHECKOV_VENV/bin/checkov" --version 2>/dev/null || true)" != "$CHECKOV_VERSION" ]; then
  {
    "$PYTHON" -m venv "$CHECKOV_VENV" &&
      "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "checkov==$CHECKOV_VERSION"
  } >"$work/pip" 2>&1 || {
    cat "$work/pip" >&2
    fail "could not install checkov==$CHECKOV_VERSION into $CHECKOV_VENV; checkov is required, not optional"
  }
fi

# --skip-download: no call to Prisma Cloud for guidelines (offline, and nothing to upload).
# Exit status 1 only means "failed checks"; the JSON report below decides.
set +e
"$CHECKOV_VENV/bin/checkov" --directory "$TF_DIR" --framework terraform --skip-download \
  --output json >"$work/checkov.json" 2>"$work/checkov.log"
status=$?
set -e
if [ "$status" -gt 1 ] || [ ! -s "$work/checkov.json" ]; then
  cat "$work/checkov.log" >&2
  fail "checkov did not run (exit status $status)"
fi

"$VENV_PY" - "$work/checkov.json" "$parsed" <<'PY' || { cat "$work/checkov.log" >&2; exit 1; }
import json
import sys

report = json.loads(open(sys.argv[1], encoding="utf-8").read())
reports = report if isinstance(report, list) else [report]
summary = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
failed = []
for item in reports:
    for key in summary:
        summary[key] += item.get("summary", {}).get(key, 0)
    failed += item.get("results", {}).get("failed_checks", [])

for check in failed:
    print(
        f"  {check['check_id']} {check['resource']} ({check['file_path']}:"
        f"{check['file_line_range'][0]}): {check['check_name']}",
        file=sys.stderr,
    )
problems = []
if summary["failed"]:
    problems.append(f"checkov: {summary['failed']} failed checks (above)")
if summary["parsing_errors"]:
    problems.append(f"checkov: {summary['parsing_errors']} files it could not parse")
if not summary["resource_count"]:
    problems.append("checkov: scanned no resources")
if problems:
    print("terraform-check: FAILED: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print(
    f"terraform-check: ok (fmt clean, {sys.argv[2]} files parsed; checkov: "
    f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped)"
)
PY

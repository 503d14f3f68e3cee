"""Why a playbook run stopped, one line per cause, read from ansible-playbook's output.

ansible-playbook prints the reasons in long YAML blocks (or, for a wrong vault password, a
line that names no file); `ptfops deploy` repeats them at the end as short `error:` lines
naming the host, the task, the variable or the vault file, and what to do.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import yaml

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)")
FATAL = re.compile(r"^fatal: \[([^\]]+)\]: (FAILED|UNREACHABLE)! =>(.*)$")
TASK = re.compile(r"^TASK \[(.+)\] \**$")
MISSING = re.compile(r"missing required arguments: ([\w, ]+)")
VAULT_DOCS = "docs/deployment.md, section 5"
REASON_CHARS = 600


def vault_files(inventory: Path) -> list[Path]:
    """The vault-encrypted files of an inventory: in its folder, group_vars/, host_vars/, files/."""
    folder = inventory if inventory.is_dir() else inventory.parent
    candidates = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    for sub in ("group_vars", "host_vars", "files"):
        if (folder / sub).is_dir():
            candidates += [p for p in (folder / sub).rglob("*") if p.is_file()]
    found = []
    for path in sorted(candidates):
        try:
            if b"$ANSIBLE_VAULT;" in path.read_bytes()[:1_000_000]:
                found.append(path)
        except OSError:
            continue
    return found


def _one_line(text: str) -> str:
    """Text on one line, shortened."""
    line = " ".join(str(text).split()).removeprefix("Task failed: ")
    return line if len(line) <= REASON_CHARS else line[:REASON_CHARS - 1] + "…"


def _result(lines: Sequence[str], start: int, rest: str) -> dict:
    """The result printed after `fatal: [host]: ... =>` (YAML block or one JSON line)."""
    if rest.strip():
        try:
            loaded = yaml.safe_load(rest)
        except yaml.YAMLError:
            return {"msg": rest.strip()}
        return loaded if isinstance(loaded, dict) else {"msg": rest.strip()}
    block = []
    for line in lines[start + 1:]:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    try:
        loaded = yaml.safe_load(textwrap.dedent("\n".join(block)))
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _reason(result: dict) -> str:
    """What went wrong, from a task's result: its message, or its command's last error line."""
    message = str(result.get("msg") or "")
    stderr = [line for line in str(result.get("stderr") or "").splitlines() if line.strip()]
    if stderr and (not message or message.startswith("non-zero return code")):
        return _one_line(stderr[-1])
    return _one_line(message or result.get("stdout") or "no message")


def explain(output: str, vault: Sequence[Path] = ()) -> list[str]:
    """One line per reason the run stopped: vault, then each failed or unreachable host."""
    lines = ANSI.sub("", output).splitlines()
    text = "\n".join(lines)
    names = ", ".join(str(p) for p in vault) or "the inventory's vault-encrypted files"
    reasons = []
    if "Decryption failed" in text:
        reasons.append(f"the vault password given does not open {names}: use the right one "
                       f"(--vault-password-file FILE or ANSIBLE_VAULT_PASSWORD_FILE; "
                       f"{VAULT_DOCS})")
    elif "no vault secrets found" in text or "no vault secrets were found" in text:
        reasons.append(f"{names} is vault-encrypted and no vault password was given: pass "
                       f"--vault-password-file FILE or set ANSIBLE_VAULT_PASSWORD_FILE "
                       f"({VAULT_DOCS})")
    stopped = {m[1]: ("unreachable" if int(m[2]) else "failed")
               for line in lines if (m := RECAP.match(line)) and (int(m[2]) or int(m[3]))}
    last: dict[str, str] = {}
    task = ""
    for index, line in enumerate(lines):
        if found := TASK.match(line):
            task = found[1]
        elif (found := FATAL.match(line)) and found[1] in stopped:
            result = _result(lines, index, found[3])
            reason = _reason(result)
            if found[2] == "UNREACHABLE":
                last[found[1]] = f"{found[1]} is unreachable: {reason}"
                continue
            role = (result.get("validate_args_context") or {}).get("name")
            if not role:
                last[found[1]] = f"{found[1]} failed at task '{task}': {reason}"
            elif missing := MISSING.search(reason):
                last[found[1]] = (f"{found[1]}: role {role} needs {missing[1]} (missing "
                                  f"required arguments): set it in the inventory's group_vars "
                                  f"or its vault (playbooks/roles/{role}/README.md)")
            else:
                last[found[1]] = (f"{found[1]}: wrong settings for role {role}: {reason} "
                                  f"(playbooks/roles/{role}/README.md)")
    for host, kind in stopped.items():
        reasons.append(last.get(host, f"{host} {'is ' if kind == 'unreachable' else ''}{kind} "
                                      "(see above)"))
    return reasons

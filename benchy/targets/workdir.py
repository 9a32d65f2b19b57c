"""A device's work directory: benchy creates it, works only in one it created, and cleans only
what it put there.

The directory is made with `mkdir -m 700` (never `-p` into an existing one) and gets a marker
file at once. An existing path is used only when it is a real directory holding the marker, so
benchy never makes private (chmod), fills or deletes a directory someone else made — not even an
empty one, which may be a mount point or another tool's. `clean` removes the worker and the
content-hashed files by their names (and the content-hashed folders `files/<sha256>.d/` that
hold a model with its external data: their files, then the folder if it is empty), then the
directory only if nothing else is left in it.

Both scripts are POSIX sh (dash, bash, busybox ash) and take the workdir as `$1`, so it is never
spliced into the script text.
"""

from __future__ import annotations

from benchy.errors import TargetError

MARKER = ".benchy-workdir"
HEX64 = "[0-9a-f]" * 64
"""A sha256 as a glob: every file benchy pushes is named by its content hash."""

OPEN = f"""
w=$1; m={MARKER}
say() {{ printf '%s %s\\n' "$1" "$2"; exit 0; }}
err=$(mkdir -p -- "$(dirname -- "$w")" 2>&1) || say cannot-create "$err"
if err=$(mkdir -m 700 -- "$w" 2>&1); then
  err=$({{ : > "$w/$m"; }} 2>&1) || say cannot-create "$err"
  state=created
elif [ -L "$w" ]; then state=symlink
elif [ ! -e "$w" ]; then say cannot-create "$err"
elif [ ! -d "$w" ]; then state=not-a-directory
elif [ -f "$w/$m" ] && [ ! -L "$w/$m" ]; then state=ours
else
  state=empty
  for f in "$w"/* "$w"/.[!.]* "$w"/..?*; do
    if [ -e "$f" ] || [ -L "$f" ]; then state=foreign; break; fi
  done
fi
echo "$state"
case $state in created|ours) ;; *) exit 0 ;; esac
mkdir -p -- "$w/files" && cd -- "$w" && pwd
"""
"""Prints the state (created, ours, or why not), then for a usable directory its absolute path."""

CLEAN = f"""
w=$1; m={MARKER}
if [ -L "$w" ]; then echo not-benchy; exit 0; fi
if [ ! -e "$w" ]; then echo absent; exit 0; fi
if [ ! -d "$w" ] || [ ! -f "$w/$m" ] || [ -L "$w/$m" ]; then echo not-benchy; exit 0; fi
err=$(cd -- "$w" 2>&1) || {{ printf 'cannot-clean %s\\n' "$err"; exit 0; }}
cd -- "$w" && d=$(pwd)
ours() {{ for f; do if [ -f "$f" ] && [ ! -L "$f" ]; then rm -f -- "$f"; fi; done; }}
ours worker-{HEX64}.pyz worker-{HEX64}.pyz.part*
if [ -d files ] && [ ! -L files ]; then
  ours files/{HEX64}-*
  for b in files/{HEX64}.d; do
    if [ -d "$b" ] && [ ! -L "$b" ]; then ours "$b"/*; rmdir -- "$b" 2>/dev/null; fi
  done
  rmdir files 2>/dev/null
fi
left=
for f in * .[!.]* ..?*; do
  if [ -e "$f" ] || [ -L "$f" ]; then [ "$f" = "$m" ] || left="$left $f"; fi
done
if [ -z "$left" ]; then
  rm -f -- "$m" && cd .. && rmdir -- "$d" && echo removed
else
  echo "kept$left"
fi
"""
"""Prints removed, absent, not-benchy, or `kept NAME...` (what it left because benchy did not
make it)."""

NEW_PATH = "set workdir to a path that does not exist yet (benchy creates it)"
REFUSALS = {
    "symlink": "is a symbolic link",
    "not-a-directory": "exists and is not a directory",
    "empty": f"is an empty directory benchy did not make (no {MARKER} marker)",
    "foreign": f"already exists and holds files benchy did not put there (no {MARKER} marker)",
}


def opened(answer: str, workdir: str, where: str) -> str:
    """The absolute workdir from OPEN's answer, or a TargetError saying why it is refused."""
    lines = answer.strip().splitlines()
    state = lines[0] if lines else ""
    if state in ("created", "ours") and len(lines) > 1:
        return lines[-1]
    if state.startswith("cannot-create"):
        why = state.removeprefix("cannot-create").strip()
        raise TargetError(f"{where}: cannot create workdir {workdir}: {why}")
    refusal = REFUSALS.get(state, f"gave an unexpected answer: {answer.strip()[:200]!r}")
    raise TargetError(
        f"{where}: workdir {workdir} {refusal}: refusing to use it, so that benchy never makes "
        f"private, fills or cleans a directory it did not create; {NEW_PATH}"
    )


def cleaned(answer: str, workdir: str, where: str) -> str:
    """What CLEAN did, in words."""
    answer = answer.strip()
    if answer == "removed":
        return f"removed {workdir} on {where}"
    if answer == "absent":
        return f"nothing to clean: {workdir} does not exist on {where}"
    if answer.startswith("kept"):
        names = answer.removeprefix("kept").split()
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return (
            f"removed benchy's files from {workdir} on {where}; kept the directory: it also "
            f"holds what benchy did not put there ({shown})"
        )
    if answer.startswith("cannot-clean"):
        raise TargetError(f"{where}: cannot clean {workdir}: {answer.removeprefix('cannot-clean')}")
    return f"left {workdir} on {where} alone: it has no {MARKER} marker"

"""A small reader for gettext .po files as gettext's tools write them: one entry per
block, blocks separated by blank lines."""

import re
from dataclasses import dataclass, field
from pathlib import Path

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr) and "fuzzy" not in self.flags


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], "\\" + m[1]), text.strip()[1:-1])


def _entry(lines: list[str]) -> Entry | None:
    entry, target = Entry(), None
    for line in lines:
        if line.startswith("#~"):
            return None  # obsolete
        if line.startswith("#,"):
            entry.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD.match(line):
            keyword, index, value = match[1], match[2], _unquote(match[3])
            if keyword.startswith("msgstr"):
                i = int(index or 0)
                entry.msgstr += [""] * (i + 1 - len(entry.msgstr))
                entry.msgstr[i] = value
                target = ("msgstr", i)
            else:
                setattr(entry, keyword, value)
                target = (keyword, None)
        elif line.startswith('"') and target is not None:
            value = _unquote(line)
            if target[0] == "msgstr":
                entry.msgstr[target[1]] += value
            else:
                setattr(entry, target[0], getattr(entry, target[0]) + value)
    return entry if target is not None else None


def read(path: Path) -> list[Entry]:
    """The entries of a .po file, without the header and obsolete entries."""
    blocks = re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))
    entries = [_entry(block.splitlines()) for block in blocks]
    return [e for e in entries if e is not None and e.msgid != ""]

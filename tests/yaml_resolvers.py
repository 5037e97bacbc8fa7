"""How YAML readers other than PyYAML resolve a plain (unquoted) scalar: kubectl's go-yaml v2
(YAML 1.1 rules) and the YAML 1.2 core schema. Used to check that every string procexport writes
stays a string for all of them.

go-yaml v2: a port of `resolve` in resolve.go, branch v2 of github.com/go-yaml/yaml (commit
7649d454): resolveTable and resolveMap (lines 17-57), yamlStyleFloat (line 84), resolve (lines
86-197), parseTimestamp and allowedTimestampFormats (lines 226-258). Go's strconv.ParseInt and
ParseUint with base 0 (sign, 0x/0o/0b prefixes, a leading 0 for octal) are ported below; Go's
time.Parse is approximated by the formats' shapes, which only makes the check stricter.
YAML 1.2: the core schema's tag resolution (YAML 1.2.2, section 10.3.2).
"""

from __future__ import annotations

import re

# resolve.go lines 37-48: the resolveMap, looked up before anything else
GO_YAML_V2_MAP = {
    **dict.fromkeys(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"], "bool"),
    **dict.fromkeys(["on", "On", "ON", "n", "N", "no", "No", "NO"], "bool"),
    **dict.fromkeys(["false", "False", "FALSE", "off", "Off", "OFF"], "bool"),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], "null"),
    **dict.fromkeys([".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF"], "float"),
    **dict.fromkeys(["+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"], "float"),
    "<<": "merge",
}
YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# Go's ParseFloat on a string starting with '.': decimal digits, optional exponent, no '_'
GO_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
# allowedTimestampFormats (lines 226-233), as shapes: "2006-1-2T15:4:5.999999999Z07:00" with
# T or t, "2006-1-2 15:4:5.999999999", "2006-1-2"
TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?(Z|[-+][0-9]{2}:[0-9]{2})"
    r"| [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?)?"
)
INT64 = range(-(2**63), 2**63)
UINT64 = range(0, 2**64)


def go_parse_int(text: str, signed: bool) -> int | None:
    """strconv.ParseInt(text, 0, 64) (signed) or strconv.ParseUint(text, 0, 64)."""
    sign, body = 1, text
    if signed and body[:1] in ("+", "-"):
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    base, digits = 10, body
    if body[:2].lower() in ("0x", "0o", "0b"):
        base, digits = {"x": 16, "o": 8, "b": 2}[body[1].lower()], body[2:]
    elif body[:1] == "0" and len(body) > 1:
        base, digits = 8, body[1:]
    allowed = "0123456789abcdef"[:base]
    if not digits or any(c not in allowed for c in digits.lower()):
        return None
    value = sign * int(digits, base)
    return value if value in (INT64 if signed else UINT64) else None


def go_yaml_v2_kind(plain: str) -> str:
    """What go-yaml v2 resolves an untagged plain scalar to: str, bool, null, int, float,
    timestamp or merge (resolve.go, resolve())."""
    first = plain[:1]
    if not plain:
        hint = "N"
    elif first in "+-":
        hint = "S"  # sign
    elif first in "0123456789":
        hint = "D"  # digit
    elif first in "yYnNtTfFoO~":
        hint = "M"  # in the map
    elif first == ".":
        hint = "."  # a float, maybe in the map
    else:
        return "str"
    if plain in GO_YAML_V2_MAP:
        return GO_YAML_V2_MAP[plain]
    if hint == "." and GO_DOT_FLOAT.fullmatch(plain):
        return "float"
    if hint in ("D", "S"):
        if TIMESTAMP.fullmatch(plain):
            return "timestamp"
        without = plain.replace("_", "")
        if go_parse_int(without, True) is not None or go_parse_int(without, False) is not None:
            return "int"
        if YAML_STYLE_FLOAT.fullmatch(without):  # ParseFloat's overflow counted as a float
            return "float"
        # the 0b and -0b branches (lines 169-191) are covered by ParseInt's base 0 above
    return "str"


# YAML 1.2 core schema, in the order the spec lists them
YAML_12_CORE = [
    ("null", re.compile(r"null|Null|NULL|~|")),
    ("bool", re.compile(r"true|True|TRUE|false|False|FALSE")),
    ("int", re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")),
    ("float", re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")),
    ("float", re.compile(r"[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN")),
]


def yaml_12_kind(plain: str) -> str:
    for kind, pattern in YAML_12_CORE:
        if pattern.fullmatch(plain):
            return kind
    return "str"

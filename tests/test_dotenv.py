import pytest

from exporter.dotenv import parse_dotenv
from exporter.errors import ExportError


def values(text: str) -> dict[str, str]:
    return {e.name: e.value for e in parse_dotenv(text, ".env")}


def test_plain_export_prefixed_and_empty_values():
    assert values("A=1\nexport B=two\nC=\n") == {"A": "1", "B": "two", "C": ""}


def test_unquoted_values_end_at_a_space_hash_and_are_trimmed():
    assert values("A=one two  # comment\nB=a#b\nC=x\t# tab comment\n") == {
        "A": "one two",
        "B": "a#b",
        "C": "x",
    }


def test_single_quotes_are_literal():
    assert values("A='a \\n $B \"c\" # not a comment'  # comment\n") == {
        "A": 'a \\n $B "c" # not a comment'
    }


def test_double_quotes_know_four_escapes_and_keep_other_backslashes():
    assert values('A="1\\n2 \\"q\\" \\\\ \\$HOME \\t \\x"\n') == {"A": '1\n2 "q" \\ $HOME \\t \\x'}


def test_double_quoted_values_may_span_lines_and_line_numbers_follow():
    entries = parse_dotenv('A="first\nsecond"\nB=x\n', ".env")
    assert [(e.name, e.value, e.line) for e in entries] == [
        ("A", "first\nsecond", 1),
        ("B", "x", 3),
    ]


def test_comments_blank_lines_and_crlf():
    assert values("# comment\r\n\r\n  # indented\r\nA=1\r\nB='x'\r\n") == {"A": "1", "B": "x"}


def test_dollar_is_never_expanded():
    assert values("A=$HOME\nB=${A}\n") == {"A": "$HOME", "B": "${A}"}


def test_later_assignment_is_kept_in_order():
    entries = parse_dotenv("A=1\nA=2\n", ".env")
    assert [e.value for e in entries] == ["1", "2"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("A=1\nnot an assignment\n", 2, "expected KEY=value"),
        ("export A\n", 1, "expected KEY=value"),
        ("1A=x\n", 1, "invalid variable name: use letters"),
        ("A-B=x\n", 1, "invalid variable name: use letters"),
        ("=x\n", 1, "invalid variable name: use letters"),
        ("A=1\nB='open\n", 2, "B: unterminated single quote"),
        ('A=1\nB="open\nstill open\n', 2, "B: unterminated double quote"),
        ("A='x' y\n", 1, "A: unexpected text after the closing quote"),
        ('A="x"y\n', 1, "unexpected text after the closing quote"),
    ],
)
def test_malformed_lines_are_errors_naming_file_and_line(text, line, message):
    with pytest.raises(ExportError) as error:
        parse_dotenv(text, "config/.env")
    assert (error.value.file, error.value.line) == ("config/.env", line)
    assert message in error.value.message

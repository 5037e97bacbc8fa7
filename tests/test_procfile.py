import pytest

from exporter.errors import ExportError
from exporter.procfile import parse_procfile


def test_types_keep_file_order_and_commands_keep_inner_spacing():
    entries = parse_procfile("web: bundle exec  puma\nworker:  rake jobs:work \n", "Procfile")
    assert [(e.name, e.command, e.line) for e in entries] == [
        ("web", "bundle exec  puma", 1),
        ("worker", "rake jobs:work", 2),
    ]


def test_blank_lines_comments_crlf_and_bom_are_accepted():
    text = "\ufeff# a comment\r\n\r\n  \r\nweb: run it\r\n  # indented comment\r\nclock: tick\r\n"
    entries = parse_procfile(text.removeprefix("\ufeff"), "Procfile")
    assert [(e.name, e.command) for e in entries] == [("web", "run it"), ("clock", "tick")]


def test_only_the_first_colon_separates_name_from_command():
    (entry,) = parse_procfile("web: echo a:b http://x", "Procfile")
    assert entry.command == "echo a:b http://x"


def test_form_feed_and_unicode_line_separators_stay_inside_the_command():
    (entry,) = parse_procfile("web: echo a\x0cb\u2028c\x85d", "Procfile")
    assert entry.command == "echo a\x0cb\u2028c\x85d"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("web: ok\nno colon here\n", 2, "no colon"),
        ("web: ok\nbad name: x\n", 2, "invalid process type name 'bad name'"),
        ("web.1: x\n", 1, "invalid process type name"),
        ("w@b: x\n", 1, "invalid process type name"),
        (": x\n", 1, "invalid process type name ''"),
        ("web: ok\n\nworker:   \n", 3, "empty command"),
        ("web: a\n# c\nweb: b\n", 3, "duplicate process type 'web' (first defined on line 1)"),
    ],
)
def test_bad_lines_are_errors_naming_file_and_line(text, line, message):
    with pytest.raises(ExportError) as error:
        parse_procfile(text, "app/Procfile")
    assert error.value.file == "app/Procfile"
    assert error.value.line == line
    assert message in error.value.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only comments\n  \n"])
def test_a_procfile_without_processes_is_an_error(text):
    with pytest.raises(ExportError, match="no process types"):
        parse_procfile(text, "Procfile")

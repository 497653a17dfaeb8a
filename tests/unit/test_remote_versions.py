"""The laptop refuses an agent of another protocol, schema or snapshot shape before it
decodes a read, and says which side is older and what to install.

The same faults are produced for real (an older commit and a newer schema installed
on the remote) in tests/integration/test_remote_versions.py.
"""

from __future__ import annotations

import pytest

from netexplorer import __version__
from netexplorer.model import SCHEMA_VERSION
from netexplorer.remote.feed import RemoteError, check_hello
from netexplorer.remote.protocol import PROTOCOL, Hello, schema_fields
from netexplorer.remote.target import Target

HOST = Target("web1", "root", 2222)


def refused(hello: Hello) -> str:
    with pytest.raises(RemoteError) as err:
        check_hello(HOST, hello)
    return str(err.value)


def test_the_same_build_is_accepted() -> None:
    check_hello(HOST, Hello(__version__, PROTOCOL, SCHEMA_VERSION, "web1", True))


def test_schema_fields_name_nested_fields_of_the_snapshot() -> None:
    fields = schema_fields()
    assert "containers.endpoints.ipv4" in fields and "routes" in fields
    assert list(fields) == sorted(set(fields))


@pytest.mark.parametrize(
    ("hello", "words"),
    [
        (
            Hello("0.0.9", PROTOCOL, SCHEMA_VERSION, "web1", True, None),
            "its netexplorer 0.0.9 is older than this one",
        ),
        (
            Hello("0.1.0", PROTOCOL, SCHEMA_VERSION, "web1", True, schema_fields()[1:]),
            f"is older than this one ({__version__}): its snapshots lack {schema_fields()[0]}.",
        ),
        (
            Hello("9.0", PROTOCOL, SCHEMA_VERSION + 1, "web1", True),
            f"it writes snapshot schema {SCHEMA_VERSION + 1}, this one reads {SCHEMA_VERSION}",
        ),
        (
            Hello("0.0.1", PROTOCOL, SCHEMA_VERSION - 1, "web1", True),
            "is older than this one",
        ),
        (
            Hello("9.0", PROTOCOL + 1, SCHEMA_VERSION, "web1", True),
            f"it speaks protocol {PROTOCOL + 1}, this one {PROTOCOL}",
        ),
        (
            Hello("0.1.0", PROTOCOL, SCHEMA_VERSION, "web1", True, ("a", *schema_fields()[1:])),
            "is another build than this one",
        ),
    ],
)
def test_another_version_is_refused_in_words(hello: Hello, words: str) -> None:
    text = refused(hello)
    assert text.startswith("root@web1:2222: incompatible version: its netexplorer ")
    assert words in text
    assert "Install the same version on both: " in text


def test_the_fix_names_the_side_to_install_on_and_the_version() -> None:
    older = refused(Hello("0.0.9", PROTOCOL, SCHEMA_VERSION, "web1", True, schema_fields()[:-3]))
    assert older.endswith(
        f"on root@web1:2222, 'pip install netexplorer=={__version__}' (from a checkout: "
        "this commit)."
    )
    assert " more" not in older  # three fields: all named
    newer = refused(Hello("9.1", PROTOCOL, SCHEMA_VERSION, "web1", True, (*schema_fields(), "z")))
    assert "its snapshots have fields this one does not read: z." in newer
    assert newer.endswith(
        "here, 'pip install netexplorer==9.1' (from a checkout: the commit on root@web1:2222)."
    )
    many = refused(Hello("0.0.9", PROTOCOL, SCHEMA_VERSION, "web1", True, ()))
    assert f" and {len(schema_fields()) - 4} more." in many


def test_hostile_field_names_are_shown_literally() -> None:
    evil = (*schema_fields(), "\x1b]0;x\x07")
    text = refused(Hello("\x1b[2J", PROTOCOL, SCHEMA_VERSION, "web1", True, evil))
    assert "\x1b" not in text and "\x07" not in text

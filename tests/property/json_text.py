"""JSON texts of every structure a client can send, as text: what json.dumps would never write (NaN,
1e400, integers of thousands of digits, lone surrogate escapes) and what it would write but a parser or
a later step may choke on (nesting thousands deep, NUL, non-characters, very long strings, -0)."""

from __future__ import annotations

import json

from hypothesis import strategies as st

# Escapes as a client writes them in JSON text: each reads back as one code point.
ODD_STRINGS = [
    r'"\ud800"',  # lone high surrogate
    r'"\udfff"',  # lone low surrogate
    r'"a\udc00b"',
    r'"\udfff\ud800"',  # a pair in the wrong order
    r'"\u0000"',  # NUL
    r'"x\u0000y"',
    r'"\uffff"',  # non-characters
    r'"\ufffe"',
    r'"\ufdd0"',
    r'"\ud83d\ude00"',  # a well-formed pair: valid
    r'"\u2028\u2029"',
    r'"\u007f\u0085\u00a0"',
    '""',
    '"   "',
]
ODD_NUMBERS = [
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "-0.0",
    "0e0",
    "1E+308",
    "2e308",
    "4.9e-324",
    "1.7976931348623157e308",
    str(2**63),
    str(-(2**63) - 1),
    str(10**38),
]
odd_scalars = st.one_of(
    st.sampled_from(ODD_STRINGS + ODD_NUMBERS + ["true", "false", "null"]),
    # Integers around and beyond Python's 4,300-digit limit on int(str).
    st.integers(1, 6000).map(lambda digits: "9" * digits),
    st.integers(4290, 4310).map(lambda digits: "-" + "1" * digits),
    # Long strings, plain and of escapes.
    st.integers(1_000, 300_000).map(lambda size: json.dumps("x" * size)),
    st.integers(1, 20_000).map(lambda size: '"' + r"\ud800" * size + '"'),
    st.text(max_size=40).map(json.dumps),
    st.text(max_size=40).map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.floats().map(lambda number: json.dumps(number)),  # NaN and Infinity among them
)
keys = st.one_of(
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=10).map(json.dumps),
    st.sampled_from(['"id"', '"type"', '"item"', '"data"', '"name"', '"configuration"']),
)


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(keys, children), max_size=4).map(
            lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
        ),
    )


@st.composite
def _deep(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    """One value nested `depth` levels: around the limits that matter (32 for DynamoDB and this API,
    ~250 for pydantic's serializer, ~1,000 for Python's recursion), in arrays, objects or both."""
    depth = draw(
        st.one_of(st.integers(1, 40), st.integers(240, 310), st.integers(900, 1100), st.integers(1, 5000))
    )
    value = draw(inner)
    shape = draw(st.sampled_from(["array", "object", "mixed"]))
    if shape == "array":
        return "[" * depth + value + "]" * depth
    if shape == "object":
        return '{"a":' * depth + value + "}" * depth
    return '[{"a":' * (depth // 2) + value + "}]" * (depth // 2)


# Any JSON value, as text: odd leaves, small structures of them, or one of them nested deep.
json_texts = st.recursive(odd_scalars, _containers, max_leaves=8) | _deep(odd_scalars)
# And what is not JSON at all, or only nearly.
broken_texts = st.one_of(
    st.sampled_from(["", " ", "{", "[", "}", '{"a":}', "[1,]", "01", "1.", ".5", "'a'", "nul", "\x00"]),
    json_texts.flatmap(lambda text: st.integers(0, max(0, len(text) - 1)).map(lambda cut: text[:cut])),
    st.integers(1, 5000).map(lambda depth: "[" * depth),  # never closed
)


def _odd_one_time_in(times: int, usual: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.integers(1, times).flatmap(lambda pick: json_texts if pick == 1 else usual)


@st.composite
def notifications(draw: st.DrawFn) -> str:
    """An Intercom notification with any JSON text in or as its item, and sometimes as its topic, id or
    date: mostly one that passes the first checks, so that the odd values reach normalisation, the queue
    and the event log."""
    topics = st.sampled_from(['"contact.user.created"', '"ping"', '"x.y"', '"conversation.admin.replied"'])
    topic = draw(_odd_one_time_in(6, topics))
    notification_id = draw(_odd_one_time_in(6, st.just('"notif_1"')))
    created_at = draw(_odd_one_time_in(3, st.just("1795773600")))
    item = draw(
        st.one_of(
            json_texts,
            json_texts.map(lambda text: f'{{"type": "contact", "id": "1", "x": {text}}}'),
            json_texts.map(lambda text: f'{{"type": "contact", "id": {text}}}'),
            st.just('{"type": "contact", "id": "1"}'),
        )
    )
    return (
        f'{{"type": "notification_event", "topic": {topic}, "id": {notification_id}, '
        f'"created_at": {created_at}, "data": {{"item": {item}}}}}'
    )

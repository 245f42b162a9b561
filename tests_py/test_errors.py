"""Bad input gets a clear error and loses nothing."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import User
from vellum import (
    ClientClosedError,
    ConfigurationError,
    ConnectionError,
    ObjectId,
    OperationFailure,
    QueryError,
    ServerSelectionTimeoutError,
    VellumClient,
    VellumError,
    VellumRepository,
    connect_to_mongodb,
    init_db_client,
)


async def test_malformed_uri() -> None:
    with pytest.raises(ConfigurationError, match="invalid connection string"):
        await connect_to_mongodb("http://localhost:27017", "app")
    with pytest.raises(ValueError, match="invalid connection string"):  # also a ValueError
        await init_db_client("mongodb://")


async def test_server_that_is_down_redacts_the_password() -> None:
    uri = "mongodb://ada:hunter2@127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    with pytest.raises(ServerSelectionTimeoutError) as info:
        await connect_to_mongodb(uri, "app")
    message = str(info.value)
    assert "hunter2" not in message
    assert "ada:***@127.0.0.1:9" in message
    assert "running and reachable" in message
    assert isinstance(info.value, ConnectionError) and isinstance(info.value, VellumError)
    # Not a TimeoutError: asyncio.wait_for's own timeout is one (asyncio.TimeoutError).
    assert not isinstance(info.value, (TimeoutError, asyncio.TimeoutError))


async def test_closed_client_says_so(server_uri: str) -> None:
    client = await connect_to_mongodb(server_uri, "app")
    await client.close()
    assert client.closed
    with pytest.raises(ClientClosedError, match="closed"):
        await client.command({"ping": 1})
    await client.close()  # closing twice is harmless


async def test_server_error_keeps_code_and_name(client: VellumClient, db_name: str) -> None:
    coll = client._core.collection(db_name, "conflict")  # pyright: ignore[reportPrivateUsage]
    await coll.create_indexes([{"key": {"a": 1}, "name": "x"}])
    with pytest.raises(OperationFailure) as info:
        await coll.create_indexes([{"key": {"b": 1}, "name": "x"}])
    assert info.value.code == 86
    assert info.value.code_name == "IndexKeySpecsConflict"
    assert "code 86" in str(info.value)


def test_invalid_object_ids() -> None:
    with pytest.raises(ValueError, match="24 hexadecimal"):
        ObjectId("xyz")
    with pytest.raises(ValueError, match="12 bytes"):
        ObjectId(b"short")
    with pytest.raises(TypeError, match="24-character hex str"):
        ObjectId(42)  # type: ignore[arg-type]
    assert not ObjectId.is_valid("nope") and ObjectId.is_valid("65f0c2a1b3d4e5f601234567")


@pytest.fixture
def server_uri(server: object) -> str:
    return server.uri  # type: ignore[attr-defined]


# -- no message ever shows a credential ----------------------------------------------------------

_SECRET_CHARS = "abcdefghXYZ0123456789-_.~!$&'()*+,;=:/?#[]@%"


@st.composite
def uris_with_secrets(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A URI to an unreachable port with a secret in one or more places: the password (raw,
    with characters that should have been escaped, or percent-encoded) and credential options."""
    marker = f"Zq{draw(st.integers(1000, 9999))}"
    password = marker + draw(st.text(_SECRET_CHARS, min_size=1, max_size=10))
    secrets = []
    user_info = ""
    if draw(st.booleans()):
        encoded = draw(st.booleans())
        shown = quote(password, safe="") if encoded else password
        user_info = f"ada:{shown}@"
        secrets.append(password if encoded else shown)
    options = ["serverSelectionTimeoutMS=200", "connectTimeoutMS=200"]
    for name in draw(
        st.lists(
            st.sampled_from(
                ["tlsCertificateKeyFilePassword", "authMechanismProperties", "proxyPassword"]
            ),
            max_size=2,
            unique=True,
        )
    ):
        value = (
            f"{marker}{name[:3]}"
            if name != "authMechanismProperties"
            else (f"AWS_SESSION_TOKEN:{marker}tok")
        )
        options.append(f"{name}={value}")
        secrets.append(value.split(":")[-1])
    draw(st.randoms()).shuffle(options)
    return f"mongodb://{user_info}127.0.0.1:9/app?{'&'.join(options)}", secrets


@settings(max_examples=25, deadline=None)
@given(uris_with_secrets())
async def test_no_error_message_shows_a_credential(case: tuple[str, list[str]]) -> None:
    uri, secrets = case
    with pytest.raises(VellumError) as info:
        await connect_to_mongodb(uri, "app")
    shown = [str(info.value), repr(info.value), *getattr(info.value, "__notes__", [])]
    for secret in secrets:
        for text in shown:
            assert secret not in text, (uri, text)
            assert unquote(secret) not in text, (uri, text)


async def test_counts_beyond_64_bits_are_query_errors(client: VellumClient, db_name: str) -> None:
    coll = client._core.collection(db_name, "counts")  # pyright: ignore[reportPrivateUsage]
    for options in ({"skip": 2**63}, {"limit": 2**64}, {"skip": -1}):
        with pytest.raises(QueryError, match=r"skip|limit"):
            await coll.find({}, **options)
    with pytest.raises(QueryError, match="limit"):
        await coll.count_documents({}, limit=2**63)


async def test_a_refused_write_explains_itself(client: VellumClient, db_name: str) -> None:
    """OperationFailure.details carries the server's errInfo: for a document the collection's
    validator refuses, the rule it broke."""
    schema = {"bsonType": "object", "required": ["sku"]}
    await client.command({"create": "stock", "validator": {"$jsonSchema": schema}}, db_name)
    coll = client._core.collection(db_name, "stock")  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(OperationFailure) as refused:
        await coll.insert_one({"_id": 1, "qty": 3})
    assert refused.value.code == 121  # DocumentValidationFailure (write errors carry no name)
    details = refused.value.details
    assert details is not None
    rules = details["details"]["schemaRulesNotSatisfied"]
    assert rules[0]["operatorName"] == "required"
    assert rules[0]["missingProperties"] == ["sku"]
    assert await coll.find({}) == []


async def test_every_driver_error_carries_labels() -> None:
    """Labels are an attribute of every VellumError (empty where none were attached), so
    retry logic can ask any error without checking its class first."""
    uri = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200&connectTimeoutMS=200"
    with pytest.raises(ServerSelectionTimeoutError) as info:
        await connect_to_mongodb(uri, "app")
    assert info.value.error_labels == ()
    assert not info.value.has_error_label("TransientTransactionError")
    assert QueryError("x").error_labels == ()


async def test_options_and_arguments_that_do_not_fit_are_vellum_errors(
    client: VellumClient, db_name: str
) -> None:
    users = VellumRepository(User, client, db_name)
    for wrong in ("name", 3, {"name": 1}):
        with pytest.raises(QueryError, match="projection= takes a pydantic model class"):
            await users.find(projection=wrong)  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match=r"ca\.pem") as missing:
        await connect_to_mongodb(
            "mongodb://127.0.0.1:9/?tls=true&tlsCAFile=/nonexistent/ca.pem", "app"
        )
    assert "labels" not in str(missing.value)  # the driver's message, not its debugging frame


async def test_an_srv_name_that_does_not_resolve_is_a_connection_error() -> None:
    with pytest.raises(ConnectionError) as unreachable:
        await connect_to_mongodb("mongodb+srv://ada:hunter2@cluster0.nonexistent.invalid/app", "x")
    message = str(unreachable.value)
    assert "DNS" in message and "hunter2" not in message and "ada:***@" in message
    assert "labels:" not in message  # the driver's words, not its debugging frame

"""Yubico's own client (python-yubihsm 3.1.2, public API only) against the simulator.

Run by run.sh, which starts `yhsm sim serve` and passes its URL in YHSM_SIM_URL.
"""

import os
import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from yubihsm import YubiHsm
from yubihsm.defs import ALGORITHM, AUDIT, CAPABILITY, COMMAND, ERROR, OBJECT, ORIGIN
from yubihsm.exceptions import YubiHsmAuthenticationError, YubiHsmDeviceError
from yubihsm.objects import AsymmetricKey, AuthenticationKey, Opaque, WrapKey

URL = os.environ.get("YHSM_SIM_URL", "http://127.0.0.1:12345")


@pytest.fixture(scope="module", autouse=True)
def fresh_device():
    with YubiHsm.connect(URL) as hsm:
        hsm.create_session_derived(1, "password").reset_device()


@pytest.fixture
def hsm():
    with YubiHsm.connect(URL) as h:
        yield h


@pytest.fixture
def session(hsm):
    with hsm.create_session_derived(1, "password") as s:
        yield s


def test_device_info(hsm):
    info = hsm.get_device_info()
    assert info.version == (2, 4, 0)
    assert info.serial > 0
    assert info.log_size == 62
    assert 0 < info.log_used <= info.log_size
    assert ALGORITHM.EC_P256 in info.supported_algorithms
    assert isinstance(info.part_number, str) and info.part_number


def test_session_with_the_factory_key(session):
    assert session.send_secure_cmd(COMMAND.ECHO, b"hello") == b"hello"


def test_wrong_password_is_refused(hsm):
    with pytest.raises(YubiHsmAuthenticationError):
        hsm.create_session_derived(1, "not the password")


def test_put_and_generate_p256_keys_sign_and_verify(session):
    private = ec.generate_private_key(ec.SECP256R1())
    put = AsymmetricKey.put(session, 0, "put p256", 1, CAPABILITY.SIGN_ECDSA, private)
    assert put.get_info().origin == ORIGIN.IMPORTED
    generated = AsymmetricKey.generate(
        session, 0, "generated p256", 1, CAPABILITY.SIGN_ECDSA, ALGORITHM.EC_P256
    )
    assert generated.get_info().origin == ORIGIN.GENERATED
    assert put.get_public_key().public_numbers() == private.public_key().public_numbers()
    for key, public in ((put, private.public_key()), (generated, generated.get_public_key())):
        data = os.urandom(100)
        signature = key.sign_ecdsa(data, hash=hashes.SHA256())
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    put.delete()
    generated.delete()


@pytest.mark.parametrize(
    "algorithm,size",
    [
        (ALGORITHM.AES128_CCM_WRAP, 16),
        (ALGORITHM.AES192_CCM_WRAP, 24),
        (ALGORITHM.AES256_CCM_WRAP, 32),
    ],
)
def test_export_delete_import_keeps_the_object(session, algorithm, size):
    wrap = WrapKey.put(
        session,
        0,
        "wrap %d" % size,
        0xFFFF,
        CAPABILITY.EXPORT_WRAPPED | CAPABILITY.IMPORT_WRAPPED,
        algorithm,
        CAPABILITY.SIGN_ECDSA | CAPABILITY.EXPORTABLE_UNDER_WRAP,
        os.urandom(size),
    )
    assert wrap.get_info().algorithm == algorithm
    private = ec.generate_private_key(ec.SECP256R1())
    key = AsymmetricKey.put(
        session,
        0x0100 + size,
        "exported",
        1,
        CAPABILITY.SIGN_ECDSA | CAPABILITY.EXPORTABLE_UNDER_WRAP,
        private,
    )
    # A second creation of the same id: sequence 1.
    key.delete()
    key = AsymmetricKey.put(
        session,
        0x0100 + size,
        "exported",
        1,
        CAPABILITY.SIGN_ECDSA | CAPABILITY.EXPORTABLE_UNDER_WRAP,
        private,
    )
    before = key.get_info()
    assert before.sequence == 1
    blob = wrap.export_wrapped(key)
    assert len(blob) == 13 + 59 + 96 + 16
    with pytest.raises(YubiHsmDeviceError) as exists:
        wrap.import_wrapped(blob)
    assert exists.value.code == ERROR.OBJECT_EXISTS
    key.delete()
    with pytest.raises(YubiHsmDeviceError) as gone:
        key.get_info()
    assert gone.value.code == ERROR.OBJECT_NOT_FOUND
    back = wrap.import_wrapped(blob)
    assert isinstance(back, AsymmetricKey) and back.id == key.id
    after = back.get_info()
    assert after.origin == ORIGIN.IMPORTED | ORIGIN.IMPORTED_WRAPPED
    assert after.sequence == before.sequence
    assert (after.label, after.capabilities, after.domains) == (
        before.label,
        before.capabilities,
        before.domains,
    )
    data = os.urandom(32)
    private.public_key().verify(back.sign_ecdsa(data), data, ec.ECDSA(hashes.SHA256()))
    back.delete()
    wrap.delete()


def test_list_objects_with_each_filter(session):
    a = Opaque.put(session, 0x0200, "alpha", 1, CAPABILITY.GET_OPAQUE, ALGORITHM.OPAQUE_DATA, b"a")
    b = Opaque.put(
        session,
        0x0201,
        "beta",
        2,
        CAPABILITY.EXPORTABLE_UNDER_WRAP,
        ALGORITHM.OPAQUE_X509_CERTIFICATE,
        b"b",
    )

    def ids(**filters):
        return {o.id for o in session.list_objects(**filters) if o.id in (a.id, b.id)}

    assert ids() == {a.id, b.id}
    assert ids(object_id=a.id) == {a.id}
    assert ids(object_type=OBJECT.OPAQUE) == {a.id, b.id}
    assert ids(object_type=OBJECT.WRAP_KEY) == set()
    assert ids(domains=2) == {b.id}
    assert ids(capabilities=CAPABILITY.GET_OPAQUE) == {a.id}
    assert ids(algorithm=ALGORITHM.OPAQUE_X509_CERTIFICATE) == {b.id}
    assert ids(label="beta") == {b.id}
    assert ids(label="bet") == set()
    listed = [o for o in session.list_objects(object_id=a.id)]
    assert listed[0].object_type == OBJECT.OPAQUE and listed[0].get_info().sequence == 0
    a.delete()
    b.delete()


def test_new_authentication_key_opens_a_session(hsm, session):
    key = AuthenticationKey.put_derived(
        session, 0, "second key", 1, CAPABILITY.GET_PSEUDO_RANDOM, CAPABILITY.NONE, "s3cret"
    )
    info = key.get_info()
    assert info.origin == ORIGIN.IMPORTED and info.size == 40
    with hsm.create_session_derived(key.id, "s3cret") as second:
        assert len(second.get_pseudo_random(16)) == 16
        with pytest.raises(YubiHsmDeviceError) as denied:
            Opaque.put(second, 0, "x", 1, CAPABILITY.NONE, ALGORITHM.OPAQUE_DATA, b"x")
        assert denied.value.code == ERROR.INSUFFICIENT_PERMISSIONS
    key.delete()


def test_asymmetric_p256_session(hsm, session):
    private = ec.generate_private_key(ec.SECP256R1())
    key = AuthenticationKey.put_public_key(
        session, 0, "asymmetric", 1, CAPABILITY.NONE, CAPABILITY.NONE, private.public_key()
    )
    assert key.get_info().algorithm == ALGORITHM.EC_P256_YUBICO_AUTHENTICATION
    with hsm.create_session_asymmetric(key.id, private) as asym:
        assert asym.send_secure_cmd(COMMAND.ECHO, b"asymmetric") == b"asymmetric"
    key.delete()


def test_audit_log_digest_chain(session):
    session.set_command_audit({COMMAND.ECHO: AUDIT.ON, COMMAND.SET_LOG_INDEX: AUDIT.ON})
    assert session.get_command_audit()[COMMAND.ECHO] == AUDIT.ON
    for i in range(70):
        session.send_secure_cmd(COMMAND.ECHO, bytes([i]))
    _, _, logs = session.get_log_entries()
    assert len(logs) == 62
    for previous, entry in zip(logs, logs[1:]):
        assert entry.validate(previous)
    last = logs[-1]
    assert last.command == COMMAND.ECHO and last.session_key == 1
    session.set_log_index(last.number)
    _, _, after = session.get_log_entries(last)  # validates the chain from `last`
    assert [e.command for e in after] == [COMMAND.SET_LOG_INDEX]
    session.set_command_audit({COMMAND.ECHO: AUDIT.OFF, COMMAND.SET_LOG_INDEX: AUDIT.OFF})


def test_reset_restores_the_factory_state():
    with YubiHsm.connect(URL) as hsm:
        s = hsm.create_session_derived(1, "password")
        Opaque.put(s, 0, "gone after reset", 1, CAPABILITY.NONE, ALGORITHM.OPAQUE_DATA, b"x")
        s.reset_device()
    with YubiHsm.connect(URL) as hsm:
        with hsm.create_session_derived(1, "password") as s:
            objects = s.list_objects()
            assert [(o.id, o.object_type) for o in objects] == [(1, OBJECT.AUTHENTICATION_KEY)]
            info = objects[0].get_info()
            assert info.label == "DEFAULT AUTHKEY CHANGE THIS ASAP"
            assert info.capabilities == info.delegated_capabilities
            _, _, logs = s.get_log_entries()
            assert logs[0].data == b"\0\1" + b"\xff" * 14
            assert logs[1].data == struct.pack("!HBHHHHBL", 2, 0, 0, 0xFFFF, 0, 0, 0, 0)

import pytest

from calls.phones import normalise_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("901234567", "+998901234567"),  # 9 local digits, as a PBX shows a local call
        ("998901234567", "+998901234567"),
        ("+998901234567", "+998901234567"),
        ("+998 90 123-45-67", "+998901234567"),
        ("(90) 123 45 67", "+998901234567"),
        ("0901234567", "+998901234567"),  # trunk prefix 0
        ("00998901234567", "+998901234567"),  # international prefix 00
        ("712000000", "+998712000000"),  # Tashkent landline
        ("+79161234567", "+79161234567"),
        ("89161234567", "+79161234567"),  # Russian number dialled with 8
    ],
)
def test_normalise_phone_gives_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", None, "101", "1050", "anonymous", "12345678901234567", "+998 12"])
def test_normalise_phone_rejects_extensions_and_garbage(raw):
    assert normalise_phone(raw) == ""

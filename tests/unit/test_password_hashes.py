"""Password hashes: argon2id through argon2-cffi, and every hash a ledger already holds (written
through passlib before) still verifies."""

from __future__ import annotations

import pytest

from orderproc.engine.security import HASH_PROFILES, PasswordHasher

PASSWORD = "correct horse battery"

# written by orderproc's earlier hasher (passlib's CryptContext, argon2 type ID) with each profile
WRITTEN_BY_PASSLIB = [
    ("$argon2id$v=19$m=1024,t=1,p=1$m9P63/u/VwoBQEgJ4TznnA$k1jzet5yRrEy/Zgl3kSvw/6hPE5vLmIeejrFKfPYSF8", PASSWORD),
    ("$argon2id$v=19$m=19456,t=2,p=1$cC5lTOndm/Oes3bOmdN6Dw$Vrj3IROZmHx9iLPIBx6hkgXw6gmbthVHEbZ9d8nUdMc", PASSWORD),
    ("$argon2id$v=19$m=1024,t=1,p=1$+b93TkkJQch5j5GyVqo1pg$wuNiHdbH2M5H8SYKXEBnhEuOH8gmwrQpzQr8zpJSTpU",
     "pässwörd ✓ 🔑"),
]


@pytest.mark.parametrize(("hashed", "password"), WRITTEN_BY_PASSLIB, ids=["fast", "strong", "unicode"])
def test_a_hash_passlib_wrote_verifies_with_its_password_only(hashed: str, password: str) -> None:
    hasher = PasswordHasher("fast")  # a hash carries its own parameters
    assert hasher.verify(password, hashed)
    assert not hasher.verify(password + "!", hashed)


@pytest.mark.parametrize("profile", sorted(HASH_PROFILES))
def test_a_new_hash_is_argon2id_with_the_profile_s_parameters(profile: str) -> None:
    hashed = PasswordHasher(profile).hash(PASSWORD)
    params = HASH_PROFILES[profile]
    assert hashed.startswith(f"$argon2id$v=19$m={params['memory_cost']},t={params['time_cost']},"
                             f"p={params['parallelism']}$")
    assert PasswordHasher("fast").verify(PASSWORD, hashed)


@pytest.mark.parametrize("hashed", ["", "garbage", "$argon2id$v=19$m=1024,t=1,p=1$xx$yy", "$2b$12$notbcrypt"])
def test_something_that_is_not_a_hash_fails_to_verify_without_raising(hashed: str) -> None:
    assert PasswordHasher("fast").verify(PASSWORD, hashed) is False


def test_no_hash_at_all_fails_after_the_same_work() -> None:
    assert PasswordHasher("fast").verify(PASSWORD, None) is False

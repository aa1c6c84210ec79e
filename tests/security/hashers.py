"""A password hasher that counts its work, to prove every login failure costs one hash."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class CountingArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 (light parameters: the tests count hashes, they do not time them)."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1
    hashes = 0

    def encode(self, password, salt):
        type(self).hashes += 1
        return super().encode(password, salt)

    def verify(self, password, encoded):
        type(self).hashes += 1
        return super().verify(password, encoded)

"""The settings of the apps the suite starts (tests.live): the app's own, but for the
password hasher.

The app hashes with PBKDF2 at Django's full count, about half a second of CPU for each
password it sets or checks; the browser tests sign in through the form dozens of times a
run, and each sign-in waited on it. Here, as in the suite's own process (conftest's
quick_password_hashing), a password is hashed in one step: no test is about the hasher's
cost, and every other setting stays the app's.
"""

from storyboard.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""Log lines never carry the secret part of a link or an invitation."""

import logging
import re

SECRET_PATHS = re.compile(r"(/(?:s|invitations)/)[^/\s?\"']+")


class RedactSecrets(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        redacted = SECRET_PATHS.sub(r"\1[secret]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True

"""`careloop inbound reprocess` (README, Command line)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_reprocess_failed_with_none_failed_is_not_an_error() -> None:
    """`reprocess --failed` reprocesses every failed message: none failed is nothing to do
    (a cron job running it must not report a failure when all is well)."""
    out = StringIO()
    call_command("inbound", "reprocess", "--failed", stdout=out)
    assert out.getvalue().strip() == "no failed messages"


def test_reprocess_without_ids_or_failed_is_refused() -> None:
    with pytest.raises(CommandError, match="give message ids, or --failed"):
        call_command("inbound", "reprocess", stdout=StringIO())

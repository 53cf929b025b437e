"""AWS-style access keys: the secret is derived, never stored, and checks revocation and the master."""

from __future__ import annotations

import stat
from pathlib import Path

from framewarden.config import Settings
from framewarden.store import keys as repo
from framewarden.store.db import open_database


def test_aws_keys_derive_verify_and_revoke(isolated_settings: Path) -> None:
    settings = Settings(data_dir=isolated_settings)
    master = repo.load_key_master(settings)
    assert repo.load_key_master(settings) == master  # kept, not regenerated
    assert stat.S_IMODE((isolated_settings / "aws-key-master").stat().st_mode) == 0o600
    db = open_database(settings)
    try:
        with db.begin() as session:
            row, key_id, secret = repo.create_aws_key(session, name="uploader", role="ingest", master=master)
        assert repo.is_aws_key_id(key_id) and len(secret) == 40
        assert secret not in (row.key_hash, row.prefix)
        with db.begin() as session:
            found = repo.aws_key_secret(session, access_key_id=key_id, master=master)
            assert found is not None and found[1] == secret and found[0].role == "ingest"
            assert repo.aws_key_secret(session, access_key_id=key_id, master=b"another master") is None
            assert repo.aws_key_secret(session, access_key_id="FWAK" + "Z" * 16, master=master) is None
            # an AWS key id is not an API key, and an API key is not an AWS key id
            assert repo.verify_key(session, key=key_id) is None
            repo.revoke_key(session, key_id=row.id)
        with db.begin() as session:
            assert repo.aws_key_secret(session, access_key_id=key_id, master=master) is None
    finally:
        db.close()
    configured = Settings(data_dir=isolated_settings, aws_key_master="from-settings")
    assert repo.load_key_master(configured) == b"from-settings"

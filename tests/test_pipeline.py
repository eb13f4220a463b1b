"""The pipeline's unit of work can be fanned out over processes unchanged."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from clientdocs import copy_samples

from tenant_migrator import discovery, validation
from tenant_migrator.pipeline import load_tenants, process_client_file
from tenant_migrator.settings import Settings


def test_results_pickle_round_trip(tmp_path):
    project = copy_samples(tmp_path)
    result = load_tenants(Settings(project))
    restored = pickle.loads(pickle.dumps(result))
    assert restored == result
    # The literal survives pickling (a pool must ship it back for --secrets-out) ...
    africastay = restored.results[0]
    assert any(s.literal for s in africastay.secrets)
    # ... but never shows in a repr.
    assert "fake-smtp-password-not-real" not in repr(africastay)


def test_process_pool_gives_the_same_results_as_one_process(tmp_path):
    project = copy_samples(tmp_path)
    settings = Settings(project)
    files = discovery.discover(settings.clients_dir).files
    schema_path, _ = validation.locate_schema(settings.schema_path)
    serial = [process_client_file(f, schema_path) for f in files]
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = list(pool.map(partial(process_client_file, schema_path=schema_path), files))
    assert parallel == serial
    assert [[s.literal for s in r.secrets] for r in parallel] == [
        [s.literal for s in r.secrets] for r in serial
    ]

"""Shared test settings: hypothesis profile sized for a 2-core CI machine."""

import os
import tempfile

from hypothesis import HealthCheck, settings

# numba's on-disk cache goes outside the checkout (children inherit it too).
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tapegrad-numba"))

settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("ci")

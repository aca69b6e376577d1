"""tierwise: predict who is about to lapse and what each customer is worth.

The package reads like the pipeline: :mod:`tierwise.features` ->
:mod:`tierwise.training` -> :mod:`tierwise.inference`.
"""

from tierwise.config import TierwiseConfig, load_config
from tierwise.errors import ConfigError, InputDataError, TierwiseError

__all__ = ["ConfigError", "InputDataError", "TierwiseConfig", "TierwiseError", "load_config"]
__version__ = "0.1.0"

"""MLflow runs this file to load a tierwise model logged as a pyfunc (models from code); nothing imports it."""

from mlflow.models import set_model

from tierwise.models._pyfunc import TierwiseModel

set_model(TierwiseModel())

"""MLflow runs this file to load the tierwise scorer logged as a pyfunc (models from code); nothing imports it."""

from mlflow.models import set_model

from tierwise.models._pyfunc import TierwiseScorer

set_model(TierwiseScorer())

"""The hooks shared by meta-model repurposers whose meta-model is a scikit-learn classifier."""
from abc import abstractmethod

from .meta_model_repurposer import MetaModelRepurposer
from .serialization import (encode_estimator, is_xfer11_estimator, restore_estimator, restore_xfer11_estimator,
                            warn_xfer11_file)


class SklearnRepurposer(MetaModelRepurposer):
    """A meta-model repurposer around a scikit-learn classifier; subclasses say which in :meth:`_new_model`.

    The fitted classifier is saved as plain JSON numbers (its fitted attributes), never pickled.
    """

    @abstractmethod
    def _new_model(self):
        """An unfitted scikit-learn classifier configured from this repurposer's arguments."""

    def _train_model_from_features(self, features, labels, feature_indices_per_layer=None):
        return self._new_model().fit(features, labels)

    def _trained_feature_count(self):
        return int(self.target_model.n_features_in_)

    def _predict_probability_from_features(self, features):
        return self.target_model.predict_proba(features)

    def _predict_label_from_features(self, features):
        return self.target_model.predict(features)

    def serialize(self, file_prefix):
        return encode_estimator(self.target_model)

    def deserialize(self, input_dict):
        path, target_model = input_dict['json_path'], input_dict['target_model']
        if is_xfer11_estimator(target_model):
            warn_xfer11_file(path)
            self.target_model = restore_xfer11_estimator(self._new_model(), target_model, path)
        else:
            self.target_model = restore_estimator(self._new_model(), target_model, path)

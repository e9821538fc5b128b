"""Fine-tuning: the source network up to a layer, a new output layer, all trained on the target."""
import mxnet as mx

from . import validation
from .model_handler import ModelHandler
from .neural_network_repurposer import NeuralNetworkRepurposer, classifier_head


class NeuralNetworkFineTuneRepurposer(NeuralNetworkRepurposer):
    """Keep the source layers up to and including ``transfer_layer_name``, add a fully connected
    layer of ``target_class_count`` units and a softmax output, and train the whole network.

    Parameters
    ----------
    transfer_layer_name : str
        The last source layer to keep.
    target_class_count : int
        Classes of the target task.
    transferred_learning_rate_multiplier : float, default 1.0
        Scales the learning rate of the transferred params (e.g. 0.1 to move them a tenth as far
        as the new layer's); 1.0 trains all alike, as the original Xfer did. New in xfer.
    unfreeze_stages : list of list of str, optional
        Progressive fine-tuning (new in xfer): first only the new layer trains, every transferred
        layer frozen; then each stage unfreezes its layers, top first, e.g.
        ``[['fc1'], ['conv2'], ['conv1']]``, for ``num_epochs`` epochs each, at the learning rate
        scaled by ``transferred_learning_rate_multiplier``. Layers no stage names stay frozen.
        Use it with few labels or a source close to the target, where training every layer at
        once would overwrite what the source learned before the new layer has settled.
    """

    def __init__(self, source_model, transfer_layer_name, target_class_count, context_function=mx.context.cpu,
                 num_devices=1, batch_size=64, num_epochs=5, optimizer='sgd', optimizer_params=None,
                 transferred_learning_rate_multiplier=1.0, unfreeze_stages=None, kvstore='device'):
        super().__init__(source_model, context_function, num_devices, batch_size, num_epochs, optimizer,
                         optimizer_params, kvstore)
        self.transfer_layer_name = transfer_layer_name
        self.target_class_count = validation.check_target_class_count(target_class_count)
        self.transferred_learning_rate_multiplier = validation.check_number(
            'transferred_learning_rate_multiplier', transferred_learning_rate_multiplier, inclusive=True)
        _check_stages(unfreeze_stages)
        self.unfreeze_stages = unfreeze_stages

    def get_params(self):
        return dict(super().get_params(), transfer_layer_name=self.transfer_layer_name,
                    target_class_count=self.target_class_count,
                    transferred_learning_rate_multiplier=self.transferred_learning_rate_multiplier,
                    unfreeze_stages=self.unfreeze_stages)

    def _create_target_module(self, train_iterator):
        handler, transferred = self._target_handler(train_iterator)
        return handler.get_module(train_iterator, learning_rate_multipliers=self._multipliers(transferred))

    def _target_modules(self, train_iterator):
        """One module per stage of progressive fine-tuning, each starting from the last one's params."""
        if not self.unfreeze_stages:
            yield from super()._target_modules(train_iterator)
            return
        handler, transferred = self._target_handler(train_iterator)
        unfrozen = []
        for stage in [[]] + self.unfreeze_stages:
            unfrozen += handler.get_layer_parameters(stage)
            module = handler.get_module(train_iterator,
                                        fixed_layer_parameters=[name for name in transferred if name not in unfrozen],
                                        learning_rate_multipliers=self._multipliers(unfrozen))
            yield module
            arg_params, aux_params = module.get_params()
            handler.arg_params = {name: value.copy() for name, value in arg_params.items()}
            handler.aux_params = {name: value.copy() for name, value in aux_params.items()}

    def _total_epochs(self):
        return self.num_epochs * (1 + len(self.unfreeze_stages or []))

    def _target_handler(self, train_iterator):
        """The source cut at ``transfer_layer_name`` with the new head, and the names of its transferred params."""
        handler = ModelHandler(self.source_model, self.context_function, self.num_devices)
        layer_names = handler.layer_names
        if self.transfer_layer_name not in layer_names:
            raise ValueError("transfer_layer_name '{}' is not a layer of the source model; its layers are {}".format(
                self.transfer_layer_name, layer_names))
        handler.drop_layers_above(self.transfer_layer_name)
        transferred = handler.get_layer_parameters(handler.layer_names)
        handler.add_layer_top(classifier_head(train_iterator, self.target_class_count))
        return handler, transferred

    def _multipliers(self, names):
        return {name: self.transferred_learning_rate_multiplier for name in names}


def _check_stages(unfreeze_stages):
    if unfreeze_stages is None:
        return
    if not isinstance(unfreeze_stages, list) or not all(
            isinstance(stage, list) and all(isinstance(name, str) for name in stage) for stage in unfreeze_stages):
        raise TypeError('unfreeze_stages must be a list of lists of layer names, e.g. [[\'fc1\'], [\'conv2\']], '
                        'got {!r}'.format(unfreeze_stages))

"""Fine-tuning: the source network up to a layer, a new output layer, all trained on the target."""
import mxnet as mx

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
    """

    def __init__(self, source_model, transfer_layer_name, target_class_count, context_function=mx.context.cpu,
                 num_devices=1, batch_size=64, num_epochs=5, optimizer='sgd', optimizer_params=None,
                 transferred_learning_rate_multiplier=1.0):
        super().__init__(source_model, context_function, num_devices, batch_size, num_epochs, optimizer,
                         optimizer_params)
        self.transfer_layer_name = transfer_layer_name
        self.target_class_count = target_class_count
        self.transferred_learning_rate_multiplier = transferred_learning_rate_multiplier

    def get_params(self):
        return dict(super().get_params(), transfer_layer_name=self.transfer_layer_name,
                    target_class_count=self.target_class_count,
                    transferred_learning_rate_multiplier=self.transferred_learning_rate_multiplier)

    def _create_target_module(self, train_iterator):
        handler = ModelHandler(self.source_model, self.context_function, self.num_devices)
        layer_names = handler.layer_names
        if self.transfer_layer_name not in layer_names:
            raise ValueError("transfer_layer_name '{}' is not a layer of the source model; its layers are {}".format(
                self.transfer_layer_name, layer_names))
        layers_above = len(layer_names) - 1 - layer_names.index(self.transfer_layer_name)
        if layers_above:
            handler.drop_layer_top(layers_above)
        transferred = handler.get_layer_parameters(handler.layer_names)
        handler.add_layer_top(classifier_head(train_iterator, self.target_class_count))
        return handler.get_module(train_iterator, learning_rate_multipliers={
            name: self.transferred_learning_rate_multiplier for name in transferred})

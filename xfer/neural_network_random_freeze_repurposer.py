"""Fine-tuning with chosen layers frozen and others re-initialised."""
import mxnet as mx

from . import validation
from .model_handler import ModelHandler
from .neural_network_repurposer import NeuralNetworkRepurposer, classifier_head


class NeuralNetworkRandomFreezeRepurposer(NeuralNetworkRepurposer):
    """Drop ``num_layers_to_drop`` layers from the top, add a fully connected layer and a softmax
    output, freeze the params of ``fixed_layers``, re-initialise those of ``random_layers``, train.

    Parameters
    ----------
    target_class_count : int
        Classes of the target task.
    fixed_layers : list of str
        Layers whose params stay as transferred.
    random_layers : list of str
        Layers whose params are freshly initialised instead of transferred.
    num_layers_to_drop : int, default 2
    transferred_learning_rate_multiplier : float, default 1.0
        Scales the learning rate of the params transferred and not frozen. New in xfer.
    """

    def __init__(self, source_model, target_class_count, fixed_layers, random_layers, num_layers_to_drop=2,
                 context_function=mx.context.cpu, num_devices=1, batch_size=64, num_epochs=5, optimizer='sgd',
                 optimizer_params=None, transferred_learning_rate_multiplier=1.0, kvstore='device'):
        super().__init__(source_model, context_function, num_devices, batch_size, num_epochs, optimizer,
                         optimizer_params, kvstore)
        for name, layers in (('fixed_layers', fixed_layers), ('random_layers', random_layers)):
            if not isinstance(layers, list):
                raise TypeError('{} must be a list of layer names, got {}'.format(name, type(layers).__name__))
        self.target_class_count = validation.check_target_class_count(target_class_count)
        self.fixed_layers = fixed_layers
        self.random_layers = random_layers
        self.num_layers_to_drop = validation.check_integer('num_layers_to_drop', num_layers_to_drop)
        self.transferred_learning_rate_multiplier = validation.check_number(
            'transferred_learning_rate_multiplier', transferred_learning_rate_multiplier, inclusive=True)

    def get_params(self):
        return dict(super().get_params(), target_class_count=self.target_class_count, fixed_layers=self.fixed_layers,
                    random_layers=self.random_layers, num_layers_to_drop=self.num_layers_to_drop,
                    transferred_learning_rate_multiplier=self.transferred_learning_rate_multiplier)

    def _create_target_module(self, train_iterator):
        handler = ModelHandler(self.source_model, self.context_function, self.num_devices)
        handler.drop_layer_top(self.num_layers_to_drop)
        fixed = handler.get_layer_parameters(self.fixed_layers)
        random = handler.get_layer_parameters(self.random_layers)
        transferred = set(handler.get_layer_parameters(handler.layer_names)) - set(fixed) - set(random)
        handler.add_layer_top(classifier_head(train_iterator, self.target_class_count))
        return handler.get_module(train_iterator, fixed_layer_parameters=fixed, random_layer_parameters=random,
                                  learning_rate_multipliers={name: self.transferred_learning_rate_multiplier
                                                             for name in transferred})

"""Names shared by the graph-editing code: MXNet operator types and naming conventions."""

#: Operator name of a graph input (data, label or parameter variable) in MXNet's symbol JSON.
VARIABLE_OP = 'null'
#: Suffix MXNet gives to the label input of a loss layer (``softmax`` -> ``softmax_label``).
LABEL_SUFFIX = '_label'
#: Suffix of a layer's output in ``Symbol.get_internals()`` (``fc1`` -> ``fc1_output``).
OUTPUT_SUFFIX = '_output'

CONVOLUTION = 'Convolution'
FULLY_CONNECTED = 'FullyConnected'
ACTIVATION = 'Activation'
POOLING = 'Pooling'
BATCH_NORM = 'BatchNorm'
DROPOUT = 'Dropout'
FLATTEN = 'Flatten'
SOFTMAX_OUTPUT = 'SoftmaxOutput'
#: Operators that add their inputs element-wise: where a residual connection rejoins the network.
SUM_TYPES = ('elemwise_add', '_Plus', '_plus', 'broadcast_add', 'add_n', 'ElementWiseSum')

#: Initializer of new and re-initialised parameters, as in the original Xfer.
XAVIER_ARGS = {'rnd_type': 'gaussian', 'factor_type': 'in', 'magnitude': 2}

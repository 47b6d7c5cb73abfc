"""Small real data sets shipped inside the package: nothing is downloaded at run time.

Examples:
    >>> from tapegrad import datasets
    >>> x, y = datasets.load_digits()
    >>> x.shape, y.shape
    ((1797, 8, 8), (1797,))
"""

from tapegrad.datasets.digits import load_digits

__all__ = ["load_digits"]

"""``ResultIterable``: the values of one key after ``groupByKey``/``cogroup``, as PySpark's."""

from collections.abc import Iterable


class ResultIterable(Iterable):
    """An iterable over a list of values that also has a length."""

    def __init__(self, data):
        self.data = data
        self.index = 0
        self.maxindex = len(data)

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)

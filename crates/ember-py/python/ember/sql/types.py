"""SQL types used by rows: ``Row``, as PySpark's ``pyspark.sql.types.Row``."""

from __future__ import annotations

__all__ = ["Row"]


class Row(tuple):
    """A row of a DataFrame: a tuple whose fields also have names.

    >>> r = Row(word="hello", total=2)
    >>> r.word, r["total"], r
    ('hello', 2, Row(word='hello', total=2))
    >>> Person = Row("name", "age")   # a row factory, as in PySpark
    >>> Person("Ann", 3)
    Row(name='Ann', age=3)
    """

    def __new__(cls, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Can not use both args and kwargs to create Row")
        if kwargs:
            row = tuple.__new__(cls, list(kwargs.values()))
            row.__fields__ = list(kwargs)
            return row
        row = tuple.__new__(cls, args)
        row.__fields__ = None
        return row

    @classmethod
    def _make(cls, fields, values):
        row = tuple.__new__(cls, values)
        row.__fields__ = list(fields) if fields else None
        return row

    def asDict(self, recursive: bool = False) -> dict:
        if not self.__fields__:
            raise TypeError("Cannot convert a Row class into dict")

        def conv(x):
            if recursive and isinstance(x, Row):
                return x.asDict(True)
            if recursive and isinstance(x, list):
                return [conv(v) for v in x]
            if recursive and isinstance(x, dict):
                return {k: conv(v) for k, v in x.items()}
            return x

        return {k: conv(v) for k, v in zip(self.__fields__, self)}

    def __contains__(self, item):
        if self.__fields__:
            return item in self.__fields__
        return super().__contains__(item)

    def __call__(self, *args):
        """A row factory (``Row("name", "age")``) makes rows with these field names."""
        if len(args) > len(self):
            raise ValueError("Can not create Row with fields %s, expected %d values but got %s"
                             % (self, len(self), args))
        return Row._make(list(self), args)

    def __getitem__(self, item):
        if isinstance(item, (int, slice)):
            return super().__getitem__(item)
        try:
            return super().__getitem__(self.__fields__.index(item))
        except (IndexError, ValueError, AttributeError):
            raise ValueError(item) from None

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        try:
            return self[self.__fields__.index(item)]
        except (IndexError, ValueError, AttributeError):
            raise AttributeError(item) from None

    def __setattr__(self, key, value):
        if key != "__fields__":
            raise RuntimeError("Row is read-only")
        self.__dict__[key] = value

    def __reduce__(self):
        return (Row._make, (self.__fields__, tuple(self)))

    def __repr__(self):
        if self.__fields__:
            return "Row(%s)" % ", ".join("%s=%r" % (k, v) for k, v in zip(self.__fields__, self))
        return "<Row(%s)>" % ", ".join(repr(v) for v in self)
